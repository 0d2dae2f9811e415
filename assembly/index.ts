// The line-card firmware: a forwarding table per address family, exported as a handful of
// functions with numeric arguments. Bulk data crosses through linear memory: the host asks
// init() for an I/O buffer and reads and writes batches there.
//
// Runtime: stub (no garbage collector). Nothing here allocates managed objects; all memory
// is the FIB's own (alloc.ts).

import { allocReset, allocFixed, liveBytes, heapBytes } from "./alloc";
import { nodeInit, NONE } from "./node";
import { Table, TOP_BITS, tableInit, tableSet, tableBuild, tableGet, tableClear, tableStats, tableKeepSketch, tableDropSketch, tableStaleSketch, tableRefreshBegin, tableRefreshStep, OK, INVALID, FULL_TABLE } from "./table";
import { OP_SET, OP_REMOVE, recordSize, recordOp, recordLen, recordHi, recordLo, recordNh, setRecordStatus } from "./records";
import { ShortRoutes } from "./short";
import { BITS4, BITS6, REGION_BITS6, lookup4 as lookupV4, lookup6 as lookupV6, lookup4Batch as batchV4, lookup6Batch as batchV6 } from "./lookup";
import { forward4Batch as forwardV4, forward6Batch as forwardV6 } from "./forward";
import { iterBegin as beginIteration, iterNext as nextRoutes, iterInit } from "./iter";
import { rangeDigests as rangeDigestsOf, shortHashes as shortHashesOf } from "./ranges";
import { snapshotChunk as snapshotChunkOf } from "./snapshot";
import { K, KEPT_CELLS, sketchAdd as sketchAddTo, sketchSubtract as sketchSubtractFrom, sketchPeel as peel, sketchFold as fold, sketchBytes } from "./sketch";
import { diffRecords, diffAdds, diffChanges, diffRemoves } from "./diff";
import { encodeRoutes as encodeWire, encodedBytes as wireBytes, decodeRoutes as decodeWire } from "./routecodec";

/** Bumped whenever an export changes meaning; the host refuses an image with another. */
const ABI_VERSION: u32 = 8;

const T4 = changetype<Table>(memory.data(offsetof<Table>()));
const T6 = changetype<Table>(memory.data(offsetof<Table>()));
const S4 = changetype<ShortRoutes>(memory.data(offsetof<ShortRoutes>()));
const S6 = changetype<ShortRoutes>(memory.data(offsetof<ShortRoutes>()));

/** The IPv4 direct table: one region, whose entries always exist. */
@inline function dir4(): usize {
  return <usize>load<u32>(T4.regions);
}

@inline function tableOf(family: u32): Table {
  return family == 6 ? T6 : T4;
}

export function abiVersion(): u32 {
  return ABI_VERSION;
}

/** The next hop that means "no route". */
export function noRoute(): u32 {
  return NONE;
}

/** The memory budget init() was given. */
let budgetBytes: usize = 0;

/**
 * Sets up both tables and an I/O buffer of `ioBytes` in a memory of at most `budget` bytes
 * (the maximum the host gave the memory); returns the buffer's address, or 0 if the budget
 * cannot hold them. Call once.
 */
export function init(ioBytes: u32, budget: u32): usize {
  if (!allocReset(budget)) return 0;
  budgetBytes = budget;
  nodeInit();
  iterInit();
  if (!tableInit(T4, S4, 4, 32, BITS4, 0) || !tableInit(T6, S6, 6, 128, BITS6, REGION_BITS6)) return 0;
  return allocFixed(ioBytes);
}

/** The kept sketches take at most 1/SKETCH_SHARE of the budget: small cards route instead. */
// @ts-ignore: decorator
@inline const SKETCH_SHARE: usize = 8;

/**
 * Has both tables keep their sketches (sketchKept) from now on, while both are empty and the
 * sketches take at most 1/SKETCH_SHARE of the budget; whether they do.
 */
export function keepSketches(): bool {
  if ((sketchBytes(4, KEPT_CELLS) + sketchBytes(6, KEPT_CELLS)) * SKETCH_SHARE > budgetBytes) return false;
  if (tableKeepSketch(T4) && tableKeepSketch(T6)) return true;
  dropSketches();
  return false;
}

/** Both tables stop keeping their sketches; whether either did. */
function dropSketches(): bool {
  const four = tableDropSketch(T4);
  const six = tableDropSketch(T6);
  return four || six;
}

/**
 * Sets (nh < NONE) or removes (nh == NONE) a route (tableSet). Routes come before the kept
 * sketches: a change refused for memory while a table keeps one is tried again once both
 * have given theirs up, and only a change refused then counts as refused.
 */
function setRoute(t: Table, hi: u64, lo: u64, len: u32, nh: u32): u32 {
  let status = tableSet(t, hi, lo, len, nh);
  if (status == FULL_TABLE && dropSketches()) status = tableSet(t, hi, lo, len, nh);
  if (status == FULL_TABLE) t.refused++;
  return status;
}

@inline function words(w0: u32, w1: u32): u64 {
  return (<u64>w0 << 32) | <u64>w1;
}

/** Sets addr/len → nh (IPv4). Returns a status: 0 ok, 1 full, 3 invalid. */
export function set4(addr: u32, len: u32, nh: u32): u32 {
  return nh >= NONE ? 3 : setRoute(T4, <u64>addr << 32, 0, len, nh);
}

/** Removes addr/len (IPv4). Returns 0 ok, 2 not found, 3 invalid. */
export function remove4(addr: u32, len: u32): u32 {
  return setRoute(T4, <u64>addr << 32, 0, len, NONE);
}

export function set6(w0: u32, w1: u32, w2: u32, w3: u32, len: u32, nh: u32): u32 {
  return nh >= NONE ? 3 : setRoute(T6, words(w0, w1), words(w2, w3), len, nh);
}

export function remove6(w0: u32, w1: u32, w2: u32, w3: u32, len: u32): u32 {
  return setRoute(T6, words(w0, w1), words(w2, w3), len, NONE);
}

/** Next hop stored for exactly addr/len, or noRoute(). */
export function get4(addr: u32, len: u32): u32 {
  return tableGet(T4, <u64>addr << 32, 0, len);
}

export function get6(w0: u32, w1: u32, w2: u32, w3: u32, len: u32): u32 {
  return tableGet(T6, words(w0, w1), words(w2, w3), len);
}

/**
 * For n change records at `p`: overwrites each record's next hop with the one stored for
 * exactly its prefix, or noRoute() (the op word is left as it is). One call for what would
 * be n get4/get6 calls: how a route processor compares its sources over many prefixes.
 */
export function getRecords(family: u32, p: usize, n: u32): void {
  const t = tableOf(family);
  const size = recordSize(family);
  const nhAt = size - 4;
  for (let i: u32 = 0; i < n; i++, p += size) {
    store<u32>(p + nhAt, tableGet(t, recordHi(p, family), recordLo(p, family), recordLen(p)));
  }
}

export function lookup4(addr: u32): u32 {
  return lookupV4(dir4(), addr);
}

export function lookup6(w0: u32, w1: u32, w2: u32, w3: u32): u32 {
  return lookupV6(T6.regions, words(w0, w1), words(w2, w3));
}

/** n IPv4 addresses (u32) at `input` → n next hops (u32) at `output`. */
export function lookup4Batch(input: usize, output: usize, n: u32): void {
  batchV4(dir4(), input, output, n);
}

/** n IPv6 addresses (4 × u32, most significant first) at `input` → n next hops at `output`. */
export function lookup6Batch(input: usize, output: usize, n: u32): void {
  batchV6(T6.regions, input, output, n);
}

/** n IPv4 addresses at `input`, looked up and counted per next hop into the counters at `table` (forward.ts). */
export function forward4(input: usize, n: u32, table: usize): void {
  forwardV4(dir4(), input, n, table);
}

/** The same for n IPv6 addresses (4 × u32, most significant first). */
export function forward6(input: usize, n: u32, table: usize): void {
  forwardV6(T6.regions, input, n, table);
}

/**
 * A batch of at least this many changes, and an eighth of the table or more, leaves the
 * kept sketch stale (tableStaleSketch): a walk later costs less than keeping it up.
 */
// @ts-ignore: decorator
@inline const BULK: u32 = 4096;

/**
 * Applies n change records (records.ts) at `p`, in order, writing each one's status into
 * its record; returns how many succeeded. A refused change does not stop the batch. Runs
 * of sets in prefix order that fill an empty part of the table are built at once: the
 * same outcome, several times faster (a snapshot into an empty card).
 */
export function apply(family: u32, p: usize, n: u32): u32 {
  const t = tableOf(family);
  if (n >= BULK && n >= t.count / 8) tableStaleSketch(t);
  const size = recordSize(family);
  let ok: u32 = 0;
  let oneByOne: usize = 0;    // records before this address go through tableSet
  for (let i: u32 = 0; i < n; i++, p += size) {
    if (p >= oneByOne) {
      const built = tableBuild(t, p, n - i, size);
      if (built > 0) {
        for (let k: i32 = 0; k < built; k++) setRecordStatus(p + <usize>k * size, OK);
        ok += <u32>built;
        i += <u32>built - 1;
        p += <usize>(built - 1) * size;
        continue;
      }
      if (built < 0) oneByOne = p + <usize>(-built) * size;
    }
    const op = recordOp(p);
    const nh = recordNh(p, family);
    let status: u32 = INVALID;
    if (op == OP_SET && nh < NONE) status = setRoute(t, recordHi(p, family), recordLo(p, family), recordLen(p), nh);
    else if (op == OP_REMOVE) status = setRoute(t, recordHi(p, family), recordLo(p, family), recordLen(p), NONE);
    setRecordStatus(p, status);
    if (status == OK) ok++;
  }
  return ok;
}

export function clear(family: u32): void {
  tableClear(tableOf(family));
}

export function count(family: u32): u32 {
  return tableOf(family).count;
}

/** Changes refused for lack of memory since init. */
export function refused(family: u32): u32 {
  return tableOf(family).refused;
}

/** Bumped by every change of the family's table: a host's cache of anything derived from it checks it. */
export function generation(family: u32): u32 {
  return tableOf(family).generation;
}

export function digest(family: u32): u64 {
  return tableOf(family).digest;
}

/**
 * Writes the digests and counts of the family's routes split 12 levels down at `out`, as
 * rangeDigests of the whole family at depth 12 does (4096 u64, then 4096 u32), from what
 * the table keeps as it changes: no walk.
 */
export function topPieces(family: u32, out: usize): void {
  memory.copy(out, tableOf(family).pieces, (<usize>1 << TOP_BITS) * 12);
}

/**
 * Writes the family's statistics at `out`, seven u32: bytes the table holds, bytes lookups
 * read, full nodes, leaf-only nodes, single-route nodes, leaves, routes. Walks the table.
 */
export function stats(family: u32, out: usize): void {
  tableStats(tableOf(family), out);
}

/** Bytes allocated from linear memory in all (tables, buffers). */
export function allocatedBytes(): u32 {
  return <u32>liveBytes();
}

/** Bytes of heap touched: allocated plus free-list slack. */
export function heapUsed(): u32 {
  return <u32>heapBytes();
}

/** Begins a walk of a family's routes; returns its id. One walk at a time: beginning one ends the last. */
export function iterBegin(family: u32): u32 {
  return beginIteration(tableOf(family));
}

/** Writes up to `max` routes of walk `id`, in prefix order, at `out` as change records; 0 at the end, -1 if the table changed or another walk began. */
export function iterNext(id: u32, out: usize, max: u32): i32 {
  return nextRoutes(id, out, max);
}


/**
 * Encodes up to n change records at `records` (in prefix order) as wire routes into `out`,
 * at most cap bytes (routecodec.ts); returns how many were encoded, encodedBytes() the size.
 */
export function encodeRoutes(family: u32, records: usize, n: u32, out: usize, cap: u32): u32 {
  return encodeWire(family, records, n, out, cap);
}

export function encodedBytes(): u32 {
  return wireBytes();
}

/** Decodes exactly `count` wire routes from `len` bytes into change records; count or a negative error. */
export function decodeRoutes(family: u32, input: usize, len: u32, count: u32, out: usize, allowRemove: bool): i32 {
  return decodeWire(family, input, len, count, out, allowRemove);
}

/**
 * The changes from na change records at `a` (old) to nb at `b` (new), both in prefix order,
 * written at `out` (room for na + nb records); returns how many. See diff.ts.
 */
export function diff(family: u32, a: usize, na: u32, b: usize, nb: u32, out: usize): u32 {
  return diffRecords(family, a, na, b, nb, out);
}

/** Adds, changes and removes of the last diff, at `out` (three u32). */
export function diffCounts(out: usize): void {
  store<u32>(out, diffAdds());
  store<u32>(out, diffChanges(), 4);
  store<u32>(out, diffRemoves(), 8);
}

@inline function hiOf(family: u32, w0: u32, w1: u32): u64 {
  return family == 6 ? words(w0, w1) : <u64>w0 << 32;
}

@inline function loOf(family: u32, w2: u32, w3: u32): u64 {
  return family == 6 ? words(w2, w3) : 0;
}

/**
 * Range digests of a family's routes with an address in w0..w3/plen, at least minLen long,
 * split `depth` levels down (ranges.ts): 2^depth u64 digests then as many u32 counts at
 * `out`, walking through `scratch` (room for `room` records). Returns 0, or 1 if depth or
 * plen is out of range.
 */
export function rangeDigests(family: u32, w0: u32, w1: u32, w2: u32, w3: u32, plen: u32, minLen: u32, depth: u32, out: usize, scratch: usize, room: u32): u32 {
  return rangeDigestsOf(tableOf(family), hiOf(family, w0, w1), loOf(family, w2, w3), plen, minLen, depth, out, scratch, room) ? 0 : 1;
}

/**
 * The low 32 bits of the digest (digest.ts) of each of the n change records at `records`,
 * as n u32 at `out` (the regions may be the same): a host that walked the table sums them
 * over any range it likes.
 */
export function shortHashes(family: u32, records: usize, n: u32, out: usize): void {
  shortHashesOf(family, records, n, out);
}

/**
 * Adds (sign 1) or takes away (sign -1) the n change records at `records` to or from the
 * table sketch at `sketch` (sketch.ts), `cells` cells; the records become their keys.
 */
export function sketchAdd(family: u32, records: usize, n: u32, sketch: usize, cells: u32, sign: i32): void {
  sketchAddTo(family, records, n, sketch, cells, sign);
}

/** Cells of the family's kept sketch, or 0 when the table keeps none. */
export function sketchKept(family: u32): u32 {
  return tableOf(family).sketch != 0 ? KEPT_CELLS : 0;
}

/** Whether the family's kept sketch is stale: a large batch went past it (apply), and sketchRefresh has not walked the table since. */
export function sketchStale(family: u32): bool {
  return tableOf(family).sketchStale;
}

/** Begins making the family's stale kept sketch current by a walk, a step at a time (sketchRefreshStep); returns the walk's id. */
export function sketchRefreshBegin(family: u32): u32 {
  return tableRefreshBegin(tableOf(family));
}

/**
 * The next step of walk `id`: up to `room` routes through `scratch` into the kept sketch.
 * How many; 0 when the sketch is current; -1 when the table changed or another walk began.
 */
export function sketchRefreshStep(family: u32, id: u32, scratch: usize, room: u32): i32 {
  return tableRefreshStep(tableOf(family), id, scratch, room);
}

/**
 * Writes at `out` the sketch of the family's routes of `cells` cells, folded out of the kept
 * one (sketch.ts): no walk. Returns false, writing nothing, when the table keeps none, when
 * it is stale, or when `cells / 3` does not divide sketchKept(family) / 3 (3: the parts, K).
 */
export function sketchFold(family: u32, out: usize, cells: u32): bool {
  const t = tableOf(family);
  if (t.sketch == 0 || t.sketchStale || cells == 0 || cells % K != 0 || (KEPT_CELLS / K) % (cells / K) != 0) return false;
  fold(family, t.sketch, KEPT_CELLS, out, cells);
  return true;
}

/** Subtracts sketch b from sketch a (both `cells` cells), into a. */
export function sketchSubtract(family: u32, a: usize, b: usize, cells: u32): void {
  sketchSubtractFrom(family, a, b, cells);
}

/**
 * Peels a sketch difference into change records at `out` (sets: routes of the side
 * subtracted from; removes: the other side's): how many, or -1 if it does not come apart
 * or they outnumber `room`. `stack`: 4 × (cells + 3 × room) bytes.
 */
export function sketchPeel(family: u32, sketch: usize, cells: u32, out: usize, room: u32, stack: usize): i32 {
  return peel(family, sketch, cells, out, room, stack);
}

/**
 * The next chunk of a snapshot of a family straight from the table (snapshot.ts): routes
 * of walk `id` encoded at `out`, at most cap bytes; how many, 0 at the end, -1 if stale.
 * `scratch` needs room for 1024 records.
 */
export function snapshotChunk(family: u32, id: u32, scratch: usize, out: usize, cap: u32): i32 {
  return snapshotChunkOf(tableOf(family), id, scratch, out, cap);
}
