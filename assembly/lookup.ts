// Longest-prefix match: the hot path. One load in the direct table, then per level one node
// record (vector, base), and at the end one leaf; no branches but the descent and the NONE
// check, no allocation.

import { LEAF } from "./table";
import { NONE, NH_MASK, RECORD } from "./node";

/** Direct bits of the IPv4 table: nodes at 12, 18, 24 and 30 (a /24 is a leaf of an 18-bit node). */
export const BITS4: u32 = 12;
/** Direct bits of the IPv6 table: nodes at 10, 16, … 58 in the high word, 64 … 124 in the low. */
export const BITS6: u32 = 10;

/** The leaf answer of node `rec` for slot bit `bit` (a leaf slot). */
@inline function leafOf(rec: usize, vec: u64, base: usize, bit: u64): u32 {
  const runs = <usize>popcnt(load<u64>(rec, 8) & (bit | (bit - 1)));
  const leaf = load<u32>(base + <usize>popcnt(vec) * RECORD + (runs - 1) * 3) & NH_MASK;
  return leaf != NONE ? leaf : load<u32>(rec, 20);
}

@inline export function lookup4(dir: usize, addr: u32): u32 {
  const d = load<u32>(dir + (<usize>(addr >>> (32 - BITS4)) << 2));
  if (d & LEAF) return d & NH_MASK;
  let rec = <usize>d;
  let key = addr << BITS4;
  while (true) {
    const vec = load<u64>(rec);
    const base = <usize>load<u32>(rec, 16);
    const bit = (<u64>1) << (key >>> 26);
    if ((vec & bit) == 0) return leafOf(rec, vec, base, bit);
    rec = base + <usize>popcnt(vec & (bit - 1)) * RECORD;
    key <<= 6;
  }
  return NONE;
}

@inline export function lookup6(dir: usize, hi: u64, lo: u64): u32 {
  const d = load<u32>(dir + (<usize>(hi >>> (64 - BITS6)) << 2));
  if (d & LEAF) return d & NH_MASK;
  let rec = <usize>d;
  let key = hi << BITS6;
  let o = BITS6;
  while (true) {
    const vec = load<u64>(rec);
    const base = <usize>load<u32>(rec, 16);
    const bit = (<u64>1) << (key >>> 58);
    if ((vec & bit) == 0) return leafOf(rec, vec, base, bit);
    rec = base + <usize>popcnt(vec & (bit - 1)) * RECORD;
    o += 6;
    key = o == 64 ? lo : key << 6;
  }
  return NONE;
}

/** Looks up n IPv4 addresses (u32 each) at `input`, writing n next hops (u32) at `output`. */
export function lookup4Batch(dir: usize, input: usize, output: usize, n: u32): void {
  for (let i: usize = 0; i < <usize>n; i++) {
    store<u32>(output + (i << 2), lookup4(dir, load<u32>(input + (i << 2))));
  }
}

/** Looks up n IPv6 addresses (four u32 words each, most significant first) at `input`. */
export function lookup6Batch(dir: usize, input: usize, output: usize, n: u32): void {
  for (let i: usize = 0; i < <usize>n; i++) {
    const p = input + (i << 4);
    const hi = (<u64>load<u32>(p) << 32) | <u64>load<u32>(p, 4);
    const lo = (<u64>load<u32>(p, 8) << 32) | <u64>load<u32>(p, 12);
    store<u32>(output + (i << 2), lookup6(dir, hi, lo));
  }
}
