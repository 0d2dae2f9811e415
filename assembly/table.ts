// One forwarding table (one address family): direct pointing on the top bits, Poptrie nodes
// below, and the short routes (length ≤ the direct bits) in a table of their own.
//
//   lookup:   dir[top bits] ── leaf ──▶ next hop
//                  └─ node record ──▶ 6-bit nodes … ──▶ leaf (NONE → the node's default)
//
// Prefixes are handled as 128 bits left-aligned in (hi, lo): an IPv4 prefix sits in the top
// 32 bits of hi. Node offsets are bits + 6k; the direct bits are chosen so that no node's six
// bits straddle hi and lo (IPv4: 12, 18, 24, 30; IPv6: 10, 16, …, 58, then 64, …, 124).
//
// Direct entries (4 bytes): bit 31 set: a leaf, next hop in the low 24 bits; otherwise the
// address of the node record for that range (a 24-byte block of its own).
//
// Short routes: `short[(1 << len) | prefix bits]` holds the next hop of the route of that
// length (0 ≤ len ≤ bits), NONE if absent; index 1 is the default route.
//
// Updates are applied between lookups (one thread per instance): a change to a node is
// built in a side buffer and committed with the record, so no call returns with a table in
// which an address resolves to anything but its old or its new answer; a change that needs
// memory the budget cannot give is refused before anything is touched.

import { alloc, allocFixed, free } from "./alloc";
import { routeHash } from "./digest";
import {
  NONE, RECORD, baseOf, vectorOf, defaultOf, setDefaultField, childRecord, nodeBest,
  imgLoad, imgEmpty, imgRoute, imgSetRoute, imgRemoveRoute, imgSetChild, imgRemoveChild,
  imgBest, imgEmit, imgRouteCount, imgVectorBits, emitToNew, emitCommit, emittedLeafvec,
  freeSubtree, blockSizeOf, routeIndex,
} from "./node";

/** Status of a change. */
export const OK: u32 = 0;
/** The change needs memory beyond the budget; the table is unchanged. */
export const FULL: u32 = 1;
/** A removal named a route that is not in the table. */
export const NOT_FOUND: u32 = 2;
/** Length beyond the family's width, or a next hop ≥ NONE. */
export const INVALID: u32 = 3;

@inline export const LEAF: u32 = 0x80000000;

@unmanaged export class Table {
  dir: usize;        // direct table, 4 bytes per entry
  short: usize;      // short routes by ART index, 4 bytes per entry
  bits: u32;         // direct bits
  width: u32;        // 32 or 128
  family: u32;       // 4 or 6
  count: u32;        // routes held
  refused: u32;      // routes refused for lack of memory
  generation: u32;   // bumped by every change; iterators check it
  digest: u64;
}

/** Allocates the fixed regions of a table with all entries empty; false if out of memory. */
export function tableInit(t: Table, family: u32, width: u32, bits: u32): bool {
  t.family = family;
  t.width = width;
  t.bits = bits;
  t.dir = allocFixed(4 << bits);
  t.short = allocFixed(8 << bits);
  if (t.dir == 0 || t.short == 0) return false;
  tableReset(t);
  return true;
}

function tableReset(t: Table): void {
  const n = <usize>1 << t.bits;
  for (let i: usize = 0; i < n; i++) store<u32>(t.dir + (i << 2), LEAF | NONE);
  for (let i: usize = 0; i < 2 * n; i++) store<u32>(t.short + (i << 2), NONE);
  t.count = 0;
  t.digest = 0;
  t.generation++;
}

/** Removes every route and frees every node. */
export function tableClear(t: Table): void {
  const n = <usize>1 << t.bits;
  for (let i: usize = 0; i < n; i++) {
    const d = load<u32>(t.dir + (i << 2));
    if ((d & LEAF) == 0) {
      freeSubtree(<usize>d);
      free(<usize>d, RECORD);
    }
  }
  tableReset(t);
}

/** The six bits of the prefix at offset o (zero past the width). */
@inline export function slotAt(hi: u64, lo: u64, o: u32): u32 {
  return o < 64 ? <u32>((hi << o) >> 58) : <u32>((lo << (o - 64)) >> 58);
}

/** Best short route covering direct entry b. */
function shortBest(t: Table, b: u32): u32 {
  for (let len = <i32>t.bits; len >= 0; len--) {
    const i = (1 << len) | (b >> (t.bits - <u32>len));
    const nh = load<u32>(t.short + (<usize>i << 2));
    if (nh != NONE) return nh;
  }
  return NONE;
}

/**
 * Sets the default of a node and, through children whose slot no route of this node covers,
 * of the nodes below it. Each store is one word: lookups see the old or the new default.
 */
function pushDefault(rec: usize, nh: u32): void {
  if (defaultOf(rec) == nh) return;
  setDefaultField(rec, nh);
  let v = vectorOf(rec);
  while (v != 0) {
    const c = <u32>ctz(v);
    if (nodeBest(rec, c) == NONE) pushDefault(childRecord(rec, c), nh);
    v &= v - 1;
  }
}

/** After a change to the node's routes over slots [first, first+n), refreshes its children's defaults. */
function refreshChildDefaults(rec: usize, first: u32, n: u32): void {
  const dflt = defaultOf(rec);
  let v = vectorOf(rec) & (n == 64 ? <u64>-1 : ((((<u64>1) << n) - 1) << first));
  while (v != 0) {
    const c = <u32>ctz(v);
    const own = nodeBest(rec, c);
    pushDefault(childRecord(rec, c), own != NONE ? own : dflt);
    v &= v - 1;
  }
}

function account(t: Table, hi: u64, lo: u64, len: u32, oldNh: u32, newNh: u32): void {
  if (oldNh != NONE) t.digest -= routeHash(t.family, hi, lo, len, oldNh); else t.count++;
  if (newNh != NONE) t.digest += routeHash(t.family, hi, lo, len, newNh); else t.count--;
  t.generation++;
}

/** Masks a prefix to its length. */
@inline function maskHi(hi: u64, len: u32): u64 {
  return len == 0 ? 0 : len >= 64 ? hi : hi & ~((<u64>-1) >> len);
}
@inline function maskLo(lo: u64, len: u32): u64 {
  return len <= 64 ? 0 : len >= 128 ? lo : lo & ~((<u64>-1) >> (len - 64));
}

/**
 * Sets (nh < NONE) or removes (nh == NONE) the route hi:lo/len. Host bits are ignored.
 * Returns OK, FULL (nothing changed), NOT_FOUND (removing an absent route) or INVALID.
 */
export function tableSet(t: Table, hi: u64, lo: u64, len: u32, nh: u32): u32 {
  if (len > t.width || nh > NONE) return INVALID;
  hi = maskHi(hi, len);
  lo = maskLo(lo, len);
  const status = len <= t.bits ? setShort(t, hi, len, nh) : setDeep(t, hi, lo, len, nh);
  if (status == FULL) t.refused++;
  return status;
}

function setShort(t: Table, hi: u64, len: u32, nh: u32): u32 {
  const bits = len == 0 ? 0 : <u32>(hi >> (64 - len));
  const slot = t.short + (<usize>((1 << len) | bits) << 2);
  const old = load<u32>(slot);
  if (old == nh) return nh == NONE ? NOT_FOUND : OK;
  store<u32>(slot, nh);
  const first = bits << (t.bits - len);
  const n: u32 = 1 << (t.bits - len);
  for (let b = first; b < first + n; b++) {
    const best = shortBest(t, b);
    const e = t.dir + (<usize>b << 2);
    const d = load<u32>(e);
    if (d & LEAF) store<u32>(e, LEAF | best);
    else pushDefault(<usize>d, best);
  }
  account(t, hi, 0, len, old, nh);
  return OK;
}

// The path from the direct table down to the node being changed: record addresses and the
// slot taken at each level. 20 levels cover IPv6 from 10 bits.
const PATH_REC: usize = memory.data(24 * 4);
const PATH_SLOT: usize = memory.data(24 * 4);

// Blocks allocated for a change not yet committed, freed if a later allocation fails.
const PENDING_ADDR: usize = memory.data(24 * 4);
const PENDING_SIZE: usize = memory.data(24 * 4);
let pending: u32 = 0;

function pendingAlloc(size: u32, fromEmit: bool): usize {
  const b = fromEmit ? emitToNew() : alloc(size);
  if (b == 0) {
    pendingRelease();
    return 0;
  }
  store<u32>(PENDING_ADDR + (<usize>pending << 2), <u32>b);
  store<u32>(PENDING_SIZE + (<usize>pending << 2), size);
  pending++;
  return b;
}

/** Frees the blocks of a change that could not be completed. */
function pendingRelease(): void {
  for (let i: u32 = 0; i < pending; i++) {
    free(<usize>load<u32>(PENDING_ADDR + (<usize>i << 2)), load<u32>(PENDING_SIZE + (<usize>i << 2)));
  }
  pending = 0;
}

function setDeep(t: Table, hi: u64, lo: u64, len: u32, nh: u32): u32 {
  const bits = t.bits;
  const target = bits + 6 * ((len - bits - 1) / 6);     // offset of the node that holds the route
  const rel = len - target;
  const idx = routeIndex(rel, slotAt(hi, lo, target));
  const entry = t.dir + (<usize>(hi >> (64 - bits)) << 2);
  const d = load<u32>(entry);

  // Walk down the existing nodes towards the target.
  let depth: u32 = 0;
  let rec: usize = 0;
  let o = bits;
  if ((d & LEAF) == 0) {
    rec = <usize>d;
    while (o < target) {
      const c = slotAt(hi, lo, o);
      if (((vectorOf(rec) >> c) & 1) == 0) break;
      store<u32>(PATH_REC + (<usize>depth << 2), <u32>rec);
      store<u32>(PATH_SLOT + (<usize>depth << 2), c);
      depth++;
      rec = childRecord(rec, c);
      o += 6;
    }
  }

  if (rec != 0 && o == target) return changeNode(t, rec, depth, entry, hi, lo, len, idx, nh);
  if (nh == NONE) return NOT_FOUND;
  return growPath(t, rec, o, d, entry, hi, lo, len, idx, nh);
}

/** Sets or removes route `idx` in the existing node at `rec`, at the end of the recorded path. */
function changeNode(
  t: Table, rec: usize, depth: u32, entry: usize, hi: u64, lo: u64, len: u32, idx: u32, nh: u32,
): u32 {
  imgLoad(rec);
  const old = imgRoute(idx);
  if (old == nh) return nh == NONE ? NOT_FOUND : OK;
  if (nh == NONE) imgRemoveRoute(idx); else imgSetRoute(idx, nh);
  imgEmit();
  if (!emitCommit(rec)) return FULL;
  const rel = 31 - clz(idx);
  const span: u32 = 64 >> rel;
  refreshChildDefaults(rec, (idx - (1 << rel)) * span, span);
  account(t, hi, lo, len, old, nh);
  if (nh == NONE) pruneEmpty(t, rec, depth, entry);
  return OK;
}

/**
 * Removes nodes left with neither routes nor children, from `rec` upwards. Removing a child
 * only shrinks its parent's block, which is rewritten in place: this never needs memory.
 */
function pruneEmpty(t: Table, rec: usize, depth: u32, entry: usize): void {
  while (vectorOf(rec) == 0 && nodeRouteCount(rec) == 0) {
    if (depth == 0) {
      const dflt = defaultOf(rec);
      store<u32>(entry, LEAF | dflt);
      freeSubtree(rec);
      free(rec, RECORD);
      return;
    }
    depth--;
    const parent = <usize>load<u32>(PATH_REC + (<usize>depth << 2));
    const c = load<u32>(PATH_SLOT + (<usize>depth << 2));
    freeSubtree(rec);
    imgLoad(parent);
    imgRemoveChild(c);
    imgEmit();
    emitCommit(parent);
    rec = parent;
  }
}

function nodeRouteCount(rec: usize): u32 {
  const map = baseOf(rec) + <usize>popcnt(vectorOf(rec)) * RECORD + <usize>popcnt(load<u64>(rec, 8)) * 3;
  return <u32>(popcnt(load<u64>(map)) + popcnt(load<u64>(map, 8)));
}

/**
 * Adds a route whose node does not exist yet: builds the new nodes from the target offset
 * up to the deepest existing node `rec` at offset `o` (or to the direct table when rec is 0),
 * then links them in. All memory is taken before anything is linked.
 */
function growPath(
  t: Table, rec: usize, o: u32, d: u32, entry: usize, hi: u64, lo: u64, len: u32, idx: u32, nh: u32,
): u32 {
  const bits = t.bits;
  const target = bits + 6 * ((len - bits - 1) / 6);
  const top = rec != 0 ? o + 6 : bits;               // offset of the first new node
  let dflt: u32;
  if (rec != 0) {
    const own = nodeBest(rec, slotAt(hi, lo, o));
    dflt = own != NONE ? own : defaultOf(rec);
  } else {
    dflt = d & ~LEAF;
  }

  pending = 0;
  // The node holding the route.
  imgEmpty();
  imgSetRoute(idx, nh);
  let size = imgEmit();
  let base = pendingAlloc(size, true);
  if (base == 0) return FULL;
  let vector: u64 = 0;
  let leafvec = emittedLeafvec();
  // Pass-through nodes above it, each with one child.
  for (let at = target; at > top; at -= 6) {
    imgEmpty();
    imgSetChild(slotAt(hi, lo, at - 6), vector, leafvec, base, dflt);
    size = imgEmit();
    base = pendingAlloc(size, true);
    if (base == 0) return FULL;
    vector = imgVectorBits();
    leafvec = emittedLeafvec();
  }
  // Link the new top node in.
  if (rec == 0) {
    const r = pendingAlloc(RECORD, false);
    if (r == 0) return FULL;
    store<u64>(r, vector);
    store<u64>(r, leafvec, 8);
    store<u32>(r, <u32>base, 16);
    store<u32>(r, dflt, 20);
    store<u32>(entry, <u32>r);
  } else {
    imgLoad(rec);
    imgSetChild(slotAt(hi, lo, o), vector, leafvec, base, dflt);
    imgEmit();
    if (!emitCommit(rec)) {
      pendingRelease();
      return FULL;
    }
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
  if (len <= bits) {
    const b = len == 0 ? 0 : <u32>(hi >> (64 - len));
    return load<u32>(t.short + (<usize>((1 << len) | b) << 2));
  }
  const target = bits + 6 * ((len - bits - 1) / 6);
  const d = load<u32>(t.dir + (<usize>(hi >> (64 - bits)) << 2));
  if (d & LEAF) return NONE;
  let rec = <usize>d;
  for (let o = bits; o < target; o += 6) {
    const c = slotAt(hi, lo, o);
    if (((vectorOf(rec) >> c) & 1) == 0) return NONE;
    rec = childRecord(rec, c);
  }
  imgLoad(rec);
  return imgRoute(routeIndex(len - target, slotAt(hi, lo, target)));
}

/** Bytes this table uses: its fixed regions, node records and node blocks. */
export function tableBytes(t: Table): u64 {
  const n = <usize>1 << t.bits;
  let bytes: u64 = <u64>(12 * n);
  for (let i: usize = 0; i < n; i++) {
    const d = load<u32>(t.dir + (i << 2));
    if ((d & LEAF) == 0) bytes += RECORD + subtreeBytes(<usize>d);
  }
  return bytes;
}

function subtreeBytes(rec: usize): u64 {
  let bytes: u64 = blockSizeOf(rec);
  let v = vectorOf(rec);
  const base = baseOf(rec);
  let c: usize = 0;
  while (v != 0) {
    bytes += subtreeBytes(base + c * RECORD);
    c++;
    v &= v - 1;
  }
  return bytes;
}

/** Number of nodes below the direct table (for statistics). */
export function tableNodes(t: Table): u32 {
  const n = <usize>1 << t.bits;
  let nodes: u32 = 0;
  for (let i: usize = 0; i < n; i++) {
    const d = load<u32>(t.dir + (i << 2));
    if ((d & LEAF) == 0) nodes += subtreeNodes(<usize>d);
  }
  return nodes;
}

function subtreeNodes(rec: usize): u32 {
  let nodes: u32 = 1;
  let v = vectorOf(rec);
  const base = baseOf(rec);
  let c: usize = 0;
  while (v != 0) {
    nodes += subtreeNodes(base + c * RECORD);
    c++;
    v &= v - 1;
  }
  return nodes;
}
