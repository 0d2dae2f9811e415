// Copies of a subset of the table (resync by copy), encoded once for every client that asks
// for the same one while the table stands still. The line cards of a chassis start
// together and ask a route processor for the same subset within a second: each would
// otherwise freeze the table (a copy of the firmware's memory) and walk, encode and frame
// every route again.
//
// A copy is made lazily, frame by frame, as its first reader asks for the next one; later
// readers take the frames already made and carry on making them where the others stopped.
// It is kept while the table, its next hops and the feed's sequence stay as they were; the
// first change starts a new one (a reader still sending the old one keeps it to the end).

import type { Fib } from "../fib.ts";
import type { NextHopTable } from "../nexthops.ts";
import { encodeMessage, type Subset } from "../wire/messages.ts";
import { streamBytes } from "../wire/frame.ts";
import { snapshotMessages } from "../wire/snapshot.ts";

/** One copy's frames, encoded for a byte stream; frame(i) makes them up to i as needed. */
export class SharedCopy {
  private readonly frames: Uint8Array[] = [];

  /** `source`: the copy's frames, dropped (and with it the frozen table) once all are made. */
  constructor(private source: Iterator<Uint8Array> | undefined) {}

  /** Frame i of the copy, or undefined past its last. */
  frame(i: number): Uint8Array | undefined {
    while (this.frames.length <= i && this.source) {
      const next = this.source.next();
      if (next.done) this.source = undefined;
      else this.frames.push(next.value);
    }
    return this.frames[i];
  }
}

export class CopyCache {
  private kept: { key: string; copy: SharedCopy } | undefined;

  constructor(private readonly fib: Fib, private readonly nexthops: NextHopTable) {}

  /** The copy of `subset` as the table stands now, its snapshot marked `sequence`. */
  copy(subset: Subset, sequence: number): SharedCopy {
    const key = JSON.stringify([
      subset.families, subset.vrfs, subset.prefixes.map(String), sequence,
      this.fib.generation(4), this.fib.generation(6), this.nexthops.version,
    ]);
    if (this.kept?.key === key) return this.kept.copy;
    const copy = new SharedCopy(frames(this.fib.frozen(), this.nexthops, subset, sequence));
    this.kept = { key, copy };
    return copy;
  }
}

function* frames(table: Fib, nexthops: NextHopTable, subset: Subset, sequence: number): Generator<Uint8Array> {
  for (const m of snapshotMessages(table, nexthops, { snapshot: 1, sequence, subset })) yield streamBytes(encodeMessage(m));
}
