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
// otherwise a node ref (node.ts).
//
// Updates run between lookups (an instance has one thread). A change to a node is built in
// a side buffer and published by one store of a ref or of a default word, so after every
// call each address resolves to its old or its new answer; a change that needs memory the
// budget cannot give is refused before anything is touched.

import { allocFixed, free } from "./alloc";
import { routeHash } from "./digest";
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
  dir: usize;        // direct table, 4 bytes per entry
  bits: u32;         // direct bits
  width: u32;        // 32 or 128
  family: u32;       // 4 or 6
  count: u32;        // routes held
  refused: u32;      // changes refused for lack of memory
  generation: u32;   // bumped by every change; iterators check it
  digest: u64;
}

/** Sets up a table with its fixed regions; false if out of memory. */
export function tableInit(t: Table, short: ShortRoutes, family: u32, width: u32, bits: u32): bool {
  t.shortRoutes = changetype<usize>(short);
  t.family = family;
  t.width = width;
  t.bits = bits;
  t.dir = allocFixed(4 << bits);
  if (t.dir == 0 || !shortInit(short, bits)) return false;
  tableReset(t);
  return true;
}

@inline function shortOf(t: Table): ShortRoutes {
  return changetype<ShortRoutes>(t.shortRoutes);
}

function tableReset(t: Table): void {
  const n = <usize>1 << t.bits;
  for (let i: usize = 0; i < n; i++) store<u32>(t.dir + (i << 2), LEAF | NONE);
  t.count = 0;
  t.digest = 0;
  t.generation++;
}

/** Removes every route and frees every node. */
export function tableClear(t: Table): void {
  const n = <usize>1 << t.bits;
  for (let i: usize = 0; i < n; i++) {
    const d = load<u32>(t.dir + (i << 2));
    if ((d & LEAF) == 0) freeSubtree(d);
  }
  shortClear(shortOf(t));
  tableReset(t);
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
  if (oldNh != NONE) t.digest -= routeHash(t.family, hi, lo, len, oldNh); else t.count++;
  if (newNh != NONE) t.digest += routeHash(t.family, hi, lo, len, newNh); else t.count--;
  t.generation++;
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
  const status = len <= t.bits ? setShort(t, hi, len, nh) : setDeep(t, hi, lo, len, nh);
  if (status == FULL_TABLE) t.refused++;
  return status;
}

function setShort(t: Table, hi: u64, len: u32, nh: u32): u32 {
  const top = len == 0 ? 0 : <u32>(hi >> (64 - len));
  const old = shortGet(shortOf(t), len, top);
  if (old == nh) return nh == NONE ? NOT_FOUND : OK;
  if (!shortPut(shortOf(t), len, top, nh)) return FULL_TABLE;
  const first = top << (t.bits - len);
  const n: u32 = 1 << (t.bits - len);
  for (let b = first; b < first + n; b++) {
    const best = shortBest(shortOf(t), b);
    const e = t.dir + (<usize>b << 2);
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

@inline function targetOffset(bits: u32, len: u32): u32 {
  return bits + 6 * ((len - bits - 1) / 6);
}

function setDeep(t: Table, hi: u64, lo: u64, len: u32, nh: u32): u32 {
  const bits = t.bits;
  const target = targetOffset(bits, len);
  let refAddr = t.dir + (<usize>(hi >> (64 - bits)) << 2);
  let ref = load<u32>(refAddr);
  if (ref & LEAF) {
    if (nh == NONE) return NOT_FOUND;
    const made = newSubtree(hi, lo, len, bits, nh, ref & NONE);
    if (made == 0) return FULL_TABLE;
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
    return status;
  }
  return OK;
}

/** A ref marking a subtree emptied during a removal, until collapse() takes it out. */
@inline const EMPTY: u32 = 0;

/**
 * A new subtree at offset o holding only the route hi:lo/len: a single-route node, below a
 * chain of pass-through nodes when the route is more than 64 bits deeper than o. 0 if out
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
  account(t, hi, lo, len, old, nh);
  if (nh == NONE) collapse(t, refAddr, depth);
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
 * shrinks blocks in place or takes 16 bytes for a single-route node (skipped if memory is
 * short): removals never fail for lack of memory.
 */
function collapse(t: Table, refAddr: usize, depth: u32): void {
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
        if ((child & SINGLE) != 0 && singleRel(child) <= 58) {
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
      store<u32>(refAddr, LEAF | shortBest(shortOf(t), <u32>((refAddr - t.dir) >> 2)));
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

/** Next hop stored for exactly hi:lo/len, or NONE. */
export function tableGet(t: Table, hi: u64, lo: u64, len: u32): u32 {
  if (len > t.width) return NONE;
  hi = maskHi(hi, len);
  lo = maskLo(lo, len);
  const bits = t.bits;
  if (len <= bits) return shortGet(shortOf(t), len, len == 0 ? 0 : <u32>(hi >> (64 - len)));
  const target = targetOffset(bits, len);
  let ref = load<u32>(t.dir + (<usize>(hi >> (64 - bits)) << 2));
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
  statLookupBytes = <u32>(n << 2);
  statBytes = statLookupBytes + <u32>shortBytes(shortOf(t));
  statFull = 0;
  statLeafOnly = 0;
  statSingles = 0;
  statLeaves = 0;
  for (let i: usize = 0; i < n; i++) {
    const d = load<u32>(t.dir + (i << 2));
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
