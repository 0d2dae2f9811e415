// Table sketches: an invertible Bloom lookup table of a set of routes (Eppstein, Goodrich,
// Uyeda and Varghese, "What's the Difference?", SIGCOMM 2011). Two nodes whose tables
// differ by d routes find those routes from sketches of about 1.5·d cells, however large
// the tables: each node adds its routes to a sketch of the agreed size, one subtracts the
// other's, and peeling the result lists the routes only one side holds, and which side.
//
// A sketch is `cells` cells (a multiple of K); a route goes into one cell of each of K
// equal parts. A cell, family words W (IPv4 3, IPv6 6):
//
//   ┌ count i32 ┬ check u32 ┬ key: W × u32 ┐
//
// key: the XOR of the keys of the routes in the cell. A route's key is its change record
// (records.ts) with op and status zero: len << 8, the address words, the next hop.
// check: the XOR of their checks, the low 32 bits of each route's hash (digest.ts).
// count: routes added less routes taken away.
//
// A cell is pure when it holds what one route left: count ±1 and a check that is its
// key's. Peeling takes a pure cell's route out of its K cells, which may leave others
// pure, until none is; the difference is whole only if every cell is then empty.

import { routeHash } from "./digest";
import { recordSize, recordLen, recordHi, recordLo, recordNh, writeRecord, OP_SET, OP_REMOVE } from "./records";

/** Cells each route goes into, one per part. */
// @ts-ignore: decorator
@inline export const K: u32 = 3;

/**
 * Cells of the sketch a table keeps as it changes (table.ts). A route's cell in a part of m
 * cells is ⌊x·m / 2^32⌋ for its part's hash x, so in a part of m/k cells it is that cell's
 * index div k: a sketch of any size whose parts divide KEPT_CELLS/K folds out of the kept
 * one (sketchFold) with no walk of the table. 6300 cells a part (2²·3²·5²·7) has a divisor
 * within a few per cent of most sizes, and is enough for a 1% difference in the real IPv4
 * table; an IPv4 sketch this size is 378 KB, which a core's cache mostly holds.
 */
// @ts-ignore: decorator
@inline export const KEPT_CELLS: u32 = 3 * 6300;

/** Where sketchRoute writes the key of the route it toggles. */
const routeKey = memory.data(24);

@inline function keyWords(family: u32): u32 {
  return family == 6 ? 6 : 3;
}

@inline function cellBytes(family: u32): usize {
  return (<usize>keyWords(family) + 2) << 2;
}

@inline function mix(h: u64, j: u32): u64 {
  let k = h + (<u64>(j + 1) * 0x9e3779b97f4a7c15);
  k ^= k >> 32;
  k *= 0xd6e8feb86659fd93;
  k ^= k >> 32;
  return k;
}

/** The cell of part j that a route of hash h goes into: part j spans [j·m, (j+1)·m). */
@inline function cellOf(h: u64, j: u32, m: u32): u32 {
  return j * m + <u32>(((mix(h, j) >> 32) * <u64>m) >> 32);
}

/** The hash of the route whose key is at p. */
@inline function keyHash(family: u32, p: usize): u64 {
  return routeHash(family, recordHi(p, family), recordLo(p, family), recordLen(p), recordNh(p, family));
}

/** XORs the key at `key` into the cell at `cell` and adds `sign` to its count. */
@inline function toggle(family: u32, cell: usize, key: usize, check: u32, sign: i32): void {
  store<i32>(cell, load<i32>(cell) + sign);
  store<u32>(cell, load<u32>(cell, 4) ^ check, 4);
  const w = keyWords(family);
  for (let i: u32 = 0; i < w; i++) {
    const at = cell + 8 + (<usize>i << 2);
    store<u32>(at, load<u32>(at) ^ load<u32>(key + (<usize>i << 2)));
  }
}

/** Toggles the route whose key is at `key` and hash h in its cell of each part (m cells a part). */
@inline function toggleRoute(family: u32, sketch: usize, m: u32, key: usize, h: u64, sign: i32): void {
  const bytes = cellBytes(family);
  for (let j: u32 = 0; j < K; j++) toggle(family, sketch + <usize>cellOf(h, j, m) * bytes, key, <u32>h, sign);
}

/** Sketch bytes: cells × cell size. */
export function sketchBytes(family: u32, cells: u32): usize {
  return <usize>cells * cellBytes(family);
}

/**
 * Adds (sign 1) or takes away (sign -1) the n change records at `records` to or from the
 * sketch at `sketch`. Each record's op and status are cleared in place: the record is then
 * the route's key. `cells` must be a positive multiple of K.
 */
export function sketchAdd(family: u32, records: usize, n: u32, sketch: usize, cells: u32, sign: i32): void {
  const size = recordSize(family);
  const m = cells / K;
  for (let i: u32 = 0; i < n; i++) {
    const r = records + <usize>i * size;
    store<u32>(r, recordLen(r) << 8);
    toggleRoute(family, sketch, m, r, keyHash(family, r), sign);
  }
}

/**
 * Adds (sign 1) or takes away (sign -1) the route hi:lo/len → nh, whose hash (routeHash) is
 * h, to or from the sketch at `sketch`: what a table that keeps a sketch does per change.
 */
export function sketchRoute(family: u32, sketch: usize, cells: u32, hi: u64, lo: u64, len: u32, nh: u32, h: u64, sign: i32): void {
  writeRecord(routeKey, family, 0, hi, lo, len, nh);
  toggleRoute(family, sketch, cells / K, routeKey, h, sign);
}

/**
 * Writes at `out` the sketch of `cells` cells that the sketch at `from`, of `big` cells,
 * folds into: each cell the sum of the big/cells cells whose routes it would hold. `big / K`
 * must be a multiple of `cells / K`.
 */
export function sketchFold(family: u32, from: usize, big: u32, out: usize, cells: u32): void {
  const bytes = cellBytes(family);
  const m = cells / K;
  const k = big / cells;
  memory.fill(out, 0, <usize>cells * bytes);
  for (let j: u32 = 0; j < K; j++) {
    for (let i: u32 = 0; i < m; i++) {
      const cell = out + <usize>(j * m + i) * bytes;
      const first = from + <usize>(j * m * k + i * k) * bytes;
      for (let s: u32 = 0; s < k; s++) {
        const src = first + <usize>s * bytes;
        toggle(family, cell, src + 8, load<u32>(src, 4), load<i32>(src));
      }
    }
  }
}

/** Subtracts sketch b from sketch a, cell by cell, into a. */
export function sketchSubtract(family: u32, a: usize, b: usize, cells: u32): void {
  const bytes = cellBytes(family);
  for (let c: u32 = 0; c < cells; c++) {
    const at = <usize>c * bytes;
    toggle(family, a + at, b + at + 8, load<u32>(b + at, 4), -load<i32>(b + at));
  }
}

/** Whether cell c holds exactly one route: count ±1, its check that of its key, and c one of its cells. */
function pure(family: u32, sketch: usize, c: u32, m: u32): bool {
  const cell = sketch + <usize>c * cellBytes(family);
  const count = load<i32>(cell);
  if (count != 1 && count != -1) return false;
  const key = cell + 8;
  if ((load<u32>(key) & 0xffff00ff) != 0 || recordLen(key) > (family == 6 ? 128 : 32)) return false;
  const h = keyHash(family, key);
  return <u32>h == load<u32>(cell, 4) && cellOf(h, c / m, m) == c;
}

@inline function push(stack: usize, top: u32, c: u32): u32 {
  store<u32>(stack + (<usize>top << 2), c);
  return top + 1;
}

/**
 * Peels the sketch at `sketch` (a difference: one side's sketch less the other's), taking
 * it apart. Writes each route it finds at `out` as a change record, op 1 (set) where the
 * count was 1 (the side subtracted from holds it), op 2 (remove) where it was -1; `stack`
 * needs 4 × (cells + K × room) bytes. Returns how many, or -1 if the sketch does not come
 * apart (too small for the difference) or they would be more than `room`.
 */
export function sketchPeel(family: u32, sketch: usize, cells: u32, out: usize, room: u32, stack: usize): i32 {
  const bytes = cellBytes(family);
  const size = recordSize(family);
  const w = keyWords(family);
  const m = cells / K;
  let top: u32 = 0;
  for (let c: u32 = 0; c < cells; c++) {
    if (pure(family, sketch, c, m)) top = push(stack, top, c);
  }
  let n: u32 = 0;
  while (top > 0) {
    top--;
    const c = load<u32>(stack + (<usize>top << 2));
    // Another route's peeling may have emptied it, or made it hold two again.
    if (!pure(family, sketch, c, m)) continue;
    if (n == room) return -1;
    const cell = sketch + <usize>c * bytes;
    const sign = load<i32>(cell);
    const r = out + <usize>n * size;
    n++;
    for (let i: u32 = 0; i < w; i++) store<u32>(r + (<usize>i << 2), load<u32>(cell + 8 + (<usize>i << 2)));
    // Taken out by its copy in the record: the cell's own copy is cleared with the others.
    const h = keyHash(family, r);
    for (let j: u32 = 0; j < K; j++) {
      const d = cellOf(h, j, m);
      toggle(family, sketch + <usize>d * bytes, r, <u32>h, -sign);
      if (pure(family, sketch, d, m)) top = push(stack, top, d);
    }
    store<u32>(r, load<u32>(r) | (sign > 0 ? OP_SET : OP_REMOVE));
  }
  for (let c: u32 = 0; c < cells; c++) {
    const cell = sketch + <usize>c * bytes;
    if (load<i32>(cell) != 0 || load<u32>(cell, 4) != 0) return -1;
    for (let i: u32 = 0; i < w; i++) if (load<u32>(cell + 8 + (<usize>i << 2)) != 0) return -1;
  }
  return <i32>n;
}
