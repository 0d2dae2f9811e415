// Copies of a subset of the table (resync by copy), encoded once for every client that asks
// for the same one while the table stands still. The line cards of a chassis start
// together and ask a route processor for the same subset within a second: each would
// otherwise walk, encode and frame every route again.
//
// A copy is encoded whole when first asked for: the snapshot is of that moment, and the
// clients take its frames in slices while the table changes. Encoding a million routes
// takes about 60 ms, less than copying the firmware's memory to walk later (Fib.frozen)
// would, and holds a twelfth of the bytes. It is kept while the table, its next hops and
// the feed's sequence stay as they were; the first change starts a new one (a reader
// still sending the old one keeps it to the end).

import type { Fib } from "../fib.ts";
import type { NextHopTable } from "../nexthops.ts";
import { encodeMessage, type Subset } from "../wire/messages.ts";
import { streamBytes } from "../wire/frame.ts";
import { snapshotMessages } from "../wire/snapshot.ts";

export class CopyCache {
  private kept: { key: string; frames: readonly Uint8Array[] } | undefined;

  constructor(private readonly fib: Fib, private readonly nexthops: NextHopTable) {}

  /** The frames of a copy of `subset` as the table stands now, its snapshot marked `sequence`. */
  copy(subset: Subset, sequence: number): readonly Uint8Array[] {
    const key = JSON.stringify([
      subset.families, subset.vrfs, subset.prefixes.map(String), sequence,
      this.fib.generation(4), this.fib.generation(6), this.nexthops.version,
    ]);
    if (this.kept?.key === key) return this.kept.frames;
    const frames = [...snapshotMessages(this.fib, this.nexthops, { snapshot: 1, sequence, subset })].map((m) => streamBytes(encodeMessage(m)));
    this.kept = { key, frames };
    return frames;
  }
}
