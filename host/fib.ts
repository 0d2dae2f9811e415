// The forwarding table: a typed wrapper over the firmware (assembly/), instantiated from the
// same bytes that are flashed onto a card, inside a memory whose maximum is the card's RAM.
//
// Next hops are ids 0 .. MAX_NEXTHOP (24 bits); the next-hop table that gives them meaning
// is host/nexthops.ts. Lookups answer an id or NO_ROUTE.

import { instantiateSync } from "@assemblyscript/loader";
import { Addr, Family, Prefix } from "./netip.ts";

/** The ABI this host speaks; an image exporting another abiVersion() is refused. */
export const ABI_VERSION = 8;
/** Lookup answer when no route matches. */
export const NO_ROUTE = 0xffffff;
/** Largest next-hop id. */
export const MAX_NEXTHOP = NO_ROUTE - 1;

/** Outcome of a change. "full": the card's memory cannot hold it, the table is unchanged. */
export type Status = "ok" | "full" | "not-found" | "invalid";
const STATUS: readonly Status[] = ["ok", "full", "not-found", "invalid"];

export interface FibOptions {
  /** The card's RAM budget for the whole module, in MiB (default 16). */
  memoryMiB?: number;
  /** Bytes of linear memory set aside for batches (default 1 MiB). */
  ioBytes?: number;
  /**
   * Whether the tables keep their sketches as they change (SKETCH_KEPT_CELLS), for a table
   * that digest resyncs are run against: its sketches then fold out of them with no walk,
   * for a few scattered writes per change. Kept only where they take at most an eighth of
   * the budget (keptSketchCells says); default false.
   */
  keepSketch?: boolean;
}

export interface DiffResult {
  /** Change records turning the older table into the newer. */
  changes: Uint32Array;
  adds: number;
  changed: number;
  removes: number;
}

export interface LookupBatch {
  input: Uint32Array;
  output: Uint32Array;
  run(): void;
}

/**
 * A forwarding batch in linear memory (Fib.forwarder): addresses go into `input`; run(n)
 * looks up the first n and counts packets per next hop into the counters (it uses `input`
 * up: fill it again before the next run); counts() reads them, clear() zeroes them.
 */
export interface ForwardBatch {
  input: Uint32Array;
  /**
   * After run(n), answers[i] for i < n is packet i's next hop (NO_ROUTE when none): the
   * firmware writes them over the addresses, so this view shares input's memory.
   */
  answers: Uint32Array;
  run(n: number): void;
  counts(): ForwardCounts;
  clear(): void;
}

export interface ForwardCounts {
  /** Packets per next hop, for the next hops that carried any. */
  perNexthop: Map<number, number>;
  noRoute: number;
  /** Packets whose next hop the counter layout had no place for. */
  overflow: number;
}

/** Next-hop ids are a 4-bit block and a 20-bit index (assembly/forward.ts). */
const NEXTHOP_BLOCKS = 16;
const BLOCK_SHIFT = 20;

export interface FibStats {
  /** Every byte the table holds: direct table, short routes, nodes with their own routes. */
  bytes: number;
  /** The part lookups read: direct table, node headers, child refs, leaves, single-route nodes. */
  lookupBytes: number;
  fullNodes: number;
  leafOnlyNodes: number;
  singleNodes: number;
  leaves: number;
  routes: number;
}

/** A change for Fib.apply: set `nh` on `prefix`, or remove it when nh is undefined. */
export interface Change {
  prefix: Prefix;
  nh?: number;
}

interface Exports {
  memory: WebAssembly.Memory;
  abiVersion(): number;
  noRoute(): number;
  init(ioBytes: number, budget: number): number;
  set4(addr: number, len: number, nh: number): number;
  remove4(addr: number, len: number): number;
  set6(w0: number, w1: number, w2: number, w3: number, len: number, nh: number): number;
  remove6(w0: number, w1: number, w2: number, w3: number, len: number): number;
  get4(addr: number, len: number): number;
  get6(w0: number, w1: number, w2: number, w3: number, len: number): number;
  lookup4(addr: number): number;
  lookup6(w0: number, w1: number, w2: number, w3: number): number;
  lookup4Batch(input: number, output: number, n: number): void;
  lookup6Batch(input: number, output: number, n: number): void;
  forward4(input: number, n: number, table: number): void;
  forward6(input: number, n: number, table: number): void;
  apply(family: number, p: number, n: number): number;
  getRecords(family: number, p: number, n: number): void;
  clear(family: number): void;
  count(family: number): number;
  refused(family: number): number;
  digest(family: number): bigint;
  generation(family: number): number;
  stats(family: number, out: number): void;
  allocatedBytes(): number;
  heapUsed(): number;
  iterBegin(family: number): number;
  iterNext(id: number, out: number, max: number): number;
  encodeRoutes(family: number, records: number, n: number, out: number, cap: number): number;
  encodedBytes(): number;
  decodeRoutes(family: number, input: number, len: number, count: number, out: number, allowRemove: number): number;
  diff(family: number, a: number, na: number, b: number, nb: number, out: number): number;
  diffCounts(out: number): void;
  snapshotChunk(family: number, id: number, scratch: number, out: number, cap: number): number;
  rangeDigests(family: number, w0: number, w1: number, w2: number, w3: number, plen: number, minLen: number, depth: number, out: number, scratch: number, room: number): number;
  shortHashes(family: number, records: number, n: number, out: number): void;
  topPieces(family: number, out: number): void;
  sketchAdd(family: number, records: number, n: number, sketch: number, cells: number, sign: number): void;
  sketchSubtract(family: number, a: number, b: number, cells: number): void;
  sketchPeel(family: number, sketch: number, cells: number, out: number, room: number, stack: number): number;
  keepSketches(): number;
  sketchKept(family: number): number;
  sketchStale(family: number): number;
  sketchRefreshBegin(family: number): number;
  sketchRefreshStep(family: number, id: number, scratch: number, room: number): number;
  sketchFold(family: number, out: number, cells: number): number;
}

const REQUIRED_EXPORTS: readonly (keyof Exports)[] = [
  "abiVersion", "noRoute", "init", "set4", "remove4", "set6", "remove6", "get4", "get6", "lookup4", "lookup6",
  "lookup4Batch", "lookup6Batch", "forward4", "forward6", "apply", "getRecords", "clear", "count", "refused", "digest", "stats",
  "allocatedBytes", "heapUsed", "iterBegin", "iterNext", "encodeRoutes", "encodedBytes", "decodeRoutes", "diff", "diffCounts", "rangeDigests", "snapshotChunk",
  "shortHashes", "generation", "topPieces", "sketchAdd", "sketchSubtract", "sketchPeel", "keepSketches", "sketchKept", "sketchStale", "sketchRefreshBegin", "sketchRefreshStep", "sketchFold",
];

/** Cells each route of a table sketch goes into (assembly/sketch.ts): a sketch's size is a multiple of it. */
export const SKETCH_K = 3;

/**
 * Cells of the sketch a table keeps as it changes (assembly/sketch.ts, KEPT_CELLS), when
 * its memory allows: a sketch whose parts divide this one's (foldableCells) costs no walk.
 */
export const SKETCH_KEPT_CELLS = 3 * 6300;

/**
 * The fewest cells, at least `cells`, of a sketch that folds out of a kept one: a multiple
 * of SKETCH_K whose parts divide the kept sketch's. Undefined beyond SKETCH_KEPT_CELLS.
 */
export function foldableCells(cells: number): number | undefined {
  const part = SKETCH_KEPT_CELLS / SKETCH_K;
  for (let k = Math.floor(part / Math.max(1, Math.ceil(cells / SKETCH_K))); k >= 1; k--) {
    if (part % k === 0) return SKETCH_K * (part / k);
  }
  return undefined;
}

/** u32 words in one cell of a table sketch: count, check, and the key's record words. */
export function sketchCellWords(family: Family): number {
  return 2 + recordWords(family);
}

/** The image is not a usable firmware: not WebAssembly, missing exports, another ABI, or too big for the budget. */
export class FirmwareError extends Error {
  override name = "FirmwareError";
}

/** u32 words in a change record: IPv4 3, IPv6 6. */
export function recordWords(family: Family): number {
  return family === 4 ? 3 : 6;
}

/**
 * Change records, as the firmware's apply() reads them: per change, word 0 is op (1 set,
 * 2 remove, 0 invalid) | len << 8 | status << 16 (written back), then the address words
 * (IPv4 one, IPv6 four), then the next hop. All changes must be of `family`.
 */
export function encodeChanges(family: Family, changes: readonly Change[]): Uint32Array {
  const words = recordWords(family);
  const out = new Uint32Array(changes.length * words);
  let w = 0;
  for (const c of changes) {
    const a = c.prefix.addr;
    const nh = c.nh;
    const valid = a.family === family && (nh === undefined || (Number.isInteger(nh) && nh >= 0 && nh <= MAX_NEXTHOP));
    out[w] = (valid ? (nh === undefined ? 2 : 1) : 0) | (c.prefix.len << 8);
    out[w + 1] = a.w0;
    if (family === 6) {
      out[w + 2] = a.w1;
      out[w + 3] = a.w2;
      out[w + 4] = a.w3;
    }
    out[w + words - 1] = nh ?? 0;
    w += words;
  }
  return out;
}

/**
 * Change records in prefix order (address, then length), one per prefix: where a prefix
 * appears more than once the last change wins, as if they were applied in order. A stable
 * LSD radix sort over 16-bit digits (digits equal in every record are skipped), so a
 * million records take milliseconds; returns a new array.
 */
export function sortRecords(family: Family, records: Uint32Array): Uint32Array {
  const words = recordWords(family);
  const n = records.length / words;
  let order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let spare = new Uint32Array(n);
  const digits = new Uint16Array(n);
  const counts = new Uint32Array(RADIX + 1);
  // Sorts `order` by digits[record], stably; skipped when every record has the same digit.
  const pass = () => {
    counts.fill(0);
    for (let r = 0; r < n; r++) counts[digits[r] + 1]++;
    if (counts[digits[0] + 1] === n) return;
    for (let d = 1; d <= RADIX; d++) counts[d] += counts[d - 1];
    for (let i = 0; i < n; i++) spare[counts[digits[order[i]]]++] = order[i];
    [order, spare] = [spare, order];
  };
  for (let r = 0, w = 0; r < n; r++, w += words) digits[r] = (records[w] >>> 8) & 255;
  pass();
  for (let k = words - 2; k >= 1; k--) {
    for (let shift = 0; shift < 32; shift += RADIX_BITS) {
      for (let r = 0, w = k; r < n; r++, w += words) digits[r] = (records[w] >>> shift) & (RADIX - 1);
      pass();
    }
  }
  let kept = 0;
  for (let i = 0; i < n; i++) {
    if (i + 1 < n && compareRecords(family, records, order[i] * words, records, order[i + 1] * words) === 0) continue;
    order[kept++] = order[i];
  }
  const out = new Uint32Array(kept * words);
  for (let i = 0, w = 0; i < kept; i++) for (let from = order[i] * words, end = from + words; from < end; ) out[w++] = records[from++];
  return out;
}

/** Digits of the radix sort: small enough that the counts and the write positions stay in cache. */
const RADIX_BITS = 11;
const RADIX = 1 << RADIX_BITS;

/** Prefix order of record at word i of `a` against record at word j of `b`: address, then length. */
function compareRecords(family: Family, a: Uint32Array, i: number, b: Uint32Array, j: number): number {
  for (let k = 1; k <= (family === 4 ? 1 : 4); k++) {
    if (a[i + k] !== b[j + k]) return a[i + k] < b[j + k] ? -1 : 1;
  }
  return ((a[i] >>> 8) & 255) - ((b[j] >>> 8) & 255);
}

/** Words of records[from, to) that are at or before the record at word at of `key` (records sorted). */
function upperBound(family: Family, records: Uint32Array, from: number, to: number, key: Uint32Array, at: number): number {
  const words = recordWords(family);
  let lo = 0;
  let hi = (to - from) / words;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareRecords(family, records, from + mid * words, key, at) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo * words;
}

/** The prefix of the change record at word w. */
export function recordPrefix(family: Family, records: Uint32Array, w: number): Prefix {
  const len = (records[w] >>> 8) & 255;
  const addr = family === 4 ? Addr.v4(records[w + 1]) : Addr.v6(records[w + 1], records[w + 2], records[w + 3], records[w + 4]);
  return Prefix.from(addr, len) as Prefix;
}

/** The change records for which `keep(word)` holds, in their order (the same array if all do). */
export function selectRecords(family: Family, records: Uint32Array, keep: (w: number) => boolean): Uint32Array {
  const words = recordWords(family);
  const kept: number[] = [];
  for (let w = 0; w < records.length; w += words) if (keep(w)) kept.push(w);
  if (kept.length * words === records.length) return records;
  const out = new Uint32Array(kept.length * words);
  kept.forEach((w, i) => out.set(records.subarray(w, w + words), i * words));
  return out;
}

/** The changes in change records (the inverse of encodeChanges). */
export function decodeRecords(family: Family, records: Uint32Array): Change[] {
  const words = recordWords(family);
  const out: Change[] = [];
  for (let w = 0; w < records.length; w += words) {
    const prefix = recordPrefix(family, records, w);
    out.push((records[w] & 255) === 2 ? { prefix } : { prefix, nh: records[w + words - 1] });
  }
  return out;
}

/** Wire routes that do not decode (see assembly/routecodec.ts). */
/** One array of record batches. */
export function concatRecords(parts: readonly Uint32Array[]): Uint32Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** Digests and counts of the pieces of a range (Fib.rangeDigests). */
export interface RangePieces {
  digests: BigUint64Array;
  counts: Uint32Array;
}

/** Bytes the pieces of a range split `depth` levels down take in the I/O buffer. */
function pieceBytes(depth: number): number {
  if (!Number.isInteger(depth) || depth < 0 || depth > 12) throw new RangeError(`range digests of depth ${depth} do not fit`);
  return 12 * 2 ** depth;
}

export class RouteCodecError extends Error {
  override name = "RouteCodecError";
}

const ROUTE_ERRORS = [
  "routes end early", "bytes after the last route", "prefix length beyond the family",
  "address outside the address space", "missing or invalid next hop", "a remove where only routes may be",
  "routes out of order or repeated", "not the canonical encoding (a longer form than needed)",
];

const PAGE = 65536;
/** Node refs address 512 MiB. */
const MAX_PAGES = 8192;

/** An instance of the firmware over `memory`; an abort inside it throws FirmwareError. */
function instantiate(module: WebAssembly.Module, memory: WebAssembly.Memory): Exports {
  return instantiateSync<Record<string, unknown>>(module, {
    env: {
      memory,
      abort(_msg: number, _file: number, line: number, col: number) {
        throw new FirmwareError(`firmware aborted at ${line}:${col}`);
      },
    },
  }).exports as unknown as Exports;
}

export class Fib {
  private io: number;
  private ioBytes: number;
  private u32: Uint32Array;
  private u8: Uint8Array;

  /** `io`: the I/O buffer of a memory copied from a running table (frozen()); none: a fresh one. */
  private constructor(
    private readonly module: WebAssembly.Module,
    private readonly x: Exports,
    private readonly memory: WebAssembly.Memory,
    ioBytes: number,
    private readonly budget: number,
    io?: number,
  ) {
    this.ioBytes = ioBytes;
    this.io = io ?? x.init(ioBytes, budget);
    if (this.io === 0) throw new FirmwareError("the memory budget cannot hold the empty tables");
    this.u32 = new Uint32Array(memory.buffer);
    this.u8 = new Uint8Array(memory.buffer);
  }

  /** Instantiates a firmware image. Throws FirmwareError when the image is not usable. */
  static fromImage(image: Uint8Array, options: FibOptions = {}): Fib {
    const memoryMiB = options.memoryMiB ?? 16;
    const ioBytes = options.ioBytes ?? 1 << 20;
    const maximum = Math.floor((memoryMiB * 1024 * 1024) / PAGE);
    if (maximum < 1 || maximum > MAX_PAGES) throw new FirmwareError(`memory budget ${memoryMiB} MiB out of range (1 MiB .. 512 MiB)`);
    let memory: WebAssembly.Memory;
    let module: WebAssembly.Module;
    let x: Exports;
    try {
      memory = new WebAssembly.Memory({ initial: 1, maximum });
      module = new WebAssembly.Module(image as Uint8Array<ArrayBuffer>);
      x = instantiate(module, memory);
    } catch (e) {
      if (e instanceof FirmwareError) throw e;
      throw new FirmwareError(`not a usable firmware image: ${(e as Error).message}`);
    }
    const missing = REQUIRED_EXPORTS.filter((name) => typeof x[name] !== "function");
    if (missing.length > 0) throw new FirmwareError(`firmware image lacks exports: ${missing.join(", ")}`);
    if (x.abiVersion() !== ABI_VERSION) {
      throw new FirmwareError(`firmware speaks ABI ${x.abiVersion()}, this host speaks ${ABI_VERSION}`);
    }
    if (x.noRoute() !== NO_ROUTE) throw new FirmwareError("firmware disagrees on the no-route value");
    const fib = new Fib(module, x, memory, ioBytes, maximum * PAGE);
    if (options.keepSketch) x.keepSketches();
    return fib;
  }

  /**
   * A copy of both tables as they stand now, in a second instance: the firmware's memory
   * copied whole (about 110 ms for 1.2M routes here, most of it first touches of fresh
   * pages). Only reading is meaningful on the copy (lookups, walks, digests, counts). To
   * send a table as it stands, encoding it at once costs less (node/copies.ts).
   */
  frozen(): Fib {
    const pages = this.memory.buffer.byteLength / PAGE;
    const memory = new WebAssembly.Memory({ initial: pages, maximum: this.budget / PAGE });
    // After instantiating: that writes the image's data segments, which the copy overwrites.
    const x = instantiate(this.module, memory);
    new Uint8Array(memory.buffer).set(new Uint8Array(this.memory.buffer));
    return new Fib(this.module, x, memory, this.ioBytes, this.budget, this.io);
  }

  private views(): void {
    if (this.u32.buffer !== this.memory.buffer) {
      this.u32 = new Uint32Array(this.memory.buffer);
      this.u8 = new Uint8Array(this.memory.buffer);
    }
  }

  /** Sets prefix → nh, replacing any next hop it had. */
  set(prefix: Prefix, nh: number): Status {
    if (!Number.isInteger(nh) || nh < 0 || nh > MAX_NEXTHOP) return "invalid";
    const a = prefix.addr;
    const s = a.family === 4 ? this.x.set4(a.w0, prefix.len, nh) : this.x.set6(a.w0, a.w1, a.w2, a.w3, prefix.len, nh);
    return STATUS[s];
  }

  remove(prefix: Prefix): Status {
    const a = prefix.addr;
    const s = a.family === 4 ? this.x.remove4(a.w0, prefix.len) : this.x.remove6(a.w0, a.w1, a.w2, a.w3, prefix.len);
    return STATUS[s];
  }

  /** The next hop set on exactly this prefix, or undefined. */
  get(prefix: Prefix): number | undefined {
    const a = prefix.addr;
    const nh = a.family === 4 ? this.x.get4(a.w0, prefix.len) : this.x.get6(a.w0, a.w1, a.w2, a.w3, prefix.len);
    return nh === NO_ROUTE ? undefined : nh;
  }

  /** Longest-prefix match: the next hop for `addr`, or undefined. */
  lookup(addr: Addr): number | undefined {
    const nh = addr.family === 4 ? this.x.lookup4(addr.w0) : this.x.lookup6(addr.w0, addr.w1, addr.w2, addr.w3);
    return nh === NO_ROUTE ? undefined : nh;
  }

  /** One IPv4 lookup by 32-bit value: NO_ROUTE when nothing matches. */
  lookup4(addr: number): number {
    return this.x.lookup4(addr);
  }

  /** One IPv6 lookup by four 32-bit words, most significant first: NO_ROUTE when nothing matches. */
  lookup6(w0: number, w1: number, w2: number, w3: number): number {
    return this.x.lookup6(w0, w1, w2, w3);
  }

  /**
   * Batch lookup through linear memory. `addrs` holds IPv4 addresses (one u32 each) or IPv6
   * addresses (four u32 words each, most significant first); `out` receives one next hop
   * per address, NO_ROUTE where nothing matches.
   */
  lookupBatch(family: Family, addrs: Uint32Array, out: Uint32Array): void {
    const wordsPer = family === 4 ? 1 : 4;
    const n = addrs.length / wordsPer;
    if (out.length < n) throw new RangeError("output shorter than the input");
    const chunk = Math.floor(this.ioBytes / (4 * wordsPer + 4));
    this.views();
    const inAt = this.io >>> 2;
    const outAt = inAt + chunk * wordsPer;
    const batch = family === 4 ? this.x.lookup4Batch : this.x.lookup6Batch;
    for (let i = 0; i < n; i += chunk) {
      const m = Math.min(chunk, n - i);
      this.u32.set(addrs.subarray(i * wordsPer, (i + m) * wordsPer), inAt);
      batch(this.io, outAt << 2, m);
      out.set(this.u32.subarray(outAt, outAt + m), i);
    }
  }

  /**
   * A batch that lives in linear memory: write up to `n` addresses into `input` (the
   * lookupBatch layout), call run(), read `output`. Nothing is copied across the boundary,
   * which is how a forwarding engine feeds packets. The views are valid until the next
   * change to the table (a change may grow the memory).
   */
  batch(family: Family, n: number): LookupBatch {
    const wordsPer = family === 4 ? 1 : 4;
    if (n * (4 * wordsPer + 4) > this.ioBytes) throw new RangeError(`a batch of ${n} addresses needs more than the ${this.ioBytes}-byte I/O buffer`);
    this.views();
    const inAt = this.io >>> 2;
    const outAt = inAt + n * wordsPer;
    const run = family === 4 ? this.x.lookup4Batch : this.x.lookup6Batch;
    return {
      input: this.u32.subarray(inAt, outAt),
      output: this.u32.subarray(outAt, outAt + n),
      run: () => run(inAt << 2, outAt << 2, n),
    };
  }

  /**
   * A forwarding batch of up to `n` addresses and its counters, both in the I/O buffer: no
   * copy crosses the boundary per packet. `nexthops` are the next-hop ids packets may be
   * counted under (the table's, typically); the counters are laid out densely for them.
   * Views are valid until the next change to the table, as with batch(). The counters share
   * the I/O buffer with every other call that passes data (batch, lookupBatch, apply, walks):
   * such a call between runs writes over them.
   */
  forwarder(family: Family, n: number, nexthops: Iterable<number>): ForwardBatch {
    const sizes = new Array<number>(NEXTHOP_BLOCKS).fill(0);
    for (const nh of nexthops) {
      if (nh === NO_ROUTE) continue;
      const block = nh >>> BLOCK_SHIFT;
      sizes[block] = Math.max(sizes[block], (nh & ((1 << BLOCK_SHIFT) - 1)) + 1);
    }
    const slots = sizes.reduce((a, b) => a + b, 0);
    const wordsPer = family === 4 ? 1 : 4;
    const tableAt = this.io + n * 4 * wordsPer;
    const header = 2 * NEXTHOP_BLOCKS + 2;
    if (tableAt + 4 * (header + slots) > this.io + this.ioBytes) {
      throw new RangeError(`${n} addresses and counters for ${slots} next hops need more than the ${this.ioBytes}-byte I/O buffer`);
    }
    this.views();
    const input = this.u32.subarray(this.io >>> 2, (this.io >>> 2) + n * wordsPer);
    const table = this.u32.subarray(tableAt >>> 2, (tableAt >>> 2) + header + slots);
    const bases: number[] = [];
    for (let b = 0, base = 0; b < NEXTHOP_BLOCKS; base += sizes[b++]) bases.push(base);
    for (let b = 0; b < NEXTHOP_BLOCKS; b++) table.set([bases[b], sizes[b]], 2 * b);
    const forward = family === 4 ? this.x.forward4 : this.x.forward6;
    const clear = () => table.fill(0, 2 * NEXTHOP_BLOCKS);
    clear();
    return {
      input, clear,
      answers: input.subarray(0, n),
      run: (m) => {
        if (m > n) throw new RangeError(`a batch of ${m} addresses in a forwarder of ${n}`);
        forward(this.io, m, tableAt);
      },
      counts: () => {
        const perNexthop = new Map<number, number>();
        for (let b = 0; b < NEXTHOP_BLOCKS; b++) {
          for (let i = 0; i < sizes[b]; i++) {
            const packets = table[header + bases[b] + i];
            if (packets > 0) perNexthop.set((b << BLOCK_SHIFT) | i, packets);
          }
        }
        return { perNexthop, noRoute: table[2 * NEXTHOP_BLOCKS], overflow: table[2 * NEXTHOP_BLOCKS + 1] };
      },
    };
  }

  /**
   * Applies changes in order through linear memory; returns each change's status. A refused
   * change ("full") does not stop the others. Changes of the two families are applied per
   * family, each family's in order.
   */
  apply(changes: readonly Change[]): Status[] {
    const statuses: Status[] = new Array(changes.length);
    for (const family of [4, 6] as const) {
      const index: number[] = [];
      changes.forEach((c, i) => c.prefix.family === family && index.push(i));
      if (index.length === 0) continue;
      const records = encodeChanges(family, index.map((i) => changes[i]));
      this.applyRecords(family, records);
      const words = recordWords(family);
      index.forEach((i, k) => (statuses[i] = STATUS[(records[k * words] >>> 16) & 255] ?? "invalid"));
    }
    return statuses;
  }

  /**
   * Applies change records (see encodeChanges) in order, in chunks through linear memory;
   * writes each one's status into its record and returns how many succeeded. This is the
   * path for changes that arrive already encoded.
   */
  applyRecords(family: Family, records: Uint32Array): number {
    const words = recordWords(family);
    const chunk = Math.floor(this.ioBytes / (4 * words)) * words;
    const at = this.io >>> 2;
    let ok = 0;
    for (let i = 0; i < records.length; i += chunk) {
      const part = records.subarray(i, Math.min(records.length, i + chunk));
      this.views();
      this.u32.set(part, at);
      ok += this.x.apply(family, this.io, part.length / words);
      this.views();
      part.set(this.u32.subarray(at, at + part.length));
    }
    return ok;
  }

  /**
   * The next hop stored for exactly the prefix of each change record (NO_ROUTE where none),
   * one per record: the batch form of get().
   */
  getRecords(family: Family, records: Uint32Array): Uint32Array {
    const words = recordWords(family);
    const chunk = Math.floor(this.ioBytes / (4 * words)) * words;
    const at = this.io >>> 2;
    const out = new Uint32Array(records.length / words);
    for (let i = 0; i < records.length; i += chunk) {
      const part = records.subarray(i, Math.min(records.length, i + chunk));
      this.views();
      this.u32.set(part, at);
      this.x.getRecords(family, this.io, part.length / words);
      for (let w = words - 1, k = i / words; w < part.length; w += words, k++) out[k] = this.u32[at + w];
    }
    return out;
  }

  /**
   * Encodes change records (in prefix order) as wire routes, at most `cap` bytes; returns
   * the bytes and how many records they hold (fewer than given when cap is reached).
   */
  encodeRoutes(family: Family, records: Uint32Array, cap: number): { bytes: Uint8Array; count: number } {
    const words = recordWords(family);
    const n = Math.min(records.length / words, Math.floor(this.ioBytes / 2 / (4 * words)));
    if (cap > this.ioBytes / 2) throw new RangeError(`cap ${cap} exceeds half the I/O buffer`);
    this.views();
    const inAt = this.io;
    const outAt = this.io + ((this.ioBytes >>> 1) & ~7);
    this.u32.set(records.subarray(0, n * words), inAt >>> 2);
    const count = this.x.encodeRoutes(family, inAt, n, outAt, cap);
    const size = this.x.encodedBytes();
    return { bytes: this.u8.slice(outAt, outAt + size), count };
  }

  /**
   * Decodes `count` wire routes into change records. Sets only, unless `allowRemove` (update
   * bodies). A RouteCodecError says why the bytes are not `count` well-formed routes.
   */
  decodeRoutes(family: Family, bytes: Uint8Array, count: number, allowRemove: boolean): Uint32Array | RouteCodecError {
    const words = recordWords(family);
    if (bytes.length > this.ioBytes / 2 || count * 4 * words > this.ioBytes / 2) return new RouteCodecError("too large for the I/O buffer");
    this.views();
    const inAt = this.io;
    const outAt = this.io + ((this.ioBytes >>> 1) & ~7);
    this.u8.set(bytes, inAt);
    const n = this.x.decodeRoutes(family, inAt, bytes.length, count, outAt, allowRemove ? 1 : 0);
    if (n < 0) return new RouteCodecError(ROUTE_ERRORS[-n - 1] ?? `error ${n}`);
    return this.u32.slice(outAt >>> 2, (outAt >>> 2) + n * words);
  }

  /**
   * The changes that turn table `older` into table `newer` (change records in prefix order,
   * e.g. from records or decodeRoutes), computed in WASM in one pass: sets for new and
   * changed prefixes, removes for gone ones, in prefix order. Tables larger than the I/O
   * buffer are diffed in windows that cover the same prefixes on both sides.
   */
  diff(family: Family, older: Uint32Array, newer: Uint32Array): DiffResult {
    const words = recordWords(family);
    // Both inputs and the output (at most both) in the I/O buffer, plus the counts.
    const window = Math.floor((this.ioBytes - 16) / 16 / words) * words;
    if (window < words) throw new RangeError("the I/O buffer is too small for a diff");
    const parts: Uint32Array[] = [];
    const total = { adds: 0, changed: 0, removes: 0 };
    let i = 0;
    let j = 0;
    while (i < older.length || j < newer.length) {
      let iEnd = Math.min(older.length, i + window);
      let jEnd = Math.min(newer.length, j + window);
      // Cut both at the same prefix: the smaller of the two windows' last prefixes.
      if (iEnd < older.length || jEnd < newer.length) {
        const lastOld = iEnd > i ? iEnd - words : -1;
        const lastNew = jEnd > j ? jEnd - words : -1;
        const oldFirst = lastNew < 0 || (lastOld >= 0 && compareRecords(family, older, lastOld, newer, lastNew) <= 0);
        if (oldFirst && iEnd > i) jEnd = j + upperBound(family, newer, j, jEnd, older, lastOld);
        else iEnd = i + upperBound(family, older, i, iEnd, newer, lastNew);
      }
      const part = this.diffWindow(family, older.subarray(i, iEnd), newer.subarray(j, jEnd));
      parts.push(part.changes);
      total.adds += part.adds;
      total.changed += part.changed;
      total.removes += part.removes;
      i = iEnd;
      j = jEnd;
    }
    const changes = parts.length === 1 ? parts[0] : new Uint32Array(parts.reduce((n, p) => n + p.length, 0));
    if (parts.length > 1) parts.reduce((at, p) => (changes.set(p, at), at + p.length), 0);
    return { changes, ...total };
  }

  private diffWindow(family: Family, older: Uint32Array, newer: Uint32Array): DiffResult {
    const words = recordWords(family);
    this.views();
    const a = this.io >>> 2;
    const b = a + older.length;
    const out = b + newer.length;
    this.u32.set(older, a);
    this.u32.set(newer, b);
    const n = this.x.diff(family, a << 2, older.length / words, b << 2, newer.length / words, out << 2);
    const changes = this.u32.slice(out, out + n * words);
    this.x.diffCounts(this.io);
    const [adds, changed, removes] = this.u32.subarray(a, a + 3);
    return { changes, adds, changed, removes };
  }

  /**
   * Digests and counts of a range of the table, the routes whose address lies in `prefix`
   * and that are at least `minLen` long, split `depth` levels down (≤ 12): piece i holds
   * those whose address lies in the i-th of the 2^depth equal parts of the prefix, however
   * far they reach. The pieces add up to the range's digest, and a piece split further is
   * a range of its own: descend where two tables differ.
   */
  rangeDigests(prefix: Prefix, depth: number, minLen: number): RangePieces {
    const bytes = pieceBytes(depth);
    const room = Math.floor((this.ioBytes - bytes) / (4 * recordWords(prefix.family)));
    if (room < 1) throw new RangeError(`range digests of depth ${depth} do not fit`);
    const a = prefix.addr;
    if (this.x.rangeDigests(prefix.family, a.w0, a.w1, a.w2, a.w3, prefix.len, minLen, depth, this.io, this.io + bytes, room) !== 0) {
      throw new RangeError(`range digests of ${prefix} at depth ${depth}: beyond the address`);
    }
    const n = 2 ** depth;
    this.views();
    const digests = new BigUint64Array(n);
    digests.set(new BigUint64Array(this.memory.buffer, this.io, n));
    return { digests, counts: this.u32.slice((this.io >>> 2) + 2 * n, (this.io >>> 2) + 3 * n) };
  }

  /**
   * The digests and counts of the family's routes split 12 levels down, as
   * rangeDigests(0/0 or ::/0, 12, 0) gives them, from what the table keeps as it changes:
   * no walk.
   */
  topPieces(family: Family): RangePieces {
    const n = 4096;
    this.x.topPieces(family, this.io);
    this.views();
    const digests = new BigUint64Array(n);
    digests.set(new BigUint64Array(this.memory.buffer, this.io, n));
    return { digests, counts: this.u32.slice((this.io >>> 2) + 2 * n, (this.io >>> 2) + 3 * n) };
  }

  /**
   * The low 32 bits of the digest of each route of `records` (change records), one u32 per
   * record: summed over a range, the low 32 bits of the range's digest (host/rangeindex.ts).
   */
  shortHashes(family: Family, records: Uint32Array): Uint32Array {
    const words = recordWords(family);
    const chunk = Math.floor(this.ioBytes / (4 * words)) * words;
    const out = new Uint32Array(records.length / words);
    const at = this.io >>> 2;
    for (let w = 0; w < records.length; w += chunk) {
      const part = records.subarray(w, w + chunk);
      this.views();
      this.u32.set(part, at);
      this.x.shortHashes(family, this.io, part.length / words, this.io);
      out.set(this.u32.subarray(at, at + part.length / words), w / words);
    }
    return out;
  }

  /**
   * The most cells a sketch of `family` may have on this table: a difference takes two
   * sketches and the room to peel them in the I/O buffer.
   */
  maxSketchCells(family: Family): number {
    const perCell = 4 * (2 * sketchCellWords(family) + 1 + SKETCH_K + recordWords(family));
    return Math.floor(this.ioBytes / perCell / SKETCH_K) * SKETCH_K;
  }

  /** Cells of the sketch the family's table keeps as it changes (SKETCH_KEPT_CELLS), or 0 when it keeps none. */
  keptSketchCells(family: Family): number {
    return this.x.sketchKept(family);
  }

  /**
   * Whether a kept sketch is stale: a batch about as large as its table went past it (a
   * snapshot into an empty table), which one walk afterwards costs less than keeping it up.
   */
  sketchesStale(): boolean {
    return this.x.sketchStale(4) !== 0 || this.x.sketchStale(6) !== 0;
  }

  /**
   * Makes the stale kept sketches of `families` current, `routes` routes a step: a generator
   * that walks each such table, yielding after every step so that the caller can let other
   * work run. It returns false, leaving the sketch stale, when the table changed or another
   * walk began between steps (try again later); true once every sketch is current.
   */
  *refreshSketches(routes = Infinity, families: readonly Family[] = [4, 6]): Generator<void, boolean> {
    for (const family of families) {
      if (!this.x.sketchStale(family)) continue;
      const room = Math.min(routes, Math.floor(this.ioBytes / (4 * recordWords(family))));
      const id = this.x.sketchRefreshBegin(family);
      for (let got; (got = this.x.sketchRefreshStep(family, id, this.io, room)) !== 0; yield) {
        if (got < 0) return false;
      }
    }
    return true;
  }


  /**
   * A sketch (assembly/sketch.ts) of `cells` cells of the family's routes: the table's as it
   * holds them now, or `records` (change records of the family). `cells`: a positive
   * multiple of SKETCH_K, at most maxSketchCells(family). The table's own sketch folds out
   * of the one it keeps when it keeps one and `cells` is foldable (foldableCells): no walk.
   */
  sketch(family: Family, cells: number, records?: Uint32Array): Uint32Array {
    this.checkSketchCells(family, cells);
    const words = recordWords(family);
    const size = cells * sketchCellWords(family);
    const chunkAt = this.io + 4 * size;
    const room = Math.floor((this.ioBytes - 4 * size) / (4 * words));
    if (!records && foldableCells(cells) === cells && this.keptSketchCells(family) > 0) {
      // A stale one is made current at once: one walk, with nothing between its steps.
      const walk = this.refreshSketches(Infinity, [family]);
      while (!walk.next().done);
    }
    if (!records && this.x.sketchFold(family, this.io, cells)) {
      this.views();
      return this.u32.slice(this.io >>> 2, (this.io >>> 2) + size);
    }
    this.views();
    this.u32.fill(0, this.io >>> 2, (this.io >>> 2) + size);
    if (records) {
      for (let w = 0; w < records.length; w += room * words) {
        const part = records.subarray(w, w + room * words);
        this.views();
        this.u32.set(part, chunkAt >>> 2);
        this.x.sketchAdd(family, chunkAt, part.length / words, this.io, cells, 1);
      }
    } else {
      const id = this.x.iterBegin(family);
      for (let got; (got = this.x.iterNext(id, chunkAt, room)) !== 0; ) {
        if (got < 0) throw new Error("the table changed, or another walk began, during the walk");
        this.x.sketchAdd(family, chunkAt, got, this.io, cells, 1);
      }
    }
    this.views();
    return this.u32.slice(this.io >>> 2, (this.io >>> 2) + size);
  }

  /**
   * The routes only one of two sketches of equal size holds, as change records in no
   * particular order: a set for each route of `mine`, a remove for each of `theirs`.
   * Undefined when the sketches are too small for their difference.
   */
  sketchDifference(family: Family, mine: Uint32Array, theirs: Uint32Array): Uint32Array | undefined {
    const size = mine.length;
    const cells = size / sketchCellWords(family);
    if (theirs.length !== size) throw new RangeError(`sketches of ${cells} and ${theirs.length / sketchCellWords(family)} cells`);
    this.checkSketchCells(family, cells);
    const words = recordWords(family);
    const at = this.io >>> 2;
    const stack = this.io + 8 * size;
    const out = stack + 4 * cells * (1 + SKETCH_K);
    this.views();
    this.u32.set(mine, at);
    this.u32.set(theirs, at + size);
    this.x.sketchSubtract(family, this.io, this.io + 4 * size, cells);
    const n = this.x.sketchPeel(family, this.io, cells, out, cells, stack);
    if (n < 0) return undefined;
    this.views();
    return this.u32.slice(out >>> 2, (out >>> 2) + n * words);
  }

  private checkSketchCells(family: Family, cells: number): void {
    if (!Number.isInteger(cells) || cells <= 0 || cells % SKETCH_K !== 0 || cells > this.maxSketchCells(family)) {
      throw new RangeError(`a sketch of ${cells} cells: want a positive multiple of ${SKETCH_K}, at most ${this.maxSketchCells(family)}`);
    }
  }

  /** A number that changes whenever the family's table does: what a cache of its ranges keys on. */
  generation(family: Family): number {
    return this.x.generation(family) >>> 0;
  }

  /** Removes every route of a family. */
  clear(family: Family): void {
    this.x.clear(family);
  }

  count(family: Family): number {
    return this.x.count(family) >>> 0;
  }

  /** Changes refused because the memory budget could not hold them. */
  refused(family: Family): number {
    return this.x.refused(family) >>> 0;
  }

  /** The order-independent digest of the family's (prefix, length, next hop) set; see host/digest.ts. */
  digest(family: Family): bigint {
    return BigInt.asUintN(64, this.x.digest(family));
  }

  /** The shape and size of a family's table (walks it: not for hot paths). */
  stats(family: Family): FibStats {
    this.x.stats(family, this.io);
    this.views();
    const w = this.io >>> 2;
    const [bytes, lookupBytes, fullNodes, leafOnlyNodes, singleNodes, leaves, routes] = this.u32.subarray(w, w + 7);
    return { bytes, lookupBytes, fullNodes, leafOnlyNodes, singleNodes, leaves, routes };
  }

  /** Bytes the family's table holds in linear memory. */
  memoryUsed(family: Family): number {
    return this.stats(family).bytes;
  }

  /** Bytes of the structure lookups read (direct table, node headers, child refs, leaves, single-route nodes). */
  lookupMemory(family: Family): number {
    return this.stats(family).lookupBytes;
  }

  /** Nodes below the direct table, single-route nodes included. */
  nodes(family: Family): number {
    const s = this.stats(family);
    return s.fullNodes + s.leafOnlyNodes + s.singleNodes;
  }

  /** Bytes of linear memory the module has grown to. */
  memoryBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /** Bytes allocated in linear memory (both tables, the I/O buffer). */
  allocatedBytes(): number {
    return this.x.allocatedBytes() >>> 0;
  }

  /**
   * The family's routes as wire route bodies (assembly/routecodec.ts) of at most `cap`
   * bytes each, walked and encoded in one pass in WASM. Throws if the table changes, or
   * another walk begins, before the generator is done.
   */
  *snapshotChunks(family: Family, cap: number): Generator<{ bytes: Uint8Array; count: number }> {
    const scratchBytes = 1024 * 4 * recordWords(family);
    if (cap + scratchBytes > this.ioBytes) throw new RangeError(`chunks of ${cap} bytes need a larger I/O buffer`);
    const id = this.x.iterBegin(family);
    const scratch = this.io;
    const out = this.io + scratchBytes;
    while (true) {
      const count = this.x.snapshotChunk(family, id, scratch, out, cap);
      if (count < 0) throw new Error("the table changed, or another walk began, during the snapshot");
      if (count === 0) return;
      this.views();
      yield { bytes: this.u8.slice(out, out + this.x.encodedBytes()), count };
    }
  }

  /** Every route of the family as change records in prefix order, in one array. */
  records(family: Family): Uint32Array {
    return this.walkInto(family, false).records;
  }

  /**
   * Every route of the family as change records in prefix order, and the low 32 bits of
   * each one's digest (shortHashes), from one walk: what a range index is made of.
   */
  recordsAndHashes(family: Family): { records: Uint32Array; hashes: Uint32Array } {
    return this.walkInto(family, true) as { records: Uint32Array; hashes: Uint32Array };
  }

  /** One walk of the family into arrays of the table's size, hashing each batch in place if asked. */
  private walkInto(family: Family, hashed: boolean): { records: Uint32Array; hashes?: Uint32Array } {
    const words = recordWords(family);
    const count = this.count(family);
    const records = new Uint32Array(count * words);
    const hashes = hashed ? new Uint32Array(count) : undefined;
    const max = Math.floor(this.ioBytes / (4 * words + (hashed ? 4 : 0)));
    const at = this.io >>> 2;
    const id = this.x.iterBegin(family);
    for (let n = 0; ; ) {
      const got = this.x.iterNext(id, this.io, max);
      if (got < 0) throw new Error("the table changed, or another walk began, during the walk");
      if (got === 0) {
        if (n !== count) throw new Error(`the walk found ${n} routes where the table counts ${count}`);
        return { records, hashes };
      }
      if (n + got > count) throw new Error(`the walk found more routes than the table's ${count}`);
      if (hashes) this.x.shortHashes(family, this.io, got, this.io + 4 * got * words);
      this.views();
      records.set(this.u32.subarray(at, at + got * words), n * words);
      hashes?.set(this.u32.subarray(at + got * words, at + got * words + got), n);
      n += got;
    }
  }

  /** The family's routes in prefix order (address, then shorter first). */
  *routes(family: Family): Generator<[Prefix, number]> {
    const records = this.records(family);
    const batch = 4096 * recordWords(family);
    for (let at = 0; at < records.length; at += batch) {
      for (const c of decodeRecords(family, records.subarray(at, at + batch))) yield [c.prefix, c.nh!];
    }
  }

}
