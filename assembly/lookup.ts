// Longest-prefix match: the hot path. One load in the direct table; per level one node
// header and one child ref; at the end one leaf, or one compare in a single-route node.
// No allocation, no bounds checks beyond the engine's guard pages.

import { LEAF } from "./table";
import { NONE, NH_MASK, FULL, SINGLE, ADDR_MASK } from "./node";
import { singleAnswer } from "./single";

/** Direct bits of the IPv4 table: most addresses resolve here; a /24 is a leaf of an 18-bit node. */
export const BITS4: u32 = 18;
/** Direct bits of the IPv6 table: nodes at 16, 22, … 58 in the high word, 64 … 124 in the low. */
export const BITS6: u32 = 16;
/** The IPv6 direct table comes in eight regions, one per /3, each there only when routed. */
export const REGION_BITS6: u32 = 3;

/** The answer of node block `p`, whose leaves start at `leaves`, for the leaf slot `bit`. */
@inline function leafAnswer(p: usize, leaves: usize, bit: u64): u32 {
  const runs = <usize>popcnt(load<u64>(p) & (bit | (bit - 1)));
  const leaf = load<u32>(leaves + (runs - 1) * 3) & NH_MASK;
  return leaf != NONE ? leaf : load<u32>(p, 8);
}

@inline export function lookup4(dir: usize, addr: u32): u32 {
  let ref = load<u32>(dir + (<usize>(addr >>> (32 - BITS4)) << 2));
  if (ref & LEAF) return ref & NH_MASK;
  let key = addr << BITS4;
  while (true) {
    if (ref & SINGLE) return singleAnswer(ref, <u64>key << 32);
    const p = <usize>(ref & ADDR_MASK);
    const bit = (<u64>1) << (key >>> 26);
    let leaves = p + 12;
    if (ref & FULL) {
      const vec = load<u64>(p, 12);
      if (vec & bit) {
        ref = load<u32>(p + 20 + (<usize>popcnt(vec & (bit - 1)) << 2));
        key <<= 6;
        continue;
      }
      leaves = p + 20 + (<usize>popcnt(vec) << 2);
    }
    return leafAnswer(p, leaves, bit);
  }
  return NONE;
}

@inline export function lookup6(regions: usize, hi: u64, lo: u64): u32 {
  const region = load<u32>(regions + (<usize>(hi >>> (64 - REGION_BITS6)) << 2));
  if (region & LEAF) return region & NH_MASK;
  let ref = load<u32>(<usize>region + (<usize>((hi << REGION_BITS6) >>> (64 - BITS6 + REGION_BITS6)) << 2));
  if (ref & LEAF) return ref & NH_MASK;
  // key holds the address bits from the current node's offset on: hi's, then lo's.
  let key = (hi << BITS6) | (lo >> (64 - BITS6));
  let next = lo << BITS6;
  while (true) {
    const p = <usize>(ref & ADDR_MASK);
    const bit = (<u64>1) << (key >>> 58);
    if (ref & FULL) {
      const vec = load<u64>(p, 12);
      if ((vec & bit) == 0) return leafAnswer(p, p + 20 + (<usize>popcnt(vec) << 2), bit);
      ref = load<u32>(p + 20 + (<usize>popcnt(vec & (bit - 1)) << 2));
      key = (key << 6) | (next >> 58);
      next <<= 6;
      continue;
    }
    return ref & SINGLE ? singleAnswer(ref, key) : leafAnswer(p, p + 12, bit);
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
export function lookup6Batch(regions: usize, input: usize, output: usize, n: u32): void {
  for (let i: usize = 0; i < <usize>n; i++) {
    const p = input + (i << 4);
    // Words are most significant first: a little-endian u64 load has them swapped.
    const hi = rotr<u64>(load<u64>(p), 32);
    const lo = rotr<u64>(load<u64>(p, 8), 32);
    store<u32>(output + (i << 2), lookup6(regions, hi, lo));
  }
}
