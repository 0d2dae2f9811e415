// Snapshots: a whole table as messages, and the receiving side that checks and rebuilds it.
//
//   nexthops · snapshotBegin(family, routes, digest) · snapshotChunk × n · snapshotEnd(chunks, digest)
//
// Chunks carry wire routes (assembly/routecodec.ts), each decodable on its own, sized to
// fit a frame. The receiver decodes chunks in order into sorted change records and takes
// the snapshot only when the chunk and route counts match; it checks the digest against
// the table it then holds. Update batches carry the same route bodies.

import { Fib, RouteCodecError, concatRecords, recordWords } from "../fib.ts";
import { subsetDigest, subsetRecords, wholeFamily } from "../node/subset.ts";
import type { Family } from "../netip.ts";
import { NextHopTable } from "../nexthops.ts";
import { FRAME_OVERHEAD, MAX_FRAME, streamBytes } from "./frame.ts";
import { encodeMessage, type Message, type NextHopEntry, type Subset } from "./messages.ts";

/** Route bytes in a chunk: a frame, less its header, CRC and the chunk's own fields. */
export const CHUNK_BYTES = MAX_FRAME - FRAME_OVERHEAD - 32;

export interface SnapshotOptions {
  /** The snapshot's id (on RP–RP links, the id of the source whose table it is). */
  snapshot: number;
  /** The sequence the updates that follow it continue from. */
  sequence: number;
  /** Families to send (default both). */
  families?: Family[];
  /** Only this part of the table (see host/node/subset.ts); default all of it. */
  subset?: Subset;
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

/**
 * The messages of a snapshot of `fib`: the next-hop table first when one is given. The
 * table must not change until the generator is done: a live one's snapshot is taken whole
 * at once (copies.ts), or read through a frozen copy (Fib.frozen).
 */
export function* snapshotMessages(fib: Fib, nexthops: NextHopTable | undefined, options: SnapshotOptions): Generator<Message> {
  const { snapshot, sequence, subset } = options;
  const families = options.families ?? subset?.families ?? [4, 6] as Family[];
  if (nexthops) yield* nexthopsMessages(nexthops);
  for (const family of families) {
    const whole = subset === undefined || wholeFamily(subset, family);
    const records = whole ? undefined : subsetRecords(fib, subset, family);
    const digest = whole ? fib.digest(family) : subsetDigest(fib, subset, family);
    const routes = records ? records.length / recordWords(family) : fib.count(family);
    yield { type: "snapshotBegin", snapshot, family, routes, digest, sequence };
    let index = 0;
    const chunks = records ? recordChunks(fib, family, records) : fib.snapshotChunks(family, CHUNK_BYTES);
    for (const { bytes, count } of chunks) {
      yield { type: "snapshotChunk", snapshot, index: index++, family, count, data: bytes };
    }
    yield { type: "snapshotEnd", snapshot, family, chunks: index, digest };
  }
}

/** Sorted change records as wire-route bodies of at most `chunkBytes` each (fib: any FIB, as the encoder). */
export function* recordChunks(fib: Fib, family: Family, records: Uint32Array, chunkBytes = CHUNK_BYTES): Generator<{ bytes: Uint8Array; count: number }> {
  const words = recordWords(family);
  for (let at = 0; at < records.length;) {
    const chunk = fib.encodeRoutes(family, records.subarray(at), chunkBytes);
    yield chunk;
    at += chunk.count * words;
  }
}

/** Bytes that sorted change records take on a byte stream as update batches (framed). */
export function updateBytes(fib: Fib, family: Family, records: Uint32Array): number {
  let n = 0;
  for (const m of numberedUpdates([...recordChunks(fib, family, records)], family, 0, 1)) n += streamBytes(encodeMessage(m)).length;
  return n;
}

/**
 * Update messages carrying sorted change records on `channel`, numbered from
 * `firstSequence` on: one message per CHUNK_BYTES of encoded routes, so a batch pays one
 * header per 64 KiB.
 */
export function* updateMessages(fib: Fib, family: Family, records: Uint32Array, channel: number, firstSequence: number): Generator<Message> {
  yield* numberedUpdates([...recordChunks(fib, family, records)], family, channel, firstSequence);
}

/** Update messages from route chunks already encoded (one encoding serves every client of a subset). */
export function* numberedUpdates(chunks: readonly { bytes: Uint8Array; count: number }[], family: Family, channel: number, firstSequence: number): Generator<Message> {
  let sequence = firstSequence;
  for (const { bytes, count } of chunks) yield { type: "update", channel, sequence: sequence++, family, count, data: bytes };
}

/** Why a snapshot was not accepted. */
export class SnapshotError extends Error {
  override name = "SnapshotError";
}

/** A snapshot received whole: its routes as sorted change records. */
export interface AssembledSnapshot {
  family: Family;
  snapshot: number;
  sequence: number;
  digest: bigint;
  records: Uint32Array;
}

/**
 * Collects snapshot messages into sorted change records, without touching any table: the
 * receiver then applies what differs from what it holds (or, empty, all of it). feed()
 * returns the whole snapshot at its end message, a SnapshotError for a message that
 * breaks it (the snapshot is then abandoned), or undefined. Next-hop entries are kept.
 * `decoder` is any FIB: only its route decoder is used.
 */
export class SnapshotAssembler {
  readonly nexthops = new Map<number, NextHopEntry>();
  private current = new Map<Family, { snapshot: number; sequence: number; next: number; routes: number; digest: bigint; parts: Uint32Array[] }>();

  constructor(private readonly decoder: Fib) {}

  /** Whether a snapshot has begun and not ended. */
  get underWay(): boolean {
    return this.current.size > 0;
  }

  feed(m: Message): AssembledSnapshot | SnapshotError | undefined {
    switch (m.type) {
      case "nexthops":
        for (const e of m.entries) this.nexthops.set(e.id, e);
        return undefined;
      case "snapshotBegin":
        this.current.set(m.family, { snapshot: m.snapshot, sequence: m.sequence, next: 0, routes: m.routes, digest: m.digest, parts: [] });
        return undefined;
      case "snapshotChunk": {
        const s = this.current.get(m.family);
        if (!s || s.snapshot !== m.snapshot) return this.abandon(m.family, `chunk of snapshot ${m.snapshot} without its begin`);
        if (m.index !== s.next) return this.abandon(m.family, `chunk ${m.index} where ${s.next} was due`);
        const records = this.decoder.decodeRoutes(m.family, m.data, m.count, false);
        if (records instanceof RouteCodecError) return this.abandon(m.family, `chunk ${m.index}: ${records.message}`);
        const words = recordWords(m.family);
        const prev = s.parts.at(-1);
        if (prev && prev.length > 0 && records.length > 0 && !before(m.family, prev, prev.length - words, records)) {
          return this.abandon(m.family, `chunk ${m.index}: routes out of order across chunks`);
        }
        s.parts.push(records);
        s.next++;
        return undefined;
      }
      case "snapshotEnd": {
        const s = this.current.get(m.family);
        if (!s || s.snapshot !== m.snapshot) return new SnapshotError(`end of snapshot ${m.snapshot} without its begin`);
        this.current.delete(m.family);
        if (m.chunks !== s.next) return new SnapshotError(`snapshot ${m.snapshot}: ${s.next} of ${m.chunks} chunks arrived`);
        const records = concatRecords(s.parts);
        const routes = records.length / recordWords(m.family);
        if (routes !== s.routes) return new SnapshotError(`snapshot ${m.snapshot}: ${routes} routes arrived of ${s.routes}`);
        if (m.digest !== s.digest) return new SnapshotError(`snapshot ${m.snapshot}: the end's digest ${hex(m.digest)} is not the begin's ${hex(s.digest)}`);
        return { family: m.family, snapshot: m.snapshot, sequence: s.sequence, digest: m.digest, records };
      }
      default:
        return undefined;
    }
  }

  private abandon(family: Family, reason: string): SnapshotError {
    this.current.delete(family);
    return new SnapshotError(reason);
  }
}

/** Whether the record at word i of `a` comes before the first record of `b`. */
function before(family: Family, a: Uint32Array, i: number, b: Uint32Array): boolean {
  for (let k = 1; k <= (family === 4 ? 1 : 4); k++) if (a[i + k] !== b[k]) return a[i + k] < b[k];
  return ((a[i] >>> 8) & 255) < ((b[0] >>> 8) & 255);
}

export interface ReceivedSnapshot {
  family: Family;
  snapshot: number;
  routes: number;
  digest: bigint;
}

/**
 * Rebuilds tables from snapshot messages into `fib`: at each snapshot's end the family is
 * replaced by what arrived, and accepted only if the rebuilt table's digest is the
 * sender's. feed() answers as SnapshotAssembler's does.
 */
export class SnapshotReceiver {
  private readonly assembler: SnapshotAssembler;

  constructor(private readonly fib: Fib) {
    this.assembler = new SnapshotAssembler(fib);
  }

  feed(m: Message): ReceivedSnapshot | SnapshotError | undefined {
    const got = this.assembler.feed(m);
    if (got === undefined || got instanceof SnapshotError) return got;
    const { family, snapshot, records, digest } = got;
    this.fib.clear(family);
    const applied = this.fib.applyRecords(family, records);
    const routes = records.length / recordWords(family);
    if (applied !== routes) return new SnapshotError(`snapshot ${snapshot}: ${routes - applied} routes did not fit in memory`);
    const have = this.fib.digest(family);
    if (have !== digest) return new SnapshotError(`snapshot ${snapshot}: the rebuilt IPv${family} table's digest ${hex(have)} is not the sender's ${hex(digest)}`);
    return { family, snapshot, routes, digest };
  }

  /** How a next-hop id was written by the sender ("#id" if the sender did not say). */
  name(id: number): string {
    return this.assembler.nexthops.get(id)?.name ?? `#${id}`;
  }
}

function hex(d: bigint): string {
  return d.toString(16).padStart(16, "0");
}
