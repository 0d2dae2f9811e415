// Bulk build: a whole subtree made at once from routes in prefix order, each node emitted
// once, instead of one node rewrite per route. This is what a cold start and a full resync
// spend their time on: an empty slot of the direct table receiving all of its routes in a
// row, as snapshots and sorted batches deliver them.
//
// The routes under a node at offset o come in prefix order (address, then shorter first),
// so they split into the node's own routes (length ≤ o + 6) and, for each slot, one
// contiguous group of deeper routes, which becomes that slot's child. An own route covering
// a slot always comes before the slot's group, so a child's default is known before the
// child is built. The result is the node shape a run of single inserts would leave:
// one route alone in a subtree is a single-route node.

import { NONE, routeIndex, imgEmpty, imgSetRoute, imgSetChild, imgEmit, emitToNew, freeSubtree } from "./node";
import { singleFits, singleNew } from "./single";
import { recordLen, recordHi, recordLo, recordNh } from "./records";

/** Levels of nesting: IPv6 from 16 direct bits down to /128 takes 19. */
@inline const MAX_DEPTH: u32 = 20;

// Per level of the recursion: the node's own routes by route index, its children by slot.
const OWN: usize = memory.data(MAX_DEPTH * 128 * 4);
const CHILDREN: usize = memory.data(MAX_DEPTH * 64 * 4);

/** The six bits of hi:lo at offset o. */
@inline function slotOf(hi: u64, lo: u64, o: u32): u32 {
  return o < 64 ? <u32>((hi << o) >> 58) : <u32>((lo << (o - 64)) >> 58);
}

/**
 * The subtree at offset o holding the n records at p (`size` bytes each): set records in
 * strict prefix order, masked, all longer than o and agreeing on the bits above o, with
 * next hops below NONE. `dflt` answers where no route of the subtree does. Returns its
 * ref, or 0 when memory runs out, with nothing left allocated.
 */
export function buildSubtree(family: u32, p: usize, n: u32, size: usize, o: u32, dflt: u32): u32 {
  return subtree(family, p, n, size, o, dflt, 0);
}

function subtree(family: u32, p: usize, n: u32, size: usize, o: u32, dflt: u32, depth: u32): u32 {
  if (n == 1 && singleFits(recordLen(p), o)) {
    return singleNew(recordHi(p, family), recordLo(p, family), recordLen(p), o, recordNh(p, family), dflt);
  }
  return buildNode(family, p, n, size, o, dflt, depth);
}

function buildNode(family: u32, p: usize, n: u32, size: usize, o: u32, dflt: u32, depth: u32): u32 {
  const own = OWN + <usize>depth * 128 * 4;
  const children = CHILDREN + <usize>depth * 64 * 4;
  let mapLo: u64 = 0;
  let mapHi: u64 = 0;
  const end = p + <usize>n * size;
  for (let q = p; q < end; q += size) {
    const rel = recordLen(q) - o;
    if (rel > 6) continue;
    const i = routeIndex(rel, slotOf(recordHi(q, family), recordLo(q, family), o));
    if (i < 64) mapLo |= (<u64>1) << i; else mapHi |= (<u64>1) << (i - 64);
    store<u32>(own + (<usize>i << 2), recordNh(q, family));
  }
  let vector: u64 = 0;
  let q = p;
  while (q < end) {
    if (recordLen(q) - o <= 6) { q += size; continue; }
    const s = slotOf(recordHi(q, family), recordLo(q, family), o);
    let groupEnd = q + size;
    while (groupEnd < end && recordLen(groupEnd) - o > 6 && slotOf(recordHi(groupEnd, family), recordLo(groupEnd, family), o) == s) groupEnd += size;
    const inherited = ownBest(own, mapLo, mapHi, s);
    const count = <u32>((groupEnd - q) / size);
    const child = subtree(family, q, count, size, o + 6, inherited != NONE ? inherited : dflt, depth + 1);
    if (child == 0) {
      freeChildren(children, vector);
      return 0;
    }
    store<u32>(children + (<usize>s << 2), child);
    vector |= (<u64>1) << s;
    q = groupEnd;
  }
  imgEmpty(dflt);
  let m = mapLo;
  while (m != 0) { const i = <u32>ctz(m); imgSetRoute(i, load<u32>(own + (<usize>i << 2))); m &= m - 1; }
  m = mapHi;
  while (m != 0) { const i = 64 + <u32>ctz(m); imgSetRoute(i, load<u32>(own + (<usize>i << 2))); m &= m - 1; }
  let v = vector;
  while (v != 0) { const s = <u32>ctz(v); imgSetChild(s, load<u32>(children + (<usize>s << 2))); v &= v - 1; }
  imgEmit();
  const ref = emitToNew();
  if (ref == 0) freeChildren(children, vector);
  return ref;
}

/** Next hop of the longest own route (as gathered in `own`) covering slot s, or NONE. */
@inline function ownBest(own: usize, mapLo: u64, mapHi: u64, s: u32): u32 {
  if ((mapHi >> s) & 1) return load<u32>(own + ((64 + <usize>s) << 2));
  for (let rel: i32 = 5; rel >= 1; rel--) {
    const i = routeIndex(<u32>rel, s);
    if ((mapLo >> i) & 1) return load<u32>(own + (<usize>i << 2));
  }
  return NONE;
}

function freeChildren(children: usize, vector: u64): void {
  while (vector != 0) {
    const ref = load<u32>(children + (<usize>ctz(vector) << 2));
    freeSubtree(ref);
    vector &= vector - 1;
  }
}
