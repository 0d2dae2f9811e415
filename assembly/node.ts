// Poptrie nodes: the 6-bit multibit nodes below the direct-pointing table.
//
// A node covers six bits of the address at offset `o` and has 64 slots. A slot is either an
// internal slot (a child node covers it) or a leaf slot. Leaf slots are compressed: runs of
// equal answers are stored once (Poptrie's leaf vector). Besides the lookup structure each
// node keeps its own routes, the ones whose length ends inside its six bits (o < len ≤ o+6),
// indexed ART-style: a route of relative length r (1..6) with top bits b has index
// (1 << r) | b, in 2..127. Leaves hold the answer from this node's own routes only, or NONE;
// a NONE leaf resolves to the node's default, the best route covering the whole node from
// above. So a change to a short route touches defaults in place, never leaf arrays.
//
// Node record, 24 bytes, in the parent's block (or a block of its own under the direct table):
//
//   0        8         16     20        24
//   ┌────────┬─────────┬──────┬─────────┐
//   │ vector │ leafvec │ base │ default │
//   └────────┴─────────┴──────┴─────────┘
//   vector   bit c set: slot c is internal
//   leafvec  bit c set: a leaf run starts at slot c (only leaf slots count)
//   base     address of the node's block
//   default  next hop (24 bits) of the longest route covering the node from above, or NONE
//
// Node block at `base` (c = popcnt(vector), n = popcnt(leafvec), r = routes):
//
//   ┌──────────────────┬────────────┬──────────────────┬───────────┬─────┐
//   │ c child records  │ n leaves   │ route map        │ r routes  │ pad │  size rounded to 8
//   │ 24 bytes each    │ 3 bytes    │ 128 bits: lo, hi │ 3 bytes   │ ≥ 1 │
//   └──────────────────┴────────────┴──────────────────┴───────────┴─────┘
//   Children are in slot order, leaves in run order, routes in index order. Three-byte
//   entries are read with a four-byte load and a mask; the pad keeps that load inside.

import { alloc, free } from "./alloc";

/** Next hop meaning "no route". Next-hop ids are 0 .. NONE-1 (24 bits). */
export const NONE: u32 = 0xffffff;
@inline export const NH_MASK: u32 = 0xffffff;
/** Bytes in a node record. */
@inline export const RECORD: u32 = 24;

// --- record fields ---------------------------------------------------------------------

@inline export function vectorOf(rec: usize): u64 { return load<u64>(rec); }
@inline export function leafvecOf(rec: usize): u64 { return load<u64>(rec, 8); }
@inline export function baseOf(rec: usize): usize { return <usize>load<u32>(rec, 16); }
@inline export function defaultOf(rec: usize): u32 { return load<u32>(rec, 20); }
@inline export function setDefaultField(rec: usize, nh: u32): void { store<u32>(rec, nh, 20); }

@inline export function load24(p: usize): u32 { return load<u32>(p) & NH_MASK; }
@inline export function store24(p: usize, v: u32): void {
  store<u16>(p, <u16>v);
  store<u8>(p, <u8>(v >> 16), 2);
}

/** Address of the record of the child at internal slot c. */
@inline export function childRecord(rec: usize, c: u32): usize {
  const vec = vectorOf(rec);
  return baseOf(rec) + <usize>popcnt(vec & ((<u64>1 << c) - 1)) * RECORD;
}

/** Address of the route map in a node's block. */
@inline export function mapOf(rec: usize): usize {
  return baseOf(rec) + <usize>popcnt(vectorOf(rec)) * RECORD + <usize>popcnt(leafvecOf(rec)) * 3;
}

@inline function blockSize(children: u32, leaves: u32, routes: u32): u32 {
  return (children * RECORD + leaves * 3 + 16 + routes * 3 + 1 + 7) & ~7;
}

/** Size in bytes of the block a record points to. */
export function blockSizeOf(rec: usize): u32 {
  const map = mapOf(rec);
  const routes = <u32>(popcnt(load<u64>(map)) + popcnt(load<u64>(map, 8)));
  return blockSize(<u32>popcnt(vectorOf(rec)), <u32>popcnt(leafvecOf(rec)), routes);
}

// --- route index -----------------------------------------------------------------------

// ANCESTORS[c]: the bits, in the low half of the route map, of the indexes of relative
// length 1..5 that cover slot c. Relative length 6 is bit c of the high half.
const ANCESTORS: usize = memory.data(64 * 8);

export function nodeInit(): void {
  for (let c: u32 = 0; c < 64; c++) {
    let m: u64 = 0;
    for (let r: u32 = 1; r <= 5; r++) m |= (<u64>1) << ((1 << r) | (c >> (6 - r)));
    store<u64>(ANCESTORS + (<usize>c << 3), m);
  }
}

/** Route index of relative length r (1..6) whose six-bit slot pattern is `bits`. */
@inline export function routeIndex(r: u32, slotBits: u32): u32 {
  return (1 << r) | (slotBits >> (6 - r));
}

// --- the working image ---------------------------------------------------------------
//
// An update loads a node into a working image (children and routes spread out by slot and
// index), edits it, then emits a block. Static buffers: one node is edited at a time.

const IMG_CHILDREN: usize = memory.data(64 * 24);   // record of the child at slot c
const IMG_ROUTES: usize = memory.data(128 * 4);     // next hop of route index i
const EMIT: usize = memory.data(4096);              // the block being built

let imgVector: u64 = 0;
let imgMapLo: u64 = 0;
let imgMapHi: u64 = 0;
let emitLeafvec: u64 = 0;
let emitSize: u32 = 0;

/** Loads a node into the image. */
export function imgLoad(rec: usize): void {
  const vec = vectorOf(rec);
  let p = baseOf(rec);
  imgVector = vec;
  let v = vec;
  while (v != 0) {
    const c = <usize>ctz(v);
    memory.copy(IMG_CHILDREN + c * RECORD, p, RECORD);
    p += RECORD;
    v &= v - 1;
  }
  const map = p + <usize>popcnt(leafvecOf(rec)) * 3;
  imgMapLo = load<u64>(map);
  imgMapHi = load<u64>(map, 8);
  let q = map + 16;
  let m = imgMapLo;
  while (m != 0) { store<u32>(IMG_ROUTES + (<usize>ctz(m) << 2), load24(q)); q += 3; m &= m - 1; }
  m = imgMapHi;
  while (m != 0) { store<u32>(IMG_ROUTES + ((64 + <usize>ctz(m)) << 2), load24(q)); q += 3; m &= m - 1; }
}

/** Starts an empty image: no children, no routes. */
export function imgEmpty(): void {
  imgVector = 0;
  imgMapLo = 0;
  imgMapHi = 0;
}

@inline export function imgVectorBits(): u64 { return imgVector; }
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

/** Address of the image's copy of the child record at slot c (valid until the next imgLoad). */
@inline export function imgChild(c: u32): usize { return IMG_CHILDREN + <usize>c * RECORD; }

export function imgSetChild(c: u32, vector: u64, leafvec: u64, base: usize, dflt: u32): void {
  imgVector |= (<u64>1) << c;
  const r = imgChild(c);
  store<u64>(r, vector);
  store<u64>(r, leafvec, 8);
  store<u32>(r, <u32>base, 16);
  store<u32>(r, dflt, 20);
}

export function imgRemoveChild(c: u32): void {
  imgVector &= ~((<u64>1) << c);
}

/** Next hop of the longest image route covering slot c, or NONE. */
export function imgBest(c: u32): u32 {
  if ((imgMapHi >> c) & 1) return load<u32>(IMG_ROUTES + ((64 + <usize>c) << 2));
  const m = imgMapLo & load<u64>(ANCESTORS + (<usize>c << 3));
  if (m == 0) return NONE;
  return load<u32>(IMG_ROUTES + ((63 - <usize>clz(m)) << 2));
}

/** Builds the block for the image into the emit buffer; returns its size. */
export function imgEmit(): u32 {
  let p = EMIT;
  let v = imgVector;
  while (v != 0) {
    memory.copy(p, IMG_CHILDREN + <usize>ctz(v) * RECORD, RECORD);
    p += RECORD;
    v &= v - 1;
  }
  let leafvec: u64 = 0;
  let prev: u32 = 0xffffffff;
  for (let c: u32 = 0; c < 64; c++) {
    if ((imgVector >> c) & 1) continue;
    const nh = imgBest(c);
    if (nh != prev) {
      leafvec |= (<u64>1) << c;
      store24(p, nh);
      p += 3;
      prev = nh;
    }
  }
  store<u64>(p, imgMapLo);
  store<u64>(p, imgMapHi, 8);
  p += 16;
  let m = imgMapLo;
  while (m != 0) { store24(p, load<u32>(IMG_ROUTES + (<usize>ctz(m) << 2))); p += 3; m &= m - 1; }
  m = imgMapHi;
  while (m != 0) { store24(p, load<u32>(IMG_ROUTES + ((64 + <usize>ctz(m)) << 2))); p += 3; m &= m - 1; }
  store<u8>(p, 0);
  emitLeafvec = leafvec;
  emitSize = blockSize(<u32>popcnt(imgVector), <u32>popcnt(leafvec), imgRouteCount());
  return emitSize;
}

/** Copies the emitted block to a new allocation; returns its address, 0 if out of memory. */
export function emitToNew(): usize {
  const b = alloc(emitSize);
  if (b != 0) memory.copy(b, EMIT, emitSize);
  return b;
}

/**
 * Replaces the block of `rec` with the emitted one and updates the record's vector, leaf
 * vector and base. A block that does not grow is rewritten in place (its tail, if any, is
 * freed), so shrinking never needs memory; a growing block is copied to a new allocation
 * and the old one freed. Returns false, with the record and its block untouched, when the
 * memory cannot provide the new block.
 */
export function emitCommit(rec: usize): bool {
  const oldBase = baseOf(rec);
  const oldSize = blockSizeOf(rec);
  let base = oldBase;
  if (emitSize <= oldSize) {
    memory.copy(oldBase, EMIT, emitSize);
    if (emitSize < oldSize) free(oldBase + emitSize, oldSize - emitSize);
  } else {
    base = emitToNew();
    if (base == 0) return false;
    free(oldBase, oldSize);
  }
  store<u64>(rec, imgVector);
  store<u64>(rec, emitLeafvec, 8);
  store<u32>(rec, <u32>base, 16);
  return true;
}

/** The leaf vector of the last emitted block. */
@inline export function emittedLeafvec(): u64 { return emitLeafvec; }

/** Next hop of the longest route of the node at `rec` covering slot c, or NONE (no image needed). */
export function nodeBest(rec: usize, c: u32): u32 {
  const map = mapOf(rec);
  const lo = load<u64>(map);
  const hi = load<u64>(map, 8);
  let i: u32;
  if ((hi >> c) & 1) {
    i = <u32>popcnt(lo) + <u32>popcnt(hi & (((<u64>1) << c) - 1));
  } else {
    const m = lo & load<u64>(ANCESTORS + (<usize>c << 3));
    if (m == 0) return NONE;
    i = <u32>popcnt(lo & (((<u64>1) << (63 - clz(m))) - 1));
  }
  return load24(map + 16 + <usize>i * 3);
}

/** Frees a node's block and, recursively, its children's. The record itself is the caller's. */
export function freeSubtree(rec: usize): void {
  let v = vectorOf(rec);
  const base = baseOf(rec);
  let c: usize = 0;
  while (v != 0) {
    freeSubtree(base + c * RECORD);
    c++;
    v &= v - 1;
  }
  free(base, blockSizeOf(rec));
}
