// One forwarding table (one address family): direct pointing on the top bits, Poptrie nodes
// below, the short routes (no longer than the direct bits) kept apart (short.ts).
//
//   lookup:  dir[top bits] ── leaf ──▶ next hop
//                 └─ node ref ──▶ 6-bit nodes … ──▶ leaf (NONE → the node's default)
//
// Prefixes are handled as 128 bits left-aligned in (hi, lo): an IPv4 prefix sits in the top
// 32 bits of hi. Nodes sit at offsets bits + 6k, and the direct bits are chosen so that no
// node's six bits straddle hi and lo (IPv4, 18 bits: nodes at 18, 24, 30; IPv6, 16 bits:
// 16, 22, … 58 in hi, then 64, … 124 in lo).
//
// Direct entries (4 bytes): bit 31 (LEAF) set: the answer, next hop in the low 24 bits;
// otherwise a node ref (node.ts). The direct table is cut into 2^regionBits regions (IPv4:
// one; IPv6: eight, one per /3), and a region's entries exist only while it holds a route
// longer than regionBits: until then one word answers for all of it. So an IPv6 table pays
// for 2000::/3, not for the seven /3s nobody routes.
//
// Updates run between lookups (an instance has one thread). A change to a node is built in
// a side buffer and published by one store of a ref or of a default word, so after every
// call each address resolves to its old or its new answer; a change that needs memory the
// budget cannot give is refused before anything is touched.

import { alloc, allocFixed, allocZeroed, free } from "./alloc";
import { routeHash } from "./digest";
import { buildSubtree } from "./build";
import { KEPT_CELLS, sketchAdd, sketchBytes, sketchRoute } from "./sketch";
import { iterBegin, iterNext } from "./iter";
import { OP_SET, recordOp, recordLen, recordHi, recordLo, recordNh } from "./records";
import { ShortRoutes, shortInit, shortGet, shortPut, shortBest, shortClear, shortBytes } from "./short";
import { bitsFrom, singleFits, singleIs, singleKey, singleMake, singleNew, singleNh, singleRel, singleSetNh } from "./single";
import {
  NONE, SINGLE, SINGLE_BYTES, addrOf, vectorOf, defaultOf, setDefaultField, childRefAddr, nodeBest, mapOf, mapGet, mapRoutes,
  imgLoad, imgEmpty, imgRoute, imgSetRoute, imgRemoveRoute, imgSetChild, imgRemoveChild,
  imgEmit, emitToNew, emitCommit, freeSubtree, blockSizeOf, lookupBytesOf, routeIndex,
} from "./node";

/** Status of a change. */
export const OK: u32 = 0;
/** The change needs memory beyond the budget; the table is unchanged. */
export const FULL_TABLE: u32 = 1;
/** A removal named a route that is not in the table. */
export const NOT_FOUND: u32 = 2;
/** Length beyond the family's width, or a next hop ≥ NONE. */
export const INVALID: u32 = 3;

@inline export const LEAF: u32 = 0x80000000;

@unmanaged export class Table {
  shortRoutes: usize; // ShortRoutes: routes of length ≤ bits
  regions: usize;    // 2^regionBits words: a region's entries (address), or LEAF | its answer
  counts: usize;     // 2^regionBits words: routes longer than regionBits in each region
  regionBits: u32;
  bits: u32;         // direct bits
  width: u32;        // 32 or 128
  family: u32;       // 4 or 6
  count: u32;        // routes held
  refused: u32;      // changes refused for lack of memory (counted by index.ts)
  generation: u32;   // bumped by every change; iterators check it
  digest: u64;
  pieces: usize;     // TOP_PIECES digests u64, then TOP_PIECES counts u32: see topPieces
  sketch: usize;     // the kept sketch of KEPT_CELLS cells, or 0: see tableKeepSketch
  sketchStale: bool; // the kept sketch is not kept up: see tableStaleSketch
}

/**
 * The table kept split in 2^TOP_BITS pieces by the first bits of the address, each with the
 * digest and the count of its routes, as ranges.ts would compute them for the whole family
 * split TOP_BITS down: a digest resync starts by comparing them, and keeping them costs an
 * add per change where computing them costs a walk of the table.
 */
// @ts-ignore: decorator
@inline export const TOP_BITS: u32 = 12;
// @ts-ignore: decorator
@inline const TOP_PIECES: usize = 1 << TOP_BITS;

/** Sets up a table with its fixed parts; false if out of memory. */
export function tableInit(t: Table, short: ShortRoutes, family: u32, width: u32, bits: u32, regionBits: u32): bool {
  t.shortRoutes = changetype<usize>(short);
  t.family = family;
  t.width = width;
  t.bits = bits;
  t.regionBits = regionBits;
  t.regions = allocFixed(4 << regionBits);
  t.counts = allocFixed(4 << regionBits);
  t.pieces = allocFixed(<u32>TOP_PIECES * 12);
  if (t.regions == 0 || t.counts == 0 || t.pieces == 0 || !shortInit(short, bits)) return false;
  memory.fill(t.pieces, 0, TOP_PIECES * 12);
  for (let r: u32 = 0; r < (1 << regionBits); r++) store<u32>(t.regions + (<usize>r << 2), LEAF | NONE);
  // A table of one region keeps it for good: it is the whole direct table.
  if (regionBits == 0 && !regionOpen(t, 0)) return false;
  t.count = 0;
  t.digest = 0;
  t.sketch = 0;
  t.sketchStale = false;
  t.generation++;
  return true;
}

/**
 * Has the table keep a sketch (sketch.ts) of its routes as it changes, of KEPT_CELLS cells:
 * a digest resync then folds the sketch it sends out of it instead of walking the table.
 * Only of an empty table, which it need not walk. False, with nothing kept, if memory
 * cannot hold it.
 */
export function tableKeepSketch(t: Table): bool {
  if (t.sketch != 0) return true;
  if (t.count != 0) return false;
  t.sketch = allocZeroed(<u32>sketchBytes(t.family, KEPT_CELLS));
  return t.sketch != 0;
}

/**
 * Stops keeping the kept sketch up until tableRefreshSketch: for a batch of changes about
 * as large as the table, which one walk afterwards costs less than (and costs off the path
 * that programs the table).
 */
export function tableStaleSketch(t: Table): void {
  if (t.sketch != 0) t.sketchStale = true;
}

/**
 * Begins making a stale kept sketch current by a walk of the table, taken a step at a time
 * (tableRefreshStep) so that a node goes on with its work between steps: empties the
 * sketch and returns the walk's id (iter.ts).
 */
export function tableRefreshBegin(t: Table): u32 {
  if (t.sketch != 0) memory.fill(t.sketch, 0, sketchBytes(t.family, KEPT_CELLS));
  return iterBegin(t);
}

/**
 * Adds the next routes of walk `id`, at most `room` through `scratch`, to the stale kept
 * sketch. Returns how many; 0 when the walk is over and the sketch current (or not stale,
 * or none); -1 when the table changed or another walk began since: begin again.
 */
export function tableRefreshStep(t: Table, id: u32, scratch: usize, room: u32): i32 {
  if (t.sketch == 0 || !t.sketchStale) return 0;
  const got = iterNext(id, scratch, room);
  if (got > 0) sketchAdd(t.family, scratch, <u32>got, t.sketch, KEPT_CELLS, 1);
  else if (got == 0) t.sketchStale = false;
  return got;
}

/** Stops keeping the sketch and frees its memory, for routes to use; whether one was kept. */
export function tableDropSketch(t: Table): bool {
  if (t.sketch == 0) return false;
  free(t.sketch, <u32>sketchBytes(t.family, KEPT_CELLS));
  t.sketch = 0;
  return true;
}

@inline function shortOf(t: Table): ShortRoutes {
  return changetype<ShortRoutes>(t.shortRoutes);
}

@inline function regionShift(t: Table): u32 {
  return t.bits - t.regionBits;
}

/** The direct entry of bucket b: a node ref, or LEAF | the answer. */
export function dirRead(t: Table, b: u32): u32 {
  const r = load<u32>(t.regions + (<usize>(b >> regionShift(t)) << 2));
  if (r & LEAF) return r;
  return load<u32>(<usize>r + (<usize>(b & ((1 << regionShift(t)) - 1)) << 2));
}

/** Address of bucket b's direct entry; its region's entries must exist. */
@inline function dirAddr(t: Table, b: u32): usize {
  return <usize>load<u32>(t.regions + (<usize>(b >> regionShift(t)) << 2)) + (<usize>(b & ((1 << regionShift(t)) - 1)) << 2);
}

/** Makes region r's entries exist, each answering what the region answered; false if out of memory. */
function regionOpen(t: Table, r: u32): bool {
  const at = t.regions + (<usize>r << 2);
  const answer = load<u32>(at);
  if ((answer & LEAF) == 0) return true;
  const n = <usize>1 << regionShift(t);
  const entries = regionBitsFixed(t) ? allocFixed(<u32>(n << 2)) : alloc(<u32>(n << 2));
  if (entries == 0) return false;
  for (let i: usize = 0; i < n; i++) store<u32>(entries + (i << 2), answer);
  store<u32>(at, <u32>entries);
  return true;
}

@inline function regionBitsFixed(t: Table): bool {
  return t.regionBits == 0;
}

/** Region r holds no route longer than regionBits: its entries go, one word answers for it. */
function regionClose(t: Table, r: u32): void {
  if (regionBitsFixed(t)) return;
  const at = t.regions + (<usize>r << 2);
  const entries = <usize>load<u32>(at);
  if (load<u32>(at) & LEAF) return;
  store<u32>(at, LEAF | shortBest(shortOf(t), r << regionShift(t)));
  free(entries, 4 << regionShift(t));
}

/** Closes region r if a refused change opened it for nothing. */
function closeIfEmpty(t: Table, r: u32): void {
  if (load<u32>(t.counts + (<usize>r << 2)) == 0) regionClose(t, r);
}

/** Removes every route and frees every node. */
export function tableClear(t: Table): void {
  const regions: u32 = 1 << t.regionBits;
  const n: u32 = 1 << regionShift(t);
  for (let r: u32 = 0; r < regions; r++) {
    const entries = load<u32>(t.regions + (<usize>r << 2));
    if (entries & LEAF) continue;
    for (let i: u32 = 0; i < n; i++) {
      const e = <usize>entries + (<usize>i << 2);
      const d = load<u32>(e);
      if ((d & LEAF) == 0) freeSubtree(d);
      store<u32>(e, LEAF | NONE);
    }
    store<u32>(t.counts + (<usize>r << 2), 0);
    regionClose(t, r);
  }
  shortClear(shortOf(t));
  for (let r: u32 = 0; r < regions; r++) {
    const at = t.regions + (<usize>r << 2);
    if (load<u32>(at) & LEAF) store<u32>(at, LEAF | NONE);
  }
  t.count = 0;
  t.digest = 0;
  memory.fill(t.pieces, 0, TOP_PIECES * 12);
  if (t.sketch != 0) memory.fill(t.sketch, 0, sketchBytes(t.family, KEPT_CELLS));
  t.sketchStale = false;
  t.generation++;
}

/** The six bits of the prefix at offset o (zero past the width). */
@inline export function slotAt(hi: u64, lo: u64, o: u32): u32 {
  return o < 64 ? <u32>((hi << o) >> 58) : <u32>((lo << (o - 64)) >> 58);
}

/**
 * Sets the default of a node and, through children whose slot no route of this node covers,
 * of the nodes below it. Each store is one word: lookups see the old or the new default.
 */
function pushDefault(ref: u32, nh: u32): void {
  if (defaultOf(ref) == nh) return;
  setDefaultField(ref, nh);
  let v = vectorOf(ref);
  while (v != 0) {
    const s = <u32>ctz(v);
    if (nodeBest(ref, s) == NONE) pushDefault(load<u32>(childRefAddr(ref, s)), nh);
    v &= v - 1;
  }
}

/** After a change to a node's routes over slots [first, first+n), refreshes its children's defaults. */
function refreshChildDefaults(ref: u32, first: u32, n: u32): void {
  const dflt = defaultOf(ref);
  let v = vectorOf(ref) & (n == 64 ? <u64>-1 : ((((<u64>1) << n) - 1) << first));
  while (v != 0) {
    const s = <u32>ctz(v);
    const own = nodeBest(ref, s);
    pushDefault(load<u32>(childRefAddr(ref, s)), own != NONE ? own : dflt);
    v &= v - 1;
  }
}

function account(t: Table, hi: u64, lo: u64, len: u32, oldNh: u32, newNh: u32): void {
  const piece = t.pieces + (<usize>(hi >> (64 - TOP_BITS)) << 3);
  const pieceCount = t.pieces + (TOP_PIECES << 3) + (<usize>(hi >> (64 - TOP_BITS)) << 2);
  let delta: u64 = 0;
  if (oldNh != NONE) {
    const h = routeHash(t.family, hi, lo, len, oldNh);
    delta -= h;
    if (t.sketch != 0 && !t.sketchStale) sketchRoute(t.family, t.sketch, KEPT_CELLS, hi, lo, len, oldNh, h, -1);
  } else {
    t.count++;
    store<u32>(pieceCount, load<u32>(pieceCount) + 1);
  }
  if (newNh != NONE) {
    const h = routeHash(t.family, hi, lo, len, newNh);
    delta += h;
    if (t.sketch != 0 && !t.sketchStale) sketchRoute(t.family, t.sketch, KEPT_CELLS, hi, lo, len, newNh, h, 1);
  } else {
    t.count--;
    store<u32>(pieceCount, load<u32>(pieceCount) - 1);
  }
  t.digest += delta;
  store<u64>(piece, load<u64>(piece) + delta);
  t.generation++;
  if (len > t.regionBits && (oldNh == NONE || newNh == NONE)) {
    const r = t.regionBits == 0 ? 0 : <u32>(hi >> (64 - t.regionBits));
    const at = t.counts + (<usize>r << 2);
    const n = load<u32>(at) + (newNh != NONE ? 1 : -1);
    store<u32>(at, n);
    if (n == 0) regionClose(t, r);
  }
}

@inline function maskHi(hi: u64, len: u32): u64 {
  return len == 0 ? 0 : len >= 64 ? hi : hi & ~((<u64>-1) >> len);
}
@inline function maskLo(lo: u64, len: u32): u64 {
  return len <= 64 ? 0 : len >= 128 ? lo : lo & ~((<u64>-1) >> (len - 64));
}

/**
 * Sets (nh < NONE) or removes (nh == NONE) the route hi:lo/len. Host bits are ignored.
 * Returns OK, FULL_TABLE (nothing changed), NOT_FOUND (removing an absent route) or INVALID.
 */
export function tableSet(t: Table, hi: u64, lo: u64, len: u32, nh: u32): u32 {
  if (len > t.width || nh > NONE) return INVALID;
  hi = maskHi(hi, len);
  lo = maskLo(lo, len);
  return len <= t.bits ? setShort(t, hi, len, nh) : setDeep(t, hi, lo, len, nh);
}

function setShort(t: Table, hi: u64, len: u32, nh: u32): u32 {
  const top = len == 0 ? 0 : <u32>(hi >> (64 - len));
  const old = shortGet(shortOf(t), len, top);
  if (old == nh) return nh == NONE ? NOT_FOUND : OK;
  const first = top << (t.bits - len);
  const region = first >> regionShift(t);
  if (len > t.regionBits && !regionOpen(t, region)) return FULL_TABLE;
  if (!shortPut(shortOf(t), len, top, nh)) {
    closeIfEmpty(t, region);
    return FULL_TABLE;
  }
  const n: u32 = 1 << (t.bits - len);
  for (let b = first; b < first + n; b++) {
    const region = t.regions + (<usize>(b >> regionShift(t)) << 2);
    if (load<u32>(region) & LEAF) {
      // A region without entries: one answer for all of it (no route in it is longer than regionBits).
      store<u32>(region, LEAF | shortBest(shortOf(t), b));
      b |= (1 << regionShift(t)) - 1;
      continue;
    }
    const best = shortBest(shortOf(t), b);
    const e = dirAddr(t, b);
    const d = load<u32>(e);
    if (d & LEAF) store<u32>(e, LEAF | best);
    else pushDefault(d, best);
  }
  account(t, hi, 0, len, old, nh);
  return OK;
}

// The path from the direct table down to the node being changed: the address of each
// node's ref, and the slot taken below it. 19 levels cover IPv6 from 16 bits.
const PATH_REF: usize = memory.data(24 * 4);
const PATH_SLOT: usize = memory.data(24 * 4);
let pathBucket: u32 = 0;    // the direct entry the path starts from

@inline function targetOffset(bits: u32, len: u32): u32 {
  return bits + 6 * ((len - bits - 1) / 6);
}

function setDeep(t: Table, hi: u64, lo: u64, len: u32, nh: u32): u32 {
  const bits = t.bits;
  const target = targetOffset(bits, len);
  const bucket = <u32>(hi >> (64 - bits));
  if (nh == NONE && (dirRead(t, bucket) & LEAF) != 0) return NOT_FOUND;
  if (!regionOpen(t, bucket >> regionShift(t))) return FULL_TABLE;
  pathBucket = bucket;
  let refAddr = dirAddr(t, bucket);
  let ref = load<u32>(refAddr);
  if (ref & LEAF) {
    if (nh == NONE) return NOT_FOUND;
    const made = newSubtree(hi, lo, len, bits, nh, ref & NONE);
    if (made == 0) {
      closeIfEmpty(t, bucket >> regionShift(t));
      return FULL_TABLE;
    }
    store<u32>(refAddr, made);
    account(t, hi, lo, len, NONE, nh);
    return OK;
  }
  let depth: u32 = 0;
  let o = bits;
  let expandedAt: usize = 0;      // ref address of the deepest single expanded for this insert
  let expandedDepth: u32 = 0;
  while (true) {
    if (ref & SINGLE) {
      if (singleIs(ref, bitsFrom(hi, lo, o), len - o)) {
        const old = singleNh(ref);
        if (old == nh) return OK;
        if (nh != NONE) singleSetNh(ref, nh);
        else {
          store<u32>(refAddr, EMPTY);
          collapse(t, refAddr, depth);
          free(addrOf(ref), SINGLE_BYTES);
        }
        account(t, hi, lo, len, old, nh);
        return OK;
      }
      if (nh == NONE) return NOT_FOUND;
      // Another route joins this subtree: it becomes a regular node holding the single's route.
      const expanded = expandSingle(ref);
      if (expanded == 0) return FULL_TABLE;
      store<u32>(refAddr, expanded);
      free(addrOf(ref), SINGLE_BYTES);
      ref = expanded;
      expandedAt = refAddr;
      expandedDepth = depth;
    }
    let status: u32;
    if (o == target) status = changeNode(t, refAddr, depth, o, hi, lo, len, nh);
    else {
      const s = slotAt(hi, lo, o);
      if (((vectorOf(ref) >> s) & 1) != 0) {
        store<u32>(PATH_REF + (<usize>depth << 2), <u32>refAddr);
        store<u32>(PATH_SLOT + (<usize>depth << 2), s);
        depth++;
        refAddr = childRefAddr(ref, s);
        ref = load<u32>(refAddr);
        o += 6;
        continue;
      }
      if (nh == NONE) return NOT_FOUND;
      status = growAt(t, refAddr, s, o, hi, lo, len, nh);
    }
    // A refused insert leaves the table as it was, expanded singles folded back too.
    if (status == FULL_TABLE && expandedAt != 0) collapse(t, expandedAt, expandedDepth);
    if (status == FULL_TABLE) closeIfEmpty(t, bucket >> regionShift(t));
    return status;
  }
  return OK;
}

/** A ref marking a subtree emptied during a removal, until collapse() takes it out. */
@inline const EMPTY: u32 = 0;

/**
 * A new subtree at offset o holding only the route hi:lo/len: a single-route node, below a
 * chain of pass-through nodes when the route is more than 32 bits deeper than o. 0 if out
 * of memory (nothing is left allocated).
 */
function newSubtree(hi: u64, lo: u64, len: u32, o: u32, nh: u32, dflt: u32): u32 {
  if (singleFits(len, o)) return singleNew(hi, lo, len, o, nh, dflt);
  const child = newSubtree(hi, lo, len, o + 6, nh, dflt);
  if (child == 0) return 0;
  imgEmpty(dflt);
  imgSetChild(slotAt(hi, lo, o), child);
  imgEmit();
  const ref = emitToNew();
  if (ref == 0) freeSubtree(child);
  return ref;
}

/** The regular node equivalent to a single-route node (the route as its own, or below one slot); 0 if out of memory. */
function expandSingle(single: u32): u32 {
  const key = singleKey(single);
  const rel = singleRel(single);
  const dflt = defaultOf(single);
  const slot = <u32>(key >> 58);
  imgEmpty(dflt);
  let child: u32 = 0;
  if (rel <= 6) {
    imgSetRoute(routeIndex(rel, slot), singleNh(single));
  } else {
    child = singleMake(key << 6, rel - 6, singleNh(single), dflt);
    if (child == 0) return 0;
    imgSetChild(slot, child);
  }
  imgEmit();
  const ref = emitToNew();
  if (ref == 0 && child != 0) free(addrOf(child), SINGLE_BYTES);
  return ref;
}

/** Sets or removes the route hi:lo/len in the regular node at offset o whose ref is at `refAddr`. */
function changeNode(t: Table, refAddr: usize, depth: u32, o: u32, hi: u64, lo: u64, len: u32, nh: u32): u32 {
  const idx = routeIndex(len - o, slotAt(hi, lo, o));
  imgLoad(load<u32>(refAddr));
  const old = imgRoute(idx);
  if (old == nh) return nh == NONE ? NOT_FOUND : OK;
  if (nh == NONE) imgRemoveRoute(idx); else imgSetRoute(idx, nh);
  imgEmit();
  if (!emitCommit(refAddr)) return FULL_TABLE;
  const rel = 31 - clz(idx);
  const span: u32 = 64 >> rel;
  refreshChildDefaults(load<u32>(refAddr), (idx - (1 << rel)) * span, span);
  if (nh == NONE) collapse(t, refAddr, depth);
  account(t, hi, lo, len, old, nh);     // last: it may free the region the path runs through
  return OK;
}

/** Links a new subtree for hi:lo/len into empty slot s of the regular node at offset o whose ref is at `refAddr`. */
function growAt(t: Table, refAddr: usize, s: u32, o: u32, hi: u64, lo: u64, len: u32, nh: u32): u32 {
  const ref = load<u32>(refAddr);
  const own = nodeBest(ref, s);
  const child = newSubtree(hi, lo, len, o + 6, nh, own != NONE ? own : defaultOf(ref));
  if (child == 0) return FULL_TABLE;
  imgLoad(ref);
  imgSetChild(s, child);
  imgEmit();
  if (!emitCommit(refAddr)) {
    freeSubtree(child);
    return FULL_TABLE;
  }
  account(t, hi, lo, len, NONE, nh);
  return OK;
}

/**
 * After a removal, shrinks the subtree from the node whose ref is at `refAddr` (`depth`
 * levels below the direct table) upwards: an EMPTY ref or a node with neither routes
 * nor children is taken out of its parent; a node left with one route and no children, or
 * with one single-route child and no routes, becomes a single-route node. Each step only
 * shrinks blocks in place or takes 12 bytes for a single-route node (skipped if memory is
 * short): removals never fail for lack of memory.
 */
function collapse(t: Table, refAddr: usize, depth: u32): void {
  const bucketOf = pathBucket;
  while (true) {
    const ref = load<u32>(refAddr);
    let replacement: u32 = EMPTY;
    if (ref != EMPTY) {
      if (ref & SINGLE) return;
      replacement = ref;
      const v = vectorOf(ref);
      const map = mapOf(ref);
      const routes = mapRoutes(map);
      if (v == 0 && routes == 0) {
        replacement = EMPTY;
      } else if (v == 0 && routes == 1) {
        const lo64 = load<u64>(map);
        const idx = lo64 != 0 ? <u32>ctz(lo64) : 64 + <u32>ctz(load<u64>(map, 8));
        const rel = 31 - clz(idx);
        const key = <u64>((idx - (1 << rel)) << (6 - rel)) << 58;
        const single = singleMake(key, rel, mapGet(map, idx), defaultOf(ref));
        if (single != 0) replacement = single;
      } else if (routes == 0 && popcnt(v) == 1) {
        const s = <u32>ctz(v);
        const child = load<u32>(childRefAddr(ref, s));
        if ((child & SINGLE) != 0 && singleRel(child) <= 26) {
          const single = singleMake((<u64>s << 58) | (singleKey(child) >> 6), singleRel(child) + 6, singleNh(child), defaultOf(ref));
          if (single != 0) replacement = single;
        }
      }
      if (replacement == ref) return;
      freeSubtree(ref);
    }
    if (replacement != EMPTY) {
      store<u32>(refAddr, replacement);
    } else if (depth == 0) {
      store<u32>(refAddr, LEAF | shortBest(shortOf(t), bucketOf));
    } else {
      const parentAddr = <usize>load<u32>(PATH_REF + (<usize>(depth - 1) << 2));
      imgLoad(load<u32>(parentAddr));
      imgRemoveChild(load<u32>(PATH_SLOT + (<usize>(depth - 1) << 2)));
      imgEmit();
      emitCommit(parentAddr);
    }
    if (depth == 0) return;
    depth--;
    refAddr = <usize>load<u32>(PATH_REF + (<usize>depth << 2));
  }
}

/**
 * Sets the run of routes that starts at the n change records at p (`size` bytes each) when
 * they fill an empty place of the table: an empty slot of the direct table, or an empty
 * child slot of a node below one (where a sorted batch cut in the middle of a bucket goes
 * on). The run is the set records longer than that place's offset, masked, with valid next
 * hops, under the same place, in strict prefix order; its subtree is built at once
 * (build.ts), which is what single sets would have left. Returns how many records it set
 * (all OK); 0 when the records at p do not start such a run (a remove, a short route, a
 * route into an existing node's own routes or a single-route node), so they take tableSet
 * one by one; −k when memory could not hold the run of k, with the table unchanged, so
 * those k take tableSet one by one and as many fit as can.
 */
export function tableBuild(t: Table, p: usize, n: u32, size: usize): i32 {
  const family = t.family;
  if (!buildable(t, p)) return 0;
  const hi = recordHi(p, family);
  const lo = recordLo(p, family);
  const len = recordLen(p);
  const bucket = <u32>(hi >> (64 - t.bits));
  // Find the empty place: the bucket itself, or the first empty slot on the route's path.
  let o = t.bits;
  let parentAddr: usize = 0;          // ref address of the node whose slot is empty; 0: the bucket
  let slot: u32 = 0;
  let dflt: u32;
  let ref = dirRead(t, bucket);
  if (ref & LEAF) {
    dflt = ref & NONE;
  } else {
    // A lone route is no run: tableSet places it with no second walk down.
    if (n < 2 || !buildable(t, p + size) || <u32>(recordHi(p + size, family) >> (64 - t.bits)) != bucket) return 0;
    parentAddr = dirAddr(t, bucket);
    while (true) {
      if ((ref & SINGLE) != 0 || len <= o + 6) return 0;
      slot = slotAt(hi, lo, o);
      if (((vectorOf(ref) >> slot) & 1) == 0) break;
      parentAddr = childRefAddr(ref, slot);
      ref = load<u32>(parentAddr);
      o += 6;
    }
    const own = nodeBest(ref, slot);
    dflt = own != NONE ? own : defaultOf(ref);
    o += 6;
  }
  // The run: the records that share the route's first o bits (its place) and go deeper.
  const keepHi: u64 = o >= 64 ? <u64>-1 : ~((<u64>-1) >> o);
  const keepLo: u64 = o <= 64 ? 0 : ~((<u64>-1) >> (o - 64));
  const placeHi = hi & keepHi;
  const placeLo = lo & keepLo;
  let k: u32 = 1;
  let q = p + size;
  for (; k < n; k++, q += size) {
    if (!buildable(t, q) || (recordHi(q, family) & keepHi) != placeHi || (recordLo(q, family) & keepLo) != placeLo
      || recordLen(q) <= o || !before(q - size, q, family)) break;
  }
  const region = bucket >> regionShift(t);
  if (!regionOpen(t, region)) return -<i32>k;
  const child = buildSubtree(family, p, k, size, o, dflt);
  if (child == 0) {
    closeIfEmpty(t, region);
    return -<i32>k;
  }
  if (parentAddr == 0) {
    store<u32>(dirAddr(t, bucket), child);
  } else {
    imgLoad(ref);
    imgSetChild(slot, child);
    imgEmit();
    if (!emitCommit(parentAddr)) {
      freeSubtree(child);
      return -<i32>k;
    }
  }
  for (let i: u32 = 0, q = p; i < k; i++, q += size) account(t, recordHi(q, family), recordLo(q, family), recordLen(q), NONE, recordNh(q, family));
  return <i32>k;
}

/** Whether the record at p can go into a built subtree: a masked set of a deep route. */
@inline function buildable(t: Table, p: usize): bool {
  const len = recordLen(p);
  const hi = recordHi(p, t.family);
  const lo = recordLo(p, t.family);
  return recordOp(p) == OP_SET && len > t.bits && len <= t.width && recordNh(p, t.family) < NONE
    && maskHi(hi, len) == hi && maskLo(lo, len) == lo;
}

/** Whether the record at a comes strictly before the one at b in prefix order. */
@inline function before(a: usize, b: usize, family: u32): bool {
  const ah = recordHi(a, family), bh = recordHi(b, family);
  if (ah != bh) return ah < bh;
  const al = recordLo(a, family), bl = recordLo(b, family);
  if (al != bl) return al < bl;
  return recordLen(a) < recordLen(b);
}

/** Next hop stored for exactly hi:lo/len, or NONE. */
export function tableGet(t: Table, hi: u64, lo: u64, len: u32): u32 {
  if (len > t.width) return NONE;
  hi = maskHi(hi, len);
  lo = maskLo(lo, len);
  const bits = t.bits;
  if (len <= bits) return shortGet(shortOf(t), len, len == 0 ? 0 : <u32>(hi >> (64 - len)));
  const target = targetOffset(bits, len);
  let ref = dirRead(t, <u32>(hi >> (64 - bits)));
  if (ref & LEAF) return NONE;
  let o = bits;
  while (true) {
    if (ref & SINGLE) return singleIs(ref, bitsFrom(hi, lo, o), len - o) ? singleNh(ref) : NONE;
    if (o == target) return mapGet(mapOf(ref), routeIndex(len - o, slotAt(hi, lo, o)));
    const s = slotAt(hi, lo, o);
    if (((vectorOf(ref) >> s) & 1) == 0) return NONE;
    ref = load<u32>(childRefAddr(ref, s));
    o += 6;
  }
  return NONE;
}

// --- statistics ------------------------------------------------------------------------
//
// tableStats writes, at `out`, seven u32: bytes (all the table holds), lookup bytes (what
// lookups read), full nodes, leaf-only nodes, single-route nodes, leaves, routes.

let statBytes: u32 = 0;
let statLookupBytes: u32 = 0;
let statFull: u32 = 0;
let statLeafOnly: u32 = 0;
let statSingles: u32 = 0;
let statLeaves: u32 = 0;

function statSubtree(ref: u32): void {
  statBytes += blockSizeOf(ref);
  statLookupBytes += lookupBytesOf(ref);
  if (ref & SINGLE) { statSingles++; return; }
  statLeaves += <u32>popcnt(load<u64>(addrOf(ref)));
  let v = vectorOf(ref);
  if (v == 0) { statLeafOnly++; return; }
  statFull++;
  let p = addrOf(ref) + 20;
  while (v != 0) {
    statSubtree(load<u32>(p));
    p += 4;
    v &= v - 1;
  }
}

export function tableStats(t: Table, out: usize): void {
  const n = <usize>1 << t.bits;
  statLookupBytes = 4 << t.regionBits;
  for (let r: u32 = 0; r < (1 << t.regionBits); r++) {
    if ((load<u32>(t.regions + (<usize>r << 2)) & LEAF) == 0) statLookupBytes += 4 << regionShift(t);
  }
  statBytes = statLookupBytes + (4 << t.regionBits) + <u32>shortBytes(shortOf(t));
  statFull = 0;
  statLeafOnly = 0;
  statSingles = 0;
  statLeaves = 0;
  for (let b: u32 = 0; b < <u32>n; b++) {
    const d = dirRead(t, b);
    if ((d & LEAF) == 0) statSubtree(d);
  }
  store<u32>(out, statBytes);
  store<u32>(out, statLookupBytes, 4);
  store<u32>(out, statFull, 8);
  store<u32>(out, statLeafOnly, 12);
  store<u32>(out, statSingles, 16);
  store<u32>(out, statLeaves, 20);
  store<u32>(out, t.count, 24);
}
