// Short routes: those no longer than the direct bits. They are expanded into the direct
// table for lookups, and kept here for updates and walks: the default route in a field,
// the others in route-only nodes, the route maps of 6-bit nodes at offsets 0, 6, 12, …
// below the direct bits. Each level o has a dense array of 2^o pointers (IPv4 with 18
// direct bits: 1 + 64 + 4096).
//
// Route-only node block:  ┌ map lo u64 ┬ map hi u64 ┬ routes 3 bytes × r ┬ pad ┐
//
// A route of length len (1..bits) lives at level o = 6·⌊(len−1)/6⌋, in the node for its top
// o bits, at index (1 << (len−o)) | (its next len−o bits).

import { alloc, allocFixed, free } from "./alloc";
import { NONE, mapBest, mapGet, mapRoutes, roundBlock, store24 } from "./node";

@unmanaged export class ShortRoutes {
  ptrs: usize;     // the pointer arrays of all levels, level 0 first
  bits: u32;       // direct bits
  zero: u32;       // next hop of the default route, or NONE
}

@inline function levelBase(s: ShortRoutes, o: u32): usize {
  // Sum of 2^o' for o' = 0, 6, …, o − 6, times 4 bytes.
  let n: usize = 0;
  for (let l: u32 = 0; l < o; l += 6) n += <usize>1 << l;
  return s.ptrs + (n << 2);
}

export function shortInit(s: ShortRoutes, bits: u32): bool {
  s.bits = bits;
  s.zero = NONE;
  let n: u32 = 0;
  for (let o: u32 = 0; o < bits; o += 6) n += 1 << o;
  s.ptrs = allocFixed(n << 2);
  return s.ptrs != 0;
}

/** Address of the pointer to the route-only node holding routes of length len with top bits `top`. */
@inline function nodePtr(s: ShortRoutes, len: u32, top: u32): usize {
  const o = 6 * ((len - 1) / 6);
  return levelBase(s, o) + (<usize>(top >> (len - o)) << 2);
}

@inline function indexIn(len: u32, top: u32): u32 {
  const rel = len - 6 * ((len - 1) / 6);
  return (1 << rel) | (top & ((1 << rel) - 1));
}

/** Next hop of the route of length len (≤ bits) whose top bits are `top`, or NONE. */
export function shortGet(s: ShortRoutes, len: u32, top: u32): u32 {
  if (len == 0) return s.zero;
  const node = <usize>load<u32>(nodePtr(s, len, top));
  return node == 0 ? NONE : mapGet(node, indexIn(len, top));
}

/**
 * Sets (nh < NONE) or removes (nh == NONE) the route of length len with top bits `top`.
 * Returns false, with nothing changed, when memory cannot hold it.
 */
export function shortPut(s: ShortRoutes, len: u32, top: u32, nh: u32): bool {
  if (len == 0) { s.zero = nh; return true; }
  const ptr = nodePtr(s, len, top);
  const i = indexIn(len, top);
  const node = <usize>load<u32>(ptr);
  const bit: u64 = (<u64>1) << (i & 63);
  if (node == 0) {
    if (nh == NONE) return true;
    const b = alloc(roundBlock(19));
    if (b == 0) return false;
    store<u64>(b, i < 64 ? bit : 0);
    store<u64>(b, i < 64 ? 0 : bit, 8);
    store24(b + 16, nh);
    store<u32>(ptr, <u32>b);
    return true;
  }
  const lo = load<u64>(node);
  const hi = load<u64>(node, 8);
  const r = mapRoutes(node);
  const present = i < 64 ? (lo & bit) != 0 : (hi & bit) != 0;
  const rank = i < 64 ? <u32>popcnt(lo & (bit - 1)) : <u32>popcnt(lo) + <u32>popcnt(hi & (bit - 1));
  const at = node + 16 + <usize>rank * 3;
  const oldSize = roundBlock(16 + 3 * r);
  if (present && nh != NONE) { store24(at, nh); return true; }
  if (!present && nh == NONE) return true;
  if (nh == NONE) {
    if (r == 1) { free(node, oldSize); store<u32>(ptr, 0); return true; }
    memory.copy(at, at + 3, <usize>(r - 1 - rank) * 3);
    if (i < 64) store<u64>(node, lo & ~bit); else store<u64>(node, hi & ~bit, 8);
    const newSize = roundBlock(16 + 3 * (r - 1));
    if (newSize < oldSize) free(node + newSize, oldSize - newSize);
    return true;
  }
  const newLo = i < 64 ? lo | bit : lo;
  const newHi = i < 64 ? hi : hi | bit;
  const tail = <usize>(r - rank) * 3;
  if (roundBlock(16 + 3 * (r + 1)) <= oldSize) {
    memory.copy(at + 3, at, tail);
    store24(at, nh);
    store<u64>(node, newLo);
    store<u64>(node, newHi, 8);
    return true;
  }
  const b = alloc(roundBlock(16 + 3 * (r + 1)));
  if (b == 0) return false;
  store<u64>(b, newLo);
  store<u64>(b, newHi, 8);
  const nat = b + 16 + <usize>rank * 3;
  memory.copy(b + 16, node + 16, <usize>rank * 3);
  store24(nat, nh);
  memory.copy(nat + 3, at, tail);
  store<u32>(ptr, <u32>b);
  free(node, oldSize);
  return true;
}

/** The deepest level: routes longer than it and no longer than bits live there. */
@inline export function shortDeepLevel(bits: u32): u32 {
  return 6 * ((bits - 1) / 6);
}

/** The deepest level's route-only node covering direct entry b, or 0. */
@inline export function shortDeepNode(s: ShortRoutes, b: u32): usize {
  const o = shortDeepLevel(s.bits);
  return <usize>load<u32>(levelBase(s, o) + (<usize>(b >> (s.bits - o)) << 2));
}

/** The slot direct entry b takes in its deepest-level node. */
@inline export function shortDeepSlot(bits: u32, b: u32): u32 {
  const o = shortDeepLevel(bits);
  return o + 6 <= bits ? (b >> (bits - o - 6)) & 63 : (b << (o + 6 - bits)) & 63;
}

/** Next hop of the longest short route covering direct entry b, or NONE. */
export function shortBest(s: ShortRoutes, b: u32): u32 {
  const bits = s.bits;
  let o: u32 = 6 * ((bits - 1) / 6);
  while (true) {
    const node = <usize>load<u32>(levelBase(s, o) + (<usize>(b >> (bits - o)) << 2));
    if (node != 0) {
      const slot = o + 6 <= bits ? (b >> (bits - o - 6)) & 63 : (b << (o + 6 - bits)) & 63;
      const nh = mapBest(node, slot);
      if (nh != NONE) return nh;
    }
    if (o == 0) break;
    o -= 6;
  }
  return s.zero;
}

/** Frees every route-only node. */
export function shortClear(s: ShortRoutes): void {
  for (let o: u32 = 0; o < s.bits; o += 6) {
    const base = levelBase(s, o);
    const n = <usize>1 << o;
    for (let k: usize = 0; k < n; k++) {
      const node = <usize>load<u32>(base + (k << 2));
      if (node != 0) {
        free(node, roundBlock(16 + 3 * mapRoutes(node)));
        store<u32>(base + (k << 2), 0);
      }
    }
  }
  s.zero = NONE;
}

/** Bytes held: pointer arrays and route-only nodes. */
export function shortBytes(s: ShortRoutes): u64 {
  let bytes: u64 = 0;
  for (let o: u32 = 0; o < s.bits; o += 6) {
    const base = levelBase(s, o);
    const n = <usize>1 << o;
    bytes += <u64>(n << 2);
    for (let k: usize = 0; k < n; k++) {
      const node = <usize>load<u32>(base + (k << 2));
      if (node != 0) bytes += roundBlock(16 + 3 * mapRoutes(node));
    }
  }
  return bytes;
}
