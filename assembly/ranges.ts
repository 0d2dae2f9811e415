// Range digests: the digest of a table over pieces of the address space, so that two nodes
// find where their tables differ by exchanging digests, not tables.
//
// A range is a prefix P and a minimum length: the routes whose address lies in P and that
// are at least that long. Split d levels down, it has 2^d pieces: piece i holds the routes
// of the range whose address lies in the i-th of the 2^d equal parts of P. A route belongs
// to the piece it starts in, however far it reaches, so a piece split further is a range
// of its own, and a digest of a range is the sum of its pieces': descend into the pieces
// that differ, Merkle-style. Each digest is the sum of its routes' hashes (digest.ts), and
// each piece also counts its routes.
//
// Output at `out`, for n = 2^d pieces:
//
//   ┌ n × digest u64 ┬ n × count u32 ┐
//
// A host that asks for many ranges of one table (a digest resync) walks it once instead and
// sums short hashes (shortHashes, host/rangeindex.ts): the low 32 bits of a range digest
// are the sum of the low 32 bits of its routes' hashes.

import { Table } from "./table";
import { iterBeginBounded, iterNext } from "./iter";
import { routeHash } from "./digest";
import { recordSize, recordLen, recordHi, recordLo, recordNh } from "./records";

/** Deepest split: 2^12 pieces. */
export const MAX_DEPTH: u32 = 12;

/** Bits [o, o + n) of (hi, lo), n ≤ 12. */
@inline function bitsAt(hi: u64, lo: u64, o: u32, n: u32): u32 {
  if (n == 0) return 0;
  const w = o == 0 ? hi : o < 64 ? (hi << o) | (lo >> (64 - o)) : lo << (o - 64);
  return <u32>(w >> (64 - n));
}

/** True if (hi, lo) agrees with (ph, pl) on the first plen bits. */
@inline function within(hi: u64, lo: u64, ph: u64, pl: u64, plen: u32): bool {
  if (plen == 0) return true;
  if (plen <= 64) return (hi ^ ph) >> (64 - plen) == 0;
  return hi == ph && (lo ^ pl) >> (128 - plen) == 0;
}

/** Whether P (ph:pl/plen) split depth levels down fits the family's width. */
function validRange(t: Table, plen: u32, depth: u32): bool {
  return depth <= MAX_DEPTH && plen + depth <= t.width;
}

/** Zeroes the digests and counts of 2^depth pieces at `out`. */
function piecesClear(out: usize, depth: u32): void {
  memory.fill(out, 0, (<usize>1 << depth) * 12);
}

/**
 * Adds the n records at `records` in the range (address in P, at least minLen long) to the
 * digests and counts of their pieces at `out`; other records are passed over.
 */
function piecesAdd(family: u32, records: usize, n: u32, ph: u64, pl: u64, plen: u32, minLen: u32, depth: u32, out: usize): void {
  const size = recordSize(family);
  const counts = out + ((<usize>1 << depth) << 3);
  for (let i: u32 = 0; i < n; i++) {
    const r = records + <usize>i * size;
    const len = recordLen(r);
    if (len < minLen) continue;
    const hi = recordHi(r, family);
    const lo = recordLo(r, family);
    if (!within(hi, lo, ph, pl, plen)) continue;
    const slot = <usize>bitsAt(hi, lo, plen, depth);
    const at = out + (slot << 3);
    store<u64>(at, load<u64>(at) + routeHash(family, hi, lo, len, recordNh(r, family)));
    const c = counts + (slot << 2);
    store<u32>(c, load<u32>(c) + 1);
  }
}

/**
 * Begins a walk (iter.ts) of the routes whose address lies in P, along with some beside it
 * in nodes the walk emits whole (piecesAdd passes over those).
 */
function iterBeginInside(t: Table, ph: u64, pl: u64, plen: u32): u32 {
  const bits = t.bits;
  if (plen <= bits) {
    const first = plen == 0 ? 0 : <u32>(ph >> (64 - plen)) << (bits - plen);
    return iterBeginBounded(t, first, first + (1 << (bits - plen)), ph, pl, plen);
  }
  const first = <u32>(ph >> (64 - bits));
  return iterBeginBounded(t, first, first + 1, ph, pl, plen);
}

/**
 * Writes the digests and counts of table t's range (address in ph:pl/plen, at least minLen
 * long), split depth levels down, at `out`, walking only that part of the table. `scratch`
 * holds walk output (room for `room` records). Returns false if depth or plen is out of range.
 */
export function rangeDigests(t: Table, ph: u64, pl: u64, plen: u32, minLen: u32, depth: u32, out: usize, scratch: usize, room: u32): bool {
  if (!validRange(t, plen, depth)) return false;
  piecesClear(out, depth);
  const id = iterBeginInside(t, ph, pl, plen);
  while (true) {
    const n = iterNext(id, scratch, room);
    if (n <= 0) break;
    piecesAdd(t.family, scratch, <u32>n, ph, pl, plen, minLen, depth, out);
  }
  return true;
}

/**
 * The low 32 bits of the hash of each of the n change records at `records` (routeHash), as
 * n u32 at `out`.
 */
export function shortHashes(family: u32, records: usize, n: u32, out: usize): void {
  const size = recordSize(family);
  for (let i: u32 = 0; i < n; i++) {
    const r = records + <usize>i * size;
    store<u32>(out + (<usize>i << 2), <u32>routeHash(family, recordHi(r, family), recordLo(r, family), recordLen(r), recordNh(r, family)));
  }
}
