// Snapshots: a whole table as messages, and the receiving side that checks and rebuilds it.
//
//   nexthops · snapshotBegin(family, routes, digest) · snapshotChunk × n · snapshotEnd(chunks, digest)
//
// Chunks carry wire routes (assembly/routecodec.ts), each decodable on its own, sized to
// fit a frame. The receiver decodes chunks in order into a table of its own and accepts the
// snapshot only when the chunk count and the rebuilt table's digest match the end message.

import { Fib, RouteCodecError } from "../fib.ts";
import type { Family } from "../netip.ts";
import { NextHopTable } from "../nexthops.ts";
import { FRAME_OVERHEAD, MAX_FRAME } from "./frame.ts";
import type { Message, NextHopEntry } from "./messages.ts";

/** Route bytes in a chunk: a frame, less its header, CRC and the chunk's own fields. */
export const CHUNK_BYTES = MAX_FRAME - FRAME_OVERHEAD - 32;

export interface SnapshotOptions {
  snapshot: number;
  sequence: number;
  families?: Family[];
}

/**
 * The next-hop table as nexthops messages, each within a frame: all of it, or (from a log
 * position, see NextHopTable.version) only what was defined since.
 */
export function* nexthopsMessages(nexthops: NextHopTable, since = 0): Generator<Message> {
  let entries: NextHopEntry[] = [];
  let bytes = 0;
  for (const h of nexthops.since(since)) {
    const entry = { id: h.id, name: h.name, interface: h.interface ?? "", members: [...(h.members ?? [])] };
    // An upper bound of the entry's encoding: varints of up to 4 bytes, UTF-8 up to 3 bytes a character.
    const size = 4 + 4 + 3 * entry.name.length + 4 + 3 * entry.interface.length + 4 + 4 * entry.members.length;
    if (entries.length > 0 && bytes + size > CHUNK_BYTES) {
      yield { type: "nexthops", entries };
      entries = [];
      bytes = 0;
    }
    entries.push(entry);
    bytes += size;
  }
  if (entries.length > 0) yield { type: "nexthops", entries };
}

/** The messages of a snapshot of `fib`. The table must not change until the generator is done. */
export function* snapshotMessages(fib: Fib, nexthops: NextHopTable, options: SnapshotOptions): Generator<Message> {
  yield* nexthopsMessages(nexthops);
  for (const family of options.families ?? [4, 6] as Family[]) {
    const { snapshot, sequence } = options;
    const digest = fib.digest(family);
    yield { type: "snapshotBegin", snapshot, family, routes: fib.count(family), digest, sequence };
    let index = 0;
    for (const { bytes, count } of fib.snapshotChunks(family, CHUNK_BYTES)) {
      yield { type: "snapshotChunk", snapshot, index: index++, family, count, data: bytes };
    }
    yield { type: "snapshotEnd", snapshot, family, chunks: index, digest };
  }
}

/** Why a snapshot was not accepted. */
export class SnapshotError extends Error {
  override name = "SnapshotError";
}

export interface ReceivedSnapshot {
  family: Family;
  snapshot: number;
  routes: number;
  digest: bigint;
}

/**
 * Rebuilds tables from snapshot messages into `fib` (which should start empty for the
 * families it receives). feed() returns a finished snapshot at its end message, a
 * SnapshotError for a message that breaks the snapshot (which is then abandoned), or
 * undefined.
 */
export class SnapshotReceiver {
  readonly nexthops = new Map<number, NextHopEntry>();
  private current = new Map<Family, { snapshot: number; next: number; routes: number; digest: bigint }>();

  constructor(private readonly fib: Fib) {}

  feed(m: Message): ReceivedSnapshot | SnapshotError | undefined {
    switch (m.type) {
      case "nexthops":
        for (const e of m.entries) this.nexthops.set(e.id, e);
        return undefined;
      case "snapshotBegin":
        this.fib.clear(m.family);
        this.current.set(m.family, { snapshot: m.snapshot, next: 0, routes: m.routes, digest: m.digest });
        return undefined;
      case "snapshotChunk": {
        const s = this.current.get(m.family);
        if (!s || s.snapshot !== m.snapshot) return this.abandon(m.family, `chunk of snapshot ${m.snapshot} without its begin`);
        if (m.index !== s.next) return this.abandon(m.family, `chunk ${m.index} where ${s.next} was due`);
        const records = this.fib.decodeRoutes(m.family, m.data, m.count, false);
        if (records instanceof RouteCodecError) return this.abandon(m.family, `chunk ${m.index}: ${records.message}`);
        const applied = this.fib.applyRecords(m.family, records);
        if (applied !== m.count) return this.abandon(m.family, `chunk ${m.index}: ${m.count - applied} routes did not fit in memory`);
        s.next++;
        return undefined;
      }
      case "snapshotEnd": {
        const family = m.family;
        const s = this.current.get(family);
        if (!s || s.snapshot !== m.snapshot) return new SnapshotError(`end of snapshot ${m.snapshot} without its begin`);
        this.current.delete(family);
        if (m.chunks !== s.next) return new SnapshotError(`snapshot ${m.snapshot}: ${s.next} of ${m.chunks} chunks arrived`);
        const digest = this.fib.digest(family);
        if (digest !== m.digest || digest !== s.digest) {
          return new SnapshotError(`snapshot ${m.snapshot}: the rebuilt IPv${family} table's digest ${hex(digest)} is not the sender's ${hex(m.digest)}`);
        }
        return { family, snapshot: m.snapshot, routes: this.fib.count(family), digest };
      }
      default:
        return undefined;
    }
  }

  private abandon(family: Family, reason: string): SnapshotError {
    this.current.delete(family);
    return new SnapshotError(reason);
  }

  /** How a next-hop id was written by the sender ("#id" if the sender did not say). */
  name(id: number): string {
    return this.nexthops.get(id)?.name ?? `#${id}`;
  }
}

function hex(d: bigint): string {
  return d.toString(16).padStart(16, "0");
}
