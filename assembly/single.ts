// Single-route nodes: a subtree that holds exactly one route, in 12 bytes instead of a chain
// of 6-bit nodes. Most deep routes of a real table sit alone under their slot (a /48 under
// its /32, a /24 alone in its /18), so this is most of the memory saved over plain Poptrie.
//
//   0      4          8          12
//   ┌──────┬─────┬────┬─────────┐
//   │ key  │ rel │ nh │ default │
//   └──────┴─────┴────┴─────────┘
//   key      u32: the route's bits from the node's offset o on, left-aligned, zero past rel
//   rel      u8: route length − o, 1..32
//   nh       u24: the route's next hop
//   default  u32: the answer for the rest of the subtree (at +8, as in other nodes)
//
// An address matches when its bits from o agree with key on the top rel bits. A route more
// than 32 bits below its subtree's offset hangs below pass-through nodes instead.

import { alloc } from "./alloc";
import { SINGLE, SINGLE_BYTES, addrOf } from "./node";

/** The 64 bits of the 128-bit value (hi, lo) starting at bit o, left-aligned. */
@inline export function bitsFrom(hi: u64, lo: u64, o: u32): u64 {
  if (o == 0) return hi;
  if (o < 64) return (hi << o) | (lo >> (64 - o));
  return lo << (o - 64);
}

/** The answer of single-route node `ref` for an address whose bits from the node's offset are `bits`. */
@inline export function singleAnswer(ref: u32, bits: u64): u32 {
  const p = addrOf(ref);
  const meta = load<u32>(p, 4);
  return ((<u32>(bits >> 32) ^ load<u32>(p)) >> (32 - (meta & 255))) == 0 ? meta >> 8 : load<u32>(p, 8);
}

/** The mask of the top rel bits of 32 (rel 1..32). */
@inline function topMask(rel: u32): u32 {
  return rel >= 32 ? 0xffffffff : ~(0xffffffff >>> rel);
}

/** Whether a route of length len fits a single-route node at offset o. */
@inline export function singleFits(len: u32, o: u32): bool {
  return len > o && len - o <= 32;
}

/** A new single-route node for the route whose bits from the node's offset are `key`, `rel` (1..32) bits long; 0 if out of memory. */
export function singleMake(key: u64, rel: u32, nh: u32, dflt: u32): u32 {
  const p = alloc(SINGLE_BYTES);
  if (p == 0) return 0;
  store<u32>(p, <u32>(key >> 32) & topMask(rel));
  store<u32>(p, rel | (nh << 8), 4);
  store<u32>(p, dflt, 8);
  return <u32>p | SINGLE;
}

/** A new single-route node at offset o for the route hi:lo/len → nh; 0 if out of memory. */
export function singleNew(hi: u64, lo: u64, len: u32, o: u32, nh: u32, dflt: u32): u32 {
  return singleMake(bitsFrom(hi, lo, o), len - o, nh, dflt);
}

/** The route's bits from the node's offset, left-aligned in 64 bits. */
@inline export function singleKey(ref: u32): u64 { return <u64>load<u32>(addrOf(ref)) << 32; }
@inline export function singleRel(ref: u32): u32 { return load<u32>(addrOf(ref), 4) & 255; }
@inline export function singleNh(ref: u32): u32 { return load<u32>(addrOf(ref), 4) >> 8; }

export function singleSetNh(ref: u32, nh: u32): void {
  const p = addrOf(ref);
  store<u32>(p, (load<u32>(p, 4) & 255) | (nh << 8), 4);
}

/** True if the node holds exactly the route whose bits from its offset are `bits` and length is o + rel. */
export function singleIs(ref: u32, bits: u64, rel: u32): bool {
  return rel <= 32 && singleRel(ref) == rel && (<u32>(bits >> 32) & topMask(rel)) == load<u32>(addrOf(ref));
}

/** The route's prefix placed back into (hi, lo) below offset o: the new hi. */
export function singlePrefixHi(ref: u32, hi: u64, o: u32): u64 {
  return o < 64 ? hi | (singleKey(ref) >> o) : hi;
}

/** The route's prefix placed back into (hi, lo) below offset o: the new lo. */
export function singlePrefixLo(ref: u32, lo: u64, o: u32): u64 {
  const k = singleKey(ref);
  if (o == 0) return lo;
  return o < 64 ? lo | (k << (64 - o)) : lo | (k >> (o - 64));
}
