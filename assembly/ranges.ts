// Range digests: the digest of a table over pieces of the address space, so that two nodes
// find where their tables differ by exchanging digests, not tables.
//
// For a prefix P and a depth d, the routes inside P no shorter than P split into
//   head      those shorter than P.len + d (they span several pieces), and
//   piece i   those starting in the i-th of the 2^d equal pieces of P, at least P.len + d long.
// Each digest is the sum of its routes' hashes (digest.ts), so the head and the pieces add
// up to P's own digest, and a piece's digest is its own P-digest with depth 0: descend into
// the pieces that differ, Merkle-style.

import { Table } from "./table";
import { iterBeginRange, iterNext } from "./iter";
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
  return hi == ph && (plen == 128 || (lo ^ pl) >> (128 - plen) == 0);
}

/**
 * Writes 1 + 2^depth u64 digests at `out` (head, then the pieces) for the routes of table t
 * inside ph:pl/plen, walking only the direct entries P covers. `scratch` holds walk output
 * (room for `room` records). Returns false if depth or plen is out of range.
 */
export function rangeDigests(t: Table, ph: u64, pl: u64, plen: u32, depth: u32, out: usize, scratch: usize, room: u32): bool {
  if (depth > MAX_DEPTH || plen + depth > t.width) return false;
  const family = t.family;
  const size = recordSize(family);
  memory.fill(out, 0, (1 + (<usize>1 << depth)) << 3);
  const bits = t.bits;
  let first: u32, end: u32;
  if (plen <= bits) {
    first = plen == 0 ? 0 : <u32>(ph >> (64 - plen)) << (bits - plen);
    end = first + (1 << (bits - plen));
  } else {
    first = <u32>(ph >> (64 - bits));
    end = first + 1;
  }
  const id = iterBeginRange(t, first, end);
  while (true) {
    const n = iterNext(id, scratch, room);
    if (n <= 0) break;
    for (let i: u32 = 0; i < <u32>n; i++) {
      const r = scratch + <usize>i * size;
      const len = recordLen(r);
      if (len < plen) continue;
      const hi = recordHi(r, family);
      const lo = recordLo(r, family);
      if (!within(hi, lo, ph, pl, plen)) continue;
      const h = routeHash(family, hi, lo, len, recordNh(r, family));
      const slot = len < plen + depth ? 0 : 1 + bitsAt(hi, lo, plen, depth);
      const at = out + (<usize>slot << 3);
      store<u64>(at, load<u64>(at) + h);
    }
  }
  return true;
}
