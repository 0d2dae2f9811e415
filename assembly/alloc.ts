// Block allocator for the FIB.
//
// Everything the FIB owns lives in linear memory above the module's static data:
//
//   __heap_base                                                    top         budget end
//   │ used map │ fixed regions (direct tables, pointers, I/O) │ blocks… │ fresh memory │
//
// Blocks come in 4-byte granules. The used map has one bit per granule of the budget (set:
// allocated), 1/32 of it. Free blocks are merged with their free neighbours as they are
// freed, so memory released by removals serves later inserts of any size, and a free block
// that reaches `top` gives its memory back to the fresh end. Free blocks of 12 bytes or
// more sit on doubly linked lists, one per size up to MAX_BLOCK and one for larger sizes
// (what the table frees is at least 12 bytes); a free gap of 4 or 8 bytes, left by a block
// shrunk in place, is on no list and waits for a neighbour to be freed. Every free block
// carries its size at both ends, so a block being freed finds the extent of a free
// neighbour in one load, whichever side it is on (the used map only says whether it is
// free); a table freed block by block costs linear time, not a scan of the free run so far:
//
//   listed:  ┌ next u32 ┬ prev u32 ┬ size u32 ┬ … ┬ size u32 ┐   (12 bytes: the size once)
//   gap:     ┌ size u32 ┬ (8 bytes: size u32) ┐
//
// A request is served from its own size's list, else from fresh memory, else by splitting
// the smallest larger free block. Memory grows a page at a time up to the host's maximum
// (the card's RAM budget); when nothing can serve a request, alloc returns 0 and the caller
// refuses the change, leaving the table as it was.

/** Largest block kept on an exact-size list, in bytes. */
export const MAX_BLOCK: u32 = 4096;

const CLASSES: u32 = MAX_BLOCK / 4 + 2;          // 4k for k = 3..1024 (2: unused), and the large list
const LARGE: u32 = CLASSES - 1;
const WORDS: u32 = (CLASSES + 63) / 64;
const heads: usize = memory.data(4 * CLASSES);
const nonEmpty: usize = memory.data(8 * WORDS);  // bit k: list k has a block

let used: usize = 0;      // the used map
let base: usize = 0;      // address of granule 0
let top: usize = 0;       // start of fresh memory
let end: usize = 0;       // end of memory grown so far
let limit: usize = 0;     // end of the budget
let live: usize = 0;
// Memory from here up has never been handed out since the instance started: it is still
// the zeroes the host grew it with. Zeroing it again would only fault in pages the table
// may never use (each first touch of a page costs the kernel, and a VM's host, a fault).
let untouched: usize = 0;

/**
 * Resets the allocator to an empty heap for a budget of `budget` bytes of linear memory.
 * Returns false if the budget cannot hold the used map.
 */
export function allocReset(budget: usize): bool {
  base = (__heap_base + 7) & ~(<usize>7);
  end = <usize>memory.size() << 16;
  limit = budget;
  live = 0;
  memory.fill(heads, 0, 4 * CLASSES);
  memory.fill(nonEmpty, 0, 8 * WORDS);
  const granules = budget > base ? (budget - base) >> 2 : 0;
  const mapBytes = <u32>(((granules + 63) >> 6) << 3);
  used = base;
  top = base;
  if (untouched == 0) untouched = base;
  if (!grow(base + mapBytes)) return false;
  zeroBelow(used, mapBytes, untouched);
  top = base + mapBytes;
  untouched = max(untouched, top);
  mark(base, mapBytes, true);
  live = mapBytes;
  return true;
}

/** Zeroes the part of the size bytes at p that lies below `clean` (from there up they are zero). */
function zeroBelow(p: usize, size: u32, clean: usize): void {
  if (p < clean) memory.fill(p, 0, min(p + <usize>size, clean) - p);
}

@inline function roundUp(size: u32): u32 {
  return (size + 3) & ~3;
}

/**
 * Makes memory reach newTop, within the budget. Grows by at least an eighth of the memory
 * so that a table filling up grows it O(log n) times: every grow hands the host a new
 * buffer, and the host's garbage collector pays for each.
 */
function grow(newTop: usize): bool {
  if (newTop > limit) return false;
  if (newTop <= end) return true;
  const needed = <i32>((newTop - end + 0xffff) >>> 16);
  const room = <i32>((limit - end) >>> 16);
  const wanted = min(max(needed, <i32>(end >>> 19)), room);
  let pages = wanted;
  if (memory.grow(pages) < 0) {
    pages = needed;
    if (pages == wanted || memory.grow(pages) < 0) return false;
  }
  end += <usize>pages << 16;
  return true;
}

// --- the used map ----------------------------------------------------------------------

function mark(p: usize, size: u32, on: bool): void {
  let g = (p - base) >> 2;
  let n = <usize>size >> 2;
  while (n > 0) {
    const bit = g & 63;
    const take = min<usize>(64 - bit, n);
    const mask = (take == 64 ? <u64>-1 : (((<u64>1) << take) - 1)) << bit;
    const w = used + ((g >> 6) << 3);
    store<u64>(w, on ? load<u64>(w) | mask : load<u64>(w) & ~mask);
    g += take;
    n -= take;
  }
}

@inline function isUsed(p: usize): bool {
  const g = (p - base) >> 2;
  return ((load<u64>(used + ((g >> 6) << 3)) >> (g & 63)) & 1) != 0;
}

/** Size of the free block that starts at p: a gap's first word is its size, a listed block's is a link (an address or 0). */
@inline function freeSizeAt(p: usize): u32 {
  const first = load<u32>(p);
  return first == 4 || first == 8 ? first : load<u32>(p, 8);
}

// --- free lists ------------------------------------------------------------------------

@inline function classOf(size: u32): u32 {
  return size <= MAX_BLOCK ? size >> 2 : LARGE;
}

function link(p: usize, size: u32): void {
  store<u32>(p + size - 4, size);
  if (size < 12) {                     // a gap: on no list
    store<u32>(p, size);
    return;
  }
  const k = classOf(size);
  const head = heads + (<usize>k << 2);
  const first = load<u32>(head);
  store<u32>(p, first);
  store<u32>(p, 0, 4);
  store<u32>(p, size, 8);
  if (first != 0) store<u32>(<usize>first, <u32>p, 4);
  store<u32>(head, <u32>p);
  const w = nonEmpty + (<usize>(k >> 6) << 3);
  store<u64>(w, load<u64>(w) | ((<u64>1) << (k & 63)));
}

function unlink(p: usize, size: u32): void {
  if (size < 12) return;
  const k = classOf(size);
  const next = load<u32>(p);
  const prev = load<u32>(p, 4);
  if (next != 0) store<u32>(<usize>next, prev, 4);
  if (prev != 0) store<u32>(<usize>prev, next);
  else {
    store<u32>(heads + (<usize>k << 2), next);
    if (next == 0) {
      const w = nonEmpty + (<usize>(k >> 6) << 3);
      store<u64>(w, load<u64>(w) & ~((<u64>1) << (k & 63)));
    }
  }
}

/** The smallest non-empty list above k, or 0. */
function largerClass(k: u32): u32 {
  let word = (k + 1) >> 6;
  if (word >= WORDS) return 0;
  let bits = load<u64>(nonEmpty + (<usize>word << 3)) & ((<u64>-1) << ((k + 1) & 63));
  while (bits == 0) {
    if (++word >= WORDS) return 0;
    bits = load<u64>(nonEmpty + (<usize>word << 3));
  }
  return (word << 6) + <u32>ctz(bits);
}

// --- allocation ------------------------------------------------------------------------

/** Allocates a block of at least `size` bytes (4-byte aligned, contents undefined); 0 if out of memory. */
export function alloc(size: u32): usize {
  size = roundUp(size);
  if (size < 8) size = 8;
  let p: usize = 0;
  const k = classOf(size);
  if (k != LARGE) {
    p = <usize>load<u32>(heads + (<usize>k << 2));
    if (p != 0) unlink(p, size);
  }
  if (p == 0 && grow(top + size)) {
    p = top;
    top += size;
    if (top > untouched) untouched = top;
  }
  if (p == 0) {
    // Split a larger free block: the smallest larger class, else the first large one that fits.
    let have: u32 = 0;
    const j = k == LARGE ? LARGE : largerClass(k);
    if (j != 0 && j != LARGE) {
      p = <usize>load<u32>(heads + (<usize>j << 2));
      have = j << 2;
    } else {
      let q = <usize>load<u32>(heads + (<usize>LARGE << 2));
      while (q != 0 && load<u32>(q, 8) < size) q = <usize>load<u32>(q);
      if (q != 0) { p = q; have = load<u32>(q, 8); }
    }
    if (p == 0) return 0;
    unlink(p, have);
    if (have > size) link(p + size, have - size);
  }
  mark(p, size, true);
  live += size;
  return p;
}

/**
 * Allocates a zeroed block that is never freed; 0 if out of memory. Fixed regions are taken
 * at start-up, one after another from fresh memory, in multiples of 8: they are 8-aligned.
 */
export function allocFixed(size: u32): usize {
  return allocZeroed((size + 7) & ~7);
}

/** Allocates a zeroed block of at least `size` bytes, to be freed like any; 0 if out of memory. */
export function allocZeroed(size: u32): usize {
  const clean = untouched;
  const p = alloc(size);
  if (p != 0) zeroBelow(p, size, clean);
  return p;
}

/**
 * Frees `size` bytes at p: a whole block as allocated, or the tail of one (a block may be
 * shrunk in place by freeing its tail). Merges the freed bytes with free neighbours.
 */
export function free(p: usize, size: u32): void {
  size = roundUp(size);
  if (size == 0) return;
  live -= size;
  mark(p, size, false);
  let start = p;
  let stop = p + size;
  if (start > base && !isUsed(start - 4)) {
    start = p - <usize>load<u32>(p - 4);
    unlink(start, <u32>(p - start));
  }
  if (stop < top && !isUsed(stop)) {
    const size = freeSizeAt(stop);
    unlink(stop, size);
    stop += size;
  }
  if (stop == top) top = start;       // back to fresh memory
  else link(start, <u32>(stop - start));
}

/** Bytes in blocks currently allocated (with the used map). */
export function liveBytes(): usize {
  return live;
}

/** Bytes between the heap base and fresh memory: live bytes plus free blocks. */
export function heapBytes(): usize {
  return top - base;
}
