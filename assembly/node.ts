// Poptrie nodes: the 6-bit multibit nodes below the direct-pointing table.
//
// A node covers six bits of the address at offset `o` and has 64 slots. A slot is either an
// internal slot (a child node covers it) or a leaf slot. Leaf slots are compressed: a run of
// equal answers is stored once (Poptrie's leaf vector). Besides the lookup structure each
// node keeps its own routes, the ones whose length ends inside its six bits (o < len ≤ o+6),
// indexed ART-style: a route of relative length r (1..6) whose top bits are b has index
// (1 << r) | b, in 2..127. Leaves hold the answer from this node's own routes only, or NONE;
// NONE resolves to the node's default, the best route covering the whole node from above,
// so a change above a node rewrites one word of it, never its leaves.
//
// A node is referenced by a 4-byte ref: its block address, bit 30 (FULL) set when the node
// has children, bit 29 (SINGLE) when it is a single-route node (single.ts: a subtree that
// holds one route, in 12 bytes). Other nodes are one block each, in one of two layouts:
//
//   leaf-only (no children)              full
//   0  leafvec  u64                      0   leafvec  u64
//   8  default  u32                      8   default  u32
//   12 leaves   3 bytes × n              12  vector   u64
//   …  route map, routes, pad            20  children u32 ref × c
//                                        …   leaves   3 bytes × n
//                                        …   route map, routes, pad
//
//   leafvec  bit s set: a leaf run starts at slot s (leaf slots only)
//   vector   bit s set: slot s is internal
//   children refs in slot order; leaves in run order
//   route map 128 bits (lo: indexes 0..63, hi: 64..127); routes 3 bytes each in index order
//   pad: ≥ 1 byte so that a 3-byte entry can be read with a 4-byte load; size rounded to 4

import { alloc, free } from "./alloc";

/** Next hop meaning "no route". Next-hop ids are 0 .. NONE-1 (24 bits). */
export const NONE: u32 = 0xffffff;
@inline export const NH_MASK: u32 = 0xffffff;
/** Ref flag: the node has children (full layout). */
@inline export const FULL: u32 = 0x40000000;
/** Ref flag: a single-route node (single.ts). */
@inline export const SINGLE: u32 = 0x20000000;
/** Refs address 512 MiB. */
@inline export const ADDR_MASK: u32 = 0x1fffffff;
/** Bytes of a single-route node. */
@inline export const SINGLE_BYTES: u32 = 12;

@inline export function load24(p: usize): u32 { return load<u32>(p) & NH_MASK; }
@inline export function store24(p: usize, v: u32): void {
  store<u16>(p, <u16>v);
  store<u8>(p, <u8>(v >> 16), 2);
}

// --- reading a node by ref ------------------------------------------------------------

@inline export function addrOf(ref: u32): usize { return <usize>(ref & ADDR_MASK); }
@inline export function vectorOf(ref: u32): u64 { return ref & FULL ? load<u64>(addrOf(ref), 12) : 0; }
@inline export function leafvecOf(ref: u32): u64 { return load<u64>(addrOf(ref)); }
@inline export function defaultOf(ref: u32): u32 { return load<u32>(addrOf(ref), 8); }
@inline export function setDefaultField(ref: u32, nh: u32): void { store<u32>(addrOf(ref), nh, 8); }

/** Address of the ref of the child at internal slot s. */
@inline export function childRefAddr(ref: u32, s: u32): usize {
  return addrOf(ref) + 20 + (<usize>popcnt(load<u64>(addrOf(ref), 12) & (((<u64>1) << s) - 1)) << 2);
}

/** Address of the first leaf. */
@inline export function leavesOf(ref: u32): usize {
  return ref & FULL ? addrOf(ref) + 20 + (<usize>popcnt(load<u64>(addrOf(ref), 12)) << 2) : addrOf(ref) + 12;
}

/** Address of the route map. */
@inline export function mapOf(ref: u32): usize {
  return leavesOf(ref) + <usize>popcnt(leafvecOf(ref)) * 3;
}

@inline function headerSize(children: u32): u32 {
  return children != 0 ? 20 + 4 * children : 12;
}

@inline export function roundBlock(bytes: u32): u32 {
  return (bytes + 1 + 3) & ~3;
}

@inline export function mapRoutes(map: usize): u32 {
  return <u32>(popcnt(load<u64>(map)) + popcnt(load<u64>(map, 8)));
}

/** Size in bytes of a node's block. */
export function blockSizeOf(ref: u32): u32 {
  if (ref & SINGLE) return SINGLE_BYTES;
  const map = mapOf(ref);
  return roundBlock(<u32>(map - addrOf(ref)) + 16 + 3 * mapRoutes(map));
}

/** Bytes of a node's block that lookups read: header, child refs, leaves. */
export function lookupBytesOf(ref: u32): u32 {
  if (ref & SINGLE) return SINGLE_BYTES;
  return <u32>(mapOf(ref) - addrOf(ref));
}

// --- route index -----------------------------------------------------------------------

// ANCESTORS[s]: the bits, in the low half of a route map, of the indexes of relative length
// 1..5 that cover slot s. Relative length 6 is bit s of the high half.
const ANCESTORS: usize = memory.data(64 * 8);

export function nodeInit(): void {
  for (let s: u32 = 0; s < 64; s++) {
    let m: u64 = 0;
    for (let r: u32 = 1; r <= 5; r++) m |= (<u64>1) << ((1 << r) | (s >> (6 - r)));
    store<u64>(ANCESTORS + (<usize>s << 3), m);
  }
}

/** Route index of relative length r (1..6) whose six-bit slot pattern is `slotBits`. */
@inline export function routeIndex(r: u32, slotBits: u32): u32 {
  return (1 << r) | (slotBits >> (6 - r));
}

/**
 * Next hop of the longest route in the route map at `map` (routes follow it) covering slot
 * s, or NONE.
 */
export function mapBest(map: usize, s: u32): u32 {
  const lo = load<u64>(map);
  const hi = load<u64>(map, 8);
  let rank: u32;
  if ((hi >> s) & 1) {
    rank = <u32>popcnt(lo) + <u32>popcnt(hi & (((<u64>1) << s) - 1));
  } else {
    const m = lo & load<u64>(ANCESTORS + (<usize>s << 3));
    if (m == 0) return NONE;
    rank = <u32>popcnt(lo & (((<u64>1) << (63 - clz(m))) - 1));
  }
  return load24(map + 16 + <usize>rank * 3);
}

/** Next hop of route index i in the route map at `map`, or NONE. */
export function mapGet(map: usize, i: u32): u32 {
  const lo = load<u64>(map);
  const hi = load<u64>(map, 8);
  const present = i < 64 ? (lo >> i) & 1 : (hi >> (i - 64)) & 1;
  return present ? mapRoute(map, lo, hi, i) : NONE;
}

/** Next hop of route i of a map whose words are lo and hi; the route must be present. */
@inline export function mapRoute(map: usize, lo: u64, hi: u64, i: u32): u32 {
  const rank = i < 64
    ? <u32>popcnt(lo & (((<u64>1) << i) - 1))
    : <u32>popcnt(lo) + <u32>popcnt(hi & (((<u64>1) << (i - 64)) - 1));
  return load24(map + 16 + <usize>rank * 3);
}

/** Next hop of the longest route of node `ref` covering slot s, or NONE. */
@inline export function nodeBest(ref: u32, s: u32): u32 {
  return mapBest(mapOf(ref), s);
}

// --- the working image ---------------------------------------------------------------
//
// An update loads a node into a working image (children and routes spread out by slot and
// index), edits it, then emits a block. Static buffers: one node is edited at a time.

const IMG_CHILDREN: usize = memory.data(64 * 4);    // ref of the child at slot s
const IMG_ROUTES: usize = memory.data(128 * 4);     // next hop of route index i
const EMIT: usize = memory.data(4096);              // the block being built

let imgVector: u64 = 0;
let imgMapLo: u64 = 0;
let imgMapHi: u64 = 0;
let imgDefault: u32 = NONE;
let emitSize: u32 = 0;
let emitRef: u32 = 0;      // FULL flag of the emitted block

/** Loads a node into the image. */
export function imgLoad(ref: u32): void {
  let v = vectorOf(ref);
  imgVector = v;
  imgDefault = defaultOf(ref);
  let p = addrOf(ref) + 20;
  while (v != 0) {
    store<u32>(IMG_CHILDREN + (<usize>ctz(v) << 2), load<u32>(p));
    p += 4;
    v &= v - 1;
  }
  const map = mapOf(ref);
  imgMapLo = load<u64>(map);
  imgMapHi = load<u64>(map, 8);
  let q = map + 16;
  let m = imgMapLo;
  while (m != 0) { store<u32>(IMG_ROUTES + (<usize>ctz(m) << 2), load24(q)); q += 3; m &= m - 1; }
  m = imgMapHi;
  while (m != 0) { store<u32>(IMG_ROUTES + ((64 + <usize>ctz(m)) << 2), load24(q)); q += 3; m &= m - 1; }
}

/** Starts an empty image: no children, no routes, the given default. */
export function imgEmpty(dflt: u32): void {
  imgVector = 0;
  imgMapLo = 0;
  imgMapHi = 0;
  imgDefault = dflt;
}

@inline export function imgRouteCount(): u32 { return <u32>(popcnt(imgMapLo) + popcnt(imgMapHi)); }

/** Next hop of route index i in the image, or NONE. */
export function imgRoute(i: u32): u32 {
  const present = i < 64 ? (imgMapLo >> i) & 1 : (imgMapHi >> (i - 64)) & 1;
  return present != 0 ? load<u32>(IMG_ROUTES + (<usize>i << 2)) : NONE;
}

export function imgSetRoute(i: u32, nh: u32): void {
  if (i < 64) imgMapLo |= (<u64>1) << i; else imgMapHi |= (<u64>1) << (i - 64);
  store<u32>(IMG_ROUTES + (<usize>i << 2), nh);
}

export function imgRemoveRoute(i: u32): void {
  if (i < 64) imgMapLo &= ~((<u64>1) << i); else imgMapHi &= ~((<u64>1) << (i - 64));
}

export function imgSetChild(s: u32, ref: u32): void {
  imgVector |= (<u64>1) << s;
  store<u32>(IMG_CHILDREN + (<usize>s << 2), ref);
}

export function imgRemoveChild(s: u32): void {
  imgVector &= ~((<u64>1) << s);
}

/** Next hop of the longest route of the image covering slot s, or NONE. */
@inline function imgBest(s: u32): u32 {
  if ((imgMapHi >> s) & 1) return load<u32>(IMG_ROUTES + ((64 + <usize>s) << 2)) & NH_MASK;
  const m = imgMapLo & load<u64>(ANCESTORS + (<usize>s << 3));
  return m == 0 ? NONE : load<u32>(IMG_ROUTES + (<usize>(63 - clz(m)) << 2)) & NH_MASK;
}

/** Builds the block for the image into the emit buffer; returns its size. */
export function imgEmit(): u32 {
  const full = imgVector != 0;
  let p = EMIT + 12;
  store<u32>(EMIT, imgDefault, 8);
  if (full) {
    store<u64>(EMIT, imgVector, 12);
    p = EMIT + 20;
    let v = imgVector;
    while (v != 0) {
      store<u32>(p, load<u32>(IMG_CHILDREN + (<usize>ctz(v) << 2)));
      p += 4;
      v &= v - 1;
    }
  }
  // Answers change only where a route starts or ends: one breakpoint per edge, and at
  // each, the longest route covering it (ANCESTORS) answers until the next. A leaf run
  // starts at the first leaf slot of a piece whose answer differs from the last run's.
  let edges: u64 = 1;
  let m = imgMapLo;
  while (m != 0) {
    const i = <u32>ctz(m);
    const rel = 31 - clz(i);
    const first = (i - (1 << rel)) << (6 - rel);
    edges |= (<u64>1) << first;
    const end = first + (64 >> rel);
    if (end < 64) edges |= (<u64>1) << end;
    m &= m - 1;
  }
  edges |= imgMapHi | (imgMapHi << 1);
  let leafvec: u64 = 0;
  let prev: u32 = 0xffffffff;
  const leafSlots = ~imgVector;
  while (edges != 0) {
    const b = <u32>ctz(edges);
    edges &= edges - 1;
    const next: u64 = edges == 0 ? 0 : (<u64>1) << ctz(edges);
    // Leaf slots in [b, next): those at b or after, not at next or after.
    const inPiece = leafSlots & ((<u64>-1) << b) & (next - 1);
    if (inPiece == 0) continue;
    const nh = imgBest(b);
    if (nh == prev) continue;
    const s = <usize>ctz(inPiece);
    leafvec |= (<u64>1) << s;
    store24(p, nh);
    p += 3;
    prev = nh;
  }
  store<u64>(EMIT, leafvec);
  store<u64>(p, imgMapLo);
  store<u64>(p, imgMapHi, 8);
  p += 16;
  m = imgMapLo;
  while (m != 0) { store24(p, load<u32>(IMG_ROUTES + (<usize>ctz(m) << 2))); p += 3; m &= m - 1; }
  m = imgMapHi;
  while (m != 0) { store24(p, load<u32>(IMG_ROUTES + ((64 + <usize>ctz(m)) << 2))); p += 3; m &= m - 1; }
  store<u8>(p, 0);
  emitSize = roundBlock(<u32>(p - EMIT));
  emitRef = full ? FULL : 0;
  return emitSize;
}

/** Copies the emitted block to a new allocation; returns its ref, 0 if out of memory. */
export function emitToNew(): u32 {
  const b = alloc(emitSize);
  if (b == 0) return 0;
  memory.copy(b, EMIT, emitSize);
  return <u32>b | emitRef;
}

/**
 * Replaces the node whose ref is stored at `refAddr` with the emitted block. A block that
 * does not grow is rewritten in place (its tail, if any, freed), so shrinking never needs
 * memory; a growing block is copied to a new allocation, published with one store of the
 * ref, and the old one freed. Returns false, with nothing touched, when the memory cannot
 * provide the new block.
 */
export function emitCommit(refAddr: usize): bool {
  const old = load<u32>(refAddr);
  const oldBase = addrOf(old);
  const oldSize = blockSizeOf(old);
  if (emitSize <= oldSize) {
    memory.copy(oldBase, EMIT, emitSize);
    if (emitSize < oldSize) free(oldBase + emitSize, oldSize - emitSize);
    store<u32>(refAddr, <u32>oldBase | emitRef);
    return true;
  }
  const ref = emitToNew();
  if (ref == 0) return false;
  store<u32>(refAddr, ref);
  free(oldBase, oldSize);
  return true;
}

/** Frees a node's block and, recursively, its children's. */
export function freeSubtree(ref: u32): void {
  let v = vectorOf(ref);
  let p = addrOf(ref) + 20;
  while (v != 0) {
    freeSubtree(load<u32>(p));
    p += 4;
    v &= v - 1;
  }
  free(addrOf(ref), blockSizeOf(ref));
}
