// Iteration in prefix order: by address, and at equal address shorter prefixes first.
// Resumable: iterNext fills a caller's buffer and continues where it stopped; any change to
// the table in between ends the iteration (iterNext returns STALE).
//
// Output: change records (records.ts) with op "set".

import { Table, LEAF, dirRead } from "./table";
import { OP_SET, recordSize, writeRecord } from "./records";
import { ShortRoutes, shortGet, shortDeepLevel, shortDeepNode, shortDeepSlot } from "./short";
import { NONE, FULL, SINGLE, vectorOf, childRefAddr, mapOf, mapRoute } from "./node";
import { singleNh, singlePrefixHi, singlePrefixLo, singleRel } from "./single";

/** iterNext's answer when the table changed since iterBegin. */
export const STALE: i32 = -1;

const MAX_DEPTH: i32 = 24;
const F_REF: usize = memory.data(4 * MAX_DEPTH);    // node ref
const F_SLOT: usize = memory.data(4 * MAX_DEPTH);   // next slot, 0..64
const F_REL: usize = memory.data(4 * MAX_DEPTH);    // next relative length at that slot, 1..7 (7: the child)
const F_MASK: usize = memory.data(8 * MAX_DEPTH);   // slots where a route starts or a child hangs
const F_OFF: usize = memory.data(4 * MAX_DEPTH);    // bit offset of the node
const F_HI: usize = memory.data(8 * MAX_DEPTH);     // prefix bits above the node
const F_LO: usize = memory.data(8 * MAX_DEPTH);

let table: Table = changetype<Table>(0);
let generation: u32 = 0;
let bucket: u32 = 0;         // direct entry being walked
let bucketEnd: u32 = 0;      // the walk stops before this one
let shortLen: u32 = 0;       // next short length to try at this entry
let depth: i32 = -1;         // top frame, -1 at the direct level
let done = true;
let walk: u32 = 0;           // which walk the state belongs to
let deepNodeOf: i64 = -1;    // the direct entries (>> node span) deepStarts describes
let deepStarts: u64 = 0;     // routeStarts of their deepest-level short-route node
let boundHi: u64 = 0;        // a walk inside a prefix skips the slots outside it
let boundLo: u64 = 0;
let boundLen: u32 = 0;       // 0: no bound

/** Begins a walk of the whole table; returns the walk's id, for iterNext. */
export function iterBegin(t: Table): u32 {
  return iterBeginRange(t, 0, 1 << t.bits);
}

/**
 * Begins a walk of the direct entries [first, end) only: the routes that start in them.
 * Returns the walk's id. There is one walk at a time: beginning one ends the last.
 */
export function iterBeginRange(t: Table, first: u32, end: u32): u32 {
  table = t;
  generation = t.generation;
  bucket = first;
  bucketEnd = end;
  shortLen = firstShortLen(first, t.bits);
  depth = -1;
  done = false;
  deepNodeOf = -1;
  boundLen = 0;
  return ++walk;
}

/**
 * Begins a walk of the direct entries [first, end) that, below them, visits only slots
 * inside hi:lo/len: the routes inside that prefix, and some around it (the caller filters).
 */
export function iterBeginBounded(t: Table, first: u32, end: u32, hi: u64, lo: u64, len: u32): u32 {
  const id = iterBeginRange(t, first, end);
  boundHi = hi;
  boundLo = lo;
  boundLen = len;
  return id;
}

/** The slots of a node at bit offset `off` that lie inside the walk's bound (all when none). */
@inline function slotsInBound(off: u32): u64 {
  if (boundLen <= off) return <u64>-1;
  const k = min<u32>(6, boundLen - off);
  const w = off == 0 ? boundHi : off < 64 ? (boundHi << off) | (boundLo >> (64 - off)) : boundLo << (off - 64);
  const v = <u32>(w >> (64 - k));
  const span = 1 << (6 - k);
  const run: u64 = span == 64 ? <u64>-1 : ((<u64>1 << span) - 1);
  return run << (v << (6 - k));
}

/**
 * Whether a short route longer than the deepest short level starts at direct entry b. Most
 * entries have none; the answer for a whole node's span of entries is computed once.
 */
function deepShortStarts(t: Table, b: u32): bool {
  const bits = t.bits;
  const group = <i64>(b >> (bits - shortDeepLevel(bits)));
  if (group != deepNodeOf) {
    const node = shortDeepNode(changetype<ShortRoutes>(t.shortRoutes), b);
    deepNodeOf = group;
    deepStarts = node == 0 ? 0 : routeStarts(node);
  }
  return ((deepStarts >> shortDeepSlot(bits, b)) & 1) != 0;
}

@inline function withSlot(hi: u64, off: u32, c: u32): u64 {
  return off <= 58 ? hi | (<u64>c << (58 - off)) : hi | (<u64>c >> (off - 58));
}

function emit(out: usize, hi: u64, lo: u64, len: u32, nh: u32): usize {
  return writeRecord(out, table.family, OP_SET, hi, lo, len, nh);
}

/** The first relative length at which a route can start at slot c (c aligned to its span). */
@inline function firstRel(c: u32): u32 {
  return c == 0 ? 1 : max<i32>(1, 6 - <i32>ctz(c));
}

/** First slot of mask at or after c, or 64. */
@inline function nextSlot(mask: u64, c: u32): u32 {
  if (c >= 64) return 64;
  const rest = mask & ((<u64>-1) << c);
  return rest == 0 ? 64 : <u32>ctz(rest);
}

/** First short length at which a route can start at direct entry b. */
@inline function firstShortLen(b: u32, bits: u32): u32 {
  return b == 0 ? 0 : bits - min(bits, <u32>ctz(b));
}

/** Routes a node holds (its own; no children). */
@inline function ownRoutes(ref: u32): u32 {
  const map = mapOf(ref);
  return <u32>(popcnt(load<u64>(map)) + popcnt(load<u64>(map, 8)));
}

/**
 * The slots of a route map (a node's, or a route-only node's) where at least one of its
 * routes starts: a route of relative length rel at index (1 << rel) | k starts at slot
 * k << (6 − rel). Length-6 routes (the high word) start at their own slot.
 */
function routeStarts(map: usize): u64 {
  let mask = load<u64>(map, 8);
  let m = load<u64>(map);
  while (m != 0) {
    const i = <u32>ctz(m);
    const rel = 31 - clz(i);
    mask |= (<u64>1) << ((i - (1 << rel)) << (6 - rel));
    m &= m - 1;
  }
  return mask;
}

// A node's route indexes in prefix order are the preorder of their binary tree (i, then
// 2i, then 2i + 1): by start, shorter first. PREORDER[i] is index i's place in it (0..125
// for indexes 2..127), BY_PREORDER the inverse.
const PREORDER: usize = memory.data(128);
const BY_PREORDER: usize = memory.data(128);

export function iterInit(): void {
  preorder(3, preorder(2, 0));
}

/** Numbers index i and the indexes below it from `place` on; returns the next place. */
function preorder(i: u32, place: u32): u32 {
  store<u8>(PREORDER + i, <u8>place);
  store<u8>(BY_PREORDER + place, <u8>i);
  return i < 64 ? preorder(2 * i + 1, preorder(2 * i, place + 1)) : place + 1;
}

/**
 * Emits every route of a node without children, in prefix order, at `out`; returns the
 * address after them. The fast path of the walk: most nodes are leaf-only. The map's bits
 * are moved to preorder places, then read back in order: work per route, not per slot.
 */
function emitLeafOnly(ref: u32, off: u32, hi: u64, lo: u64, out: usize): usize {
  const map = mapOf(ref);
  const mlo = load<u64>(map);
  const mhi = load<u64>(map, 8);
  let olo: u64 = 0, ohi: u64 = 0;
  for (let m = mlo; m != 0; m &= m - 1) {
    const p = <u64>load<u8>(PREORDER + <usize>ctz(m));
    if (p < 64) olo |= (<u64>1) << p; else ohi |= (<u64>1) << (p - 64);
  }
  for (let m = mhi; m != 0; m &= m - 1) {
    const p = <u64>load<u8>(PREORDER + 64 + <usize>ctz(m));
    if (p < 64) olo |= (<u64>1) << p; else ohi |= (<u64>1) << (p - 64);
  }
  const family = table.family;
  for (let half = 0; half < 2; half++) {
    let m = half == 0 ? olo : ohi;
    while (m != 0) {
      const i = <u32>load<u8>(BY_PREORDER + (half << 6) + <usize>ctz(m));
      m &= m - 1;
      const rel = 31 - clz(i);
      const c = (i - (1 << rel)) << (6 - rel);
      const phi = off < 64 ? withSlot(hi, off, c) : hi;
      const plo = off < 64 ? lo : withSlot(lo, off - 64, c);
      out = writeRecord(out, family, OP_SET, phi, plo, off + rel, mapRoute(map, mlo, mhi, i));
    }
  }
  return out;
}

function push(ref: u32, off: u32, hi: u64, lo: u64): void {
  depth++;
  const d = <usize>depth;
  // The slots worth a visit: where a route of this node starts, or a child hangs.
  const mask: u64 = ref & SINGLE ? 0 : (vectorOf(ref) | routeStarts(mapOf(ref))) & slotsInBound(off);
  const c = ref & SINGLE ? 0 : nextSlot(mask, 0);
  store<u32>(F_REF + (d << 2), ref);
  store<u32>(F_SLOT + (d << 2), c);
  store<u32>(F_REL + (d << 2), firstRel(c));
  store<u64>(F_MASK + (d << 3), mask);
  store<u32>(F_OFF + (d << 2), off);
  store<u64>(F_HI + (d << 3), hi);
  store<u64>(F_LO + (d << 3), lo);
}

/**
 * Writes up to `max` routes of walk `id` at `out`; returns how many (0 at the end), or
 * STALE if the table changed or another walk began since.
 */
export function iterNext(id: u32, out: usize, max: u32): i32 {
  const t = table;
  if (id != walk) return STALE;
  if (done) return 0;
  if (t.generation != generation) { done = true; return STALE; }
  const bits = t.bits;
  let n: u32 = 0;
  while (n < max) {
    if (depth < 0) {
      if (bucket >= bucketEnd) { done = true; break; }
      if (shortLen <= bits) {
        if (shortLen > shortDeepLevel(bits) && !deepShortStarts(t, bucket)) { shortLen = bits + 1; continue; }
        const len = shortLen++;
        const nh = shortGet(changetype<ShortRoutes>(t.shortRoutes), len, len == 0 ? 0 : bucket >> (bits - len));
        if (nh != NONE) { out = emit(out, <u64>bucket << (64 - bits), 0, len, nh); n++; }
        continue;
      }
      const d = dirRead(t, bucket);
      if ((d & LEAF) == 0 && (d & (FULL | SINGLE)) == 0 && ownRoutes(d) <= max - n) {
        const before = out;
        out = emitLeafOnly(d, bits, <u64>bucket << (64 - bits), 0, out);
        n += <u32>((out - before) / recordSize(t.family));
        bucket++;
        shortLen = firstShortLen(bucket, bits);
      } else if ((d & LEAF) == 0) push(d, bits, <u64>bucket << (64 - bits), 0);
      else { bucket++; shortLen = firstShortLen(bucket, bits); }
      continue;
    }
    const f = <usize>depth;
    const ref = load<u32>(F_REF + (f << 2));
    const c = load<u32>(F_SLOT + (f << 2));
    if (c == 64) {
      depth--;
      if (depth < 0) { bucket++; shortLen = firstShortLen(bucket, bits); }
      continue;
    }
    const off = load<u32>(F_OFF + (f << 2));
    const hi = load<u64>(F_HI + (f << 3));
    const lo = load<u64>(F_LO + (f << 3));
    if (ref & SINGLE) {
      out = emit(out, singlePrefixHi(ref, hi, off), singlePrefixLo(ref, lo, off), off + singleRel(ref), singleNh(ref));
      n++;
      store<u32>(F_SLOT + (f << 2), 64);
      continue;
    }
    // The routes starting at slot c, shorter first, as many as fit.
    let rel = load<u32>(F_REL + (f << 2));
    if (rel <= 6) {
      const map = mapOf(ref);
      const mlo = load<u64>(map);
      const mhi = load<u64>(map, 8);
      const phi = off < 64 ? withSlot(hi, off, c) : hi;
      const plo = off < 64 ? lo : withSlot(lo, off - 64, c);
      for (; rel <= 6 && n < max; rel++) {
        const i = (1 << rel) | (c >> (6 - rel));
        const present = i < 64 ? (mlo >> i) & 1 : (mhi >> (i - 64)) & 1;
        if (present == 0) continue;
        out = emit(out, phi, plo, off + rel, mapRoute(map, mlo, mhi, i));
        n++;
      }
      store<u32>(F_REL + (f << 2), rel);
      continue;
    }
    const next = nextSlot(load<u64>(F_MASK + (f << 3)), c + 1);
    store<u32>(F_SLOT + (f << 2), next);
    store<u32>(F_REL + (f << 2), firstRel(next & 63));
    if ((vectorOf(ref) >> c) & 1) {
      const phi = off < 64 ? withSlot(hi, off, c) : hi;
      const plo = off < 64 ? lo : withSlot(lo, off - 64, c);
      const child = load<u32>(childRefAddr(ref, c));
      if (child & SINGLE) {
        out = emit(out, singlePrefixHi(child, phi, off + 6), singlePrefixLo(child, plo, off + 6), off + 6 + singleRel(child), singleNh(child));
        n++;
      } else if ((child & FULL) == 0 && ownRoutes(child) <= max - n) {
        const before = out;
        out = emitLeafOnly(child, off + 6, phi, plo, out);
        n += <u32>((out - before) / recordSize(t.family));
      } else push(child, off + 6, phi, plo);
    }
  }
  return <i32>n;
}
