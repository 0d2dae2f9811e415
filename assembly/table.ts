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
import {
  NONE, FULL, addrOf, vectorOf, defaultOf, setDefaultField, childRefAddr, nodeBest, mapOf, mapGet, mapRoutes,
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

// Blocks taken for a change not yet linked in, returned if a later allocation fails.
const PENDING_REF: usize = memory.data(24 * 4);
let pending: u32 = 0;

function holdPending(ref: u32): void {
  store<u32>(PENDING_REF + (<usize>pending << 2), ref);
  pending++;
}

function pendingRelease(): void {
  for (let i: u32 = 0; i < pending; i++) {
    const ref = load<u32>(PENDING_REF + (<usize>i << 2));
    free(addrOf(ref), blockSizeOf(ref));
  }
  pending = 0;
}

@inline function targetOffset(bits: u32, len: u32): u32 {
  return bits + 6 * ((len - bits - 1) / 6);
}

function setDeep(t: Table, hi: u64, lo: u64, len: u32, nh: u32): u32 {
  const bits = t.bits;
  const target = targetOffset(bits, len);
  const idx = routeIndex(len - target, slotAt(hi, lo, target));
  let refAddr = t.dir + (<usize>(hi >> (64 - bits)) << 2);
  const d = load<u32>(refAddr);
  if (d & LEAF) return nh == NONE ? NOT_FOUND : growPath(t, 0, bits, d & NONE, hi, lo, len, idx, nh);

  // Walk down the existing nodes towards the target.
  let depth: u32 = 0;
  let o = bits;
  let ref = d;
  while (o < target) {
    const s = slotAt(hi, lo, o);
    if (((vectorOf(ref) >> s) & 1) == 0) {
      if (nh == NONE) return NOT_FOUND;
      const own = nodeBest(ref, s);
      return growPath(t, refAddr, o + 6, own != NONE ? own : defaultOf(ref), hi, lo, len, idx, nh);
    }
    store<u32>(PATH_REF + (<usize>depth << 2), <u32>refAddr);
    store<u32>(PATH_SLOT + (<usize>depth << 2), s);
    depth++;
    refAddr = childRefAddr(ref, s);
    ref = load<u32>(refAddr);
    o += 6;
  }
  return changeNode(t, refAddr, depth, hi, lo, len, idx, nh);
}

/** Sets or removes route `idx` in the existing node whose ref is at `refAddr`. */
function changeNode(t: Table, refAddr: usize, depth: u32, hi: u64, lo: u64, len: u32, idx: u32, nh: u32): u32 {
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
  if (nh == NONE) pruneEmpty(refAddr, depth);
  return OK;
}

/**
 * Removes nodes left with neither routes nor children, from the one at `refAddr` upwards.
 * Removing a child only shrinks its parent's block, which is rewritten in place: pruning
 * never needs memory.
 */
function pruneEmpty(refAddr: usize, depth: u32): void {
  while (true) {
    const ref = load<u32>(refAddr);
    if ((ref & FULL) != 0 || mapRoutes(mapOf(ref)) != 0) return;
    if (depth == 0) {
      store<u32>(refAddr, LEAF | defaultOf(ref));
      freeSubtree(ref);
      return;
    }
    depth--;
    const parentAddr = <usize>load<u32>(PATH_REF + (<usize>depth << 2));
    imgLoad(load<u32>(parentAddr));
    imgRemoveChild(load<u32>(PATH_SLOT + (<usize>depth << 2)));
    imgEmit();
    emitCommit(parentAddr);
    freeSubtree(ref);
    refAddr = parentAddr;
  }
}

/**
 * Adds a route whose node does not exist yet: builds the new nodes from the target offset
 * up to offset `top`, then links the topmost in below the node whose ref is at `parentAddr`
 * (or into the direct table when parentAddr is 0). `dflt` is the answer the new nodes
 * inherit. All memory is taken before anything is linked.
 */
function growPath(
  t: Table, parentAddr: usize, top: u32, dflt: u32, hi: u64, lo: u64, len: u32, idx: u32, nh: u32,
): u32 {
  const target = targetOffset(t.bits, len);
  pending = 0;
  imgEmpty(dflt);
  imgSetRoute(idx, nh);
  imgEmit();
  let ref = emitToNew();
  if (ref == 0) return FULL_TABLE;
  holdPending(ref);
  for (let at = target; at > top; at -= 6) {
    imgEmpty(dflt);
    imgSetChild(slotAt(hi, lo, at - 6), ref);
    imgEmit();
    ref = emitToNew();
    if (ref == 0) { pendingRelease(); return FULL_TABLE; }
    holdPending(ref);
  }
  if (parentAddr == 0) {
    store<u32>(t.dir + (<usize>(hi >> (64 - t.bits)) << 2), ref);
  } else {
    imgLoad(load<u32>(parentAddr));
    imgSetChild(slotAt(hi, lo, top - 6), ref);
    imgEmit();
    if (!emitCommit(parentAddr)) { pendingRelease(); return FULL_TABLE; }
  }
  pending = 0;
  account(t, hi, lo, len, NONE, nh);
  return OK;
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
  for (let o = bits; o < target; o += 6) {
    const s = slotAt(hi, lo, o);
    if (((vectorOf(ref) >> s) & 1) == 0) return NONE;
    ref = load<u32>(childRefAddr(ref, s));
  }
  return mapGet(mapOf(ref), routeIndex(len - target, slotAt(hi, lo, target)));
}

// --- statistics ------------------------------------------------------------------------

let statNodes: u32 = 0;
let statLookupBytes: u64 = 0;
let statBytes: u64 = 0;

function statSubtree(ref: u32): void {
  statNodes++;
  statBytes += blockSizeOf(ref);
  statLookupBytes += lookupBytesOf(ref);
  let v = vectorOf(ref);
  let p = addrOf(ref) + 20;
  while (v != 0) {
    statSubtree(load<u32>(p));
    p += 4;
    v &= v - 1;
  }
}

function stats(t: Table): void {
  const n = <usize>1 << t.bits;
  statNodes = 0;
  statLookupBytes = <u64>(n << 2);
  statBytes = statLookupBytes + shortBytes(shortOf(t));
  for (let i: usize = 0; i < n; i++) {
    const d = load<u32>(t.dir + (i << 2));
    if ((d & LEAF) == 0) statSubtree(d);
  }
}

/** Bytes the table uses: direct table, short routes, node blocks. */
export function tableBytes(t: Table): u64 {
  stats(t);
  return statBytes;
}

/** Bytes that lookups read: the direct table, node headers, child refs and leaves. */
export function tableLookupBytes(t: Table): u64 {
  stats(t);
  return statLookupBytes;
}

/** Nodes below the direct table. */
export function tableNodes(t: Table): u32 {
  stats(t);
  return statNodes;
}
