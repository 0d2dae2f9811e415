// Digest resync: a client brings its table to its new server's by range digests, so that
// the bytes it receives grow with the difference, not with the table.
//
// The client describes its table; the server, which sees both sides, answers with only
// what differs. One exchange per family, pipelined:
//
//   client                                           server
//   rangeDigests {request 0: ::/0 split 12 down}  ─▶
//                                                  ◀─ rangeRepair {request 0: pieces a, b
//                                                     differ and hold many routes: describe
//                                                     them; piece c differs: its routes}
//   rangeDigests {request 1: a, b split further}  ─▶
//                                                  ◀─ rangeRepair {request 1: …, last}
//
// A node is a prefix split `depth` levels down into 2^depth pieces, each with the digest of
// the client's routes whose address lies in it (assembly/ranges.ts: a route belongs to the
// piece it starts in, so a piece split further is a node of its own). For every piece whose
// digest differs from its own, the server either sends its routes there (when it holds at
// most LEAF, when the client holds none and it at most WHOLE, or when the piece is one
// address), or asks the client to describe the piece further. The client replaces each
// piece it is sent: the difference between its routes there and the server's is applied,
// and passed on, like any update.
//
// Updates keep flowing during the exchange, and the client applies them: a repair is
// computed after every update sent before it, so the table it leaves is the server's at
// that moment, and later updates carry on from there. When the last repair of the last
// request arrives, the client's digest must equal the digest that repair carries.

import { concatRecords, recordWords, type Fib, type RangePieces } from "../fib.ts";
import { Addr, Prefix, type Family } from "../netip.ts";
import { MAX_FRAME } from "../wire/frame.ts";
import type { Message, RangeNode, RangeVerdict, Subset } from "../wire/messages.ts";
import { filterRecords, wholeFamily } from "./subset.ts";

/** The first node's depth: 4096 pieces, the split the table keeps current (assembly/table.ts), so it costs no walk. */
export const TOP_DEPTH = 12;
/** A piece that differs goes whole when the server holds at most this many routes in it. */
export const LEAF = 2;
/** …or when the client holds none there and the server at most this many. */
export const WHOLE = 1024;
/** Bytes of digests in one request, and of routes and references in one repair: a frame each. */
const MESSAGE_BUDGET = MAX_FRAME - 4096;
/** Bound on one route's wire size in a repair (routecodec.ts), per family. */
const ROUTE_BOUND = { 4: 12, 6: 26 } as const;

type RangeDigests = Extract<Message, { type: "rangeDigests" }>;
type RangeRepair = Extract<Message, { type: "rangeRepair" }>;

/** A repair the client cannot use: the session ends (and the client registers again). */
export class RangeSyncError extends Error {
  override name = "RangeSyncError";
}

// --- pieces ---------------------------------------------------------------------

/** Bits [o, o + n) of the address of the record at word w, n ≤ 12. */
function addressBits(family: Family, records: Uint32Array, w: number, o: number, n: number): number {
  if (n === 0) return 0;
  const k = o >>> 5;
  const b = o & 31;
  const hi = records[w + 1 + k];
  const lo = family === 6 && k < 3 ? records[w + 2 + k] : 0;
  const window = b === 0 ? hi : ((hi << b) | (lo >>> (32 - b))) >>> 0;
  return window >>> (32 - n);
}

/** The piece of `prefix` split `depth` levels down the record at word w starts in; it must start in the prefix. */
function pieceIndex(family: Family, records: Uint32Array, w: number, prefix: Prefix, depth: number): number {
  return addressBits(family, records, w, prefix.len, depth);
}

/** Piece i of `prefix` split `depth` levels down. */
export function pieceOf(prefix: Prefix, depth: number, i: number): Prefix {
  const words = [0, 1, 2, 3].map((k) => prefix.addr.word(k));
  for (let j = 0; j < depth; j++) {
    if (((i >>> (depth - 1 - j)) & 1) === 0) continue;
    const bit = prefix.len + j;
    words[bit >>> 5] = (words[bit >>> 5] | (1 << (31 - (bit & 31)))) >>> 0;
  }
  const addr = prefix.family === 4 ? Addr.v4(words[0]) : Addr.v6(words[0], words[1], words[2], words[3]);
  return Prefix.from(addr, prefix.len + depth) as Prefix;
}

/** The records of `records` (starting in `prefix`) that start in the pieces `wanted` holds, in order. */
function recordsInPieces(family: Family, records: Uint32Array, prefix: Prefix, depth: number, wanted: ReadonlySet<number>): Uint32Array {
  const words = recordWords(family);
  const out = new Uint32Array(records.length);
  let n = 0;
  for (let w = 0; w < records.length; w += words) {
    if (!wanted.has(pieceIndex(family, records, w, prefix, depth))) continue;
    out.set(records.subarray(w, w + words), n);
    n += words;
  }
  return out.subarray(0, n);
}

/**
 * How deep to describe a piece holding `count` routes. A small piece splits into about two
 * pieces a route, so that the pieces that still differ mostly hold one route or none and
 * come whole (a descent costs the client fewer bytes than routes it already holds); a large
 * one into pieces of about 8 routes, which keeps the digests sent up few, at the price of
 * one more level where pieces differ. Tuned on the real table with 1% of it changed.
 */
export function descentDepth(count: number, pieceLen: number, width: number): number {
  const pieces = count <= 32 ? 2 * count : count / 8;
  const wanted = Math.ceil(Math.log2(Math.max(2, pieces)));
  return Math.max(1, Math.min(TOP_DEPTH, width - pieceLen, wanted));
}

/** The low 32 bits of each piece's digest, as a node sends them (no BigInt per piece). */
function shortDigests(digests: BigUint64Array): Uint32Array {
  const words = new Uint32Array(digests.buffer, digests.byteOffset, 2 * digests.length);
  const out = new Uint32Array(digests.length);
  for (let i = 0; i < out.length; i++) out[i] = words[2 * i];
  return out;
}

function nodeBytes(node: RangeNode): number {
  let present = 0;
  for (const d of node.digests) if (d !== 0) present++;
  return 18 + Math.ceil(node.digests.length / 8) + 4 * present;
}

/** Routes of every length whose address lies in the node's prefix: a piece is a node's range. */
const ANY_LENGTH = 0;

// --- the server's side --------------------------------------------------------------------

/** The server's table as one client sees it: its subset's digests and routes over ranges. */
interface SubsetView {
  digests(node: RangeNode): RangePieces;
  /** The routes of the given pieces of the node last asked for, in prefix order. */
  routes(node: RangeNode, pieces: readonly number[]): Uint32Array;
}

/**
 * Range digests of a server's table, kept while the table does not change: clients that
 * held the same table (the cards of a chassis mostly do) send the same requests.
 */
export class RangeCache {
  private readonly entries = new Map<string, RangePieces>();
  private readonly generation = { 4: -1, 6: -1 };

  constructor(private readonly fib: Fib, private readonly maxEntries = 1 << 16) {}

  digests(family: Family, prefix: Prefix, depth: number): RangePieces {
    const generation = this.fib.generation(family);
    if (generation !== this.generation[family]) {
      for (const key of this.entries.keys()) if (key.startsWith(`${family}:`)) this.entries.delete(key);
      this.generation[family] = generation;
    }
    const a = prefix.addr;
    const key = `${family}:${a.w0},${a.w1},${a.w2},${a.w3}/${prefix.len}:${depth}`;
    let pieces = this.entries.get(key);
    if (!pieces) {
      if (this.entries.size >= this.maxEntries) this.entries.clear();
      pieces = this.fib.rangeDigests(prefix, depth, ANY_LENGTH);
      this.entries.set(key, pieces);
    }
    return pieces;
  }
}

function subsetView(fib: Fib, subset: Subset, family: Family, cache: RangeCache): SubsetView {
  if (wholeFamily(subset, family)) {
    return {
      digests: (node) => cache.digests(family, node.prefix, node.depth),
      routes: (node, pieces) => piecesRoutes(fib, node, pieces),
    };
  }
  // A subset within the family: the node's routes, filtered, walked once per node.
  let records: Uint32Array = new Uint32Array(0);
  return {
    digests: (node) => {
      records = filterRecords(subset, family, fib.recordsInRange(node.prefix, ANY_LENGTH));
      return fib.pieceDigests(family, records, node.prefix, node.depth, ANY_LENGTH);
    },
    routes: (node, pieces) => recordsInPieces(family, records, node.prefix, node.depth, new Set(pieces)),
  };
}

/** A table's routes in the given pieces of a node (in increasing order), in prefix order. */
function piecesRoutes(fib: Fib, node: RangeNode, pieces: readonly number[]): Uint32Array {
  return concatRecords(pieces.map((i) => fib.recordsInRange(pieceOf(node.prefix, node.depth, i), ANY_LENGTH)));
}

/**
 * The repairs that answer a client's request: for every piece that differs, the routes of
 * the client's subset there or a descent, in messages of at most one frame. `digest` is the
 * digest of the client's subset of the server's table now; `cache` keeps the server's
 * digests of whole families for the next client that asks.
 */
export function* rangeRepairs(fib: Fib, subset: Subset, m: RangeDigests, digest: bigint, cache = new RangeCache(fib)): Generator<RangeRepair> {
  const { family, request } = m;
  const width = family === 4 ? 32 : 128;
  const view = subsetView(fib, subset, family, cache);
  let first = 0;
  let verdicts: RangeVerdict[][] = [];
  let routes: Uint32Array[] = [];
  let bytes = 0;
  const repair = (last: boolean, next: number): RangeRepair => {
    const records = concatRecords(routes);
    const encoded = fib.encodeRoutes(family, records, MAX_FRAME);
    if (encoded.count * recordWords(family) !== records.length) throw new Error("a repair's routes outgrew a frame");
    const out: RangeRepair = { type: "rangeRepair", family, request, first, nodes: verdicts, ...(last ? { last: { digest } } : {}), count: encoded.count, data: encoded.bytes };
    first = next;
    verdicts = [];
    routes = [];
    bytes = 0;
    return out;
  };
  for (const [index, node] of m.nodes.entries()) {
    const ours = view.digests(node);
    const pieceLen = node.prefix.len + node.depth;
    let mine: RangeVerdict[] = [];
    verdicts.push(mine);
    let whole: number[] = [];
    const takeRoutes = () => {
      if (whole.length > 0) routes.push(view.routes(node, whole));
      whole = [];
    };
    const own = shortDigests(ours.digests);
    for (let piece = 0; piece < own.length; piece++) {
      if (own[piece] === node.digests[piece]) continue;
      const count = ours.counts[piece];
      const empty = node.digests[piece] === 0;
      const descend = count > LEAF && pieceLen < width && !(empty && count <= WHOLE);
      const cost = descend ? 2 : 2 + count * ROUTE_BOUND[family];
      if (bytes > 0 && bytes + cost > MESSAGE_BUDGET) {
        // The rest of this node's verdicts go in the next repair, which starts at it.
        takeRoutes();
        yield repair(false, index);
        mine = [];
        verdicts.push(mine);
      }
      bytes += cost;
      mine.push({ piece, descend });
      if (!descend) whole.push(piece);
    }
    takeRoutes();
  }
  yield repair(true, 0);
}

// --- the client's side --------------------------------------------------------------------

/** What the client's exchange of one family has done so far. */
export interface RangeSyncStats {
  requests: number;
  nodes: number;
  repairs: number;
  /** Routes the server sent for the pieces it replaced. */
  routesIn: number;
}

/** A node the client described, with how many routes it holds in each piece. */
interface Described {
  node: RangeNode;
  counts: Uint32Array;
}

/**
 * One family's exchange, on the client. start() sends the first request; repair() takes
 * each repair, applies what it replaces through `apply`, sends the descents it asks for,
 * and says when the table is the server's.
 */
export class RangeSync {
  readonly stats: RangeSyncStats = { requests: 0, nodes: 0, repairs: 0, routesIn: 0 };
  private readonly requests = new Map<number, Described[]>();
  private nextRequest = 0;
  private readonly width: number;

  constructor(
    private readonly fib: Fib,
    readonly family: Family,
    private readonly send: (m: Message) => boolean,
    private readonly apply: (changes: Uint32Array) => void,
  ) {
    this.width = family === 4 ? 32 : 128;
  }

  start(): void {
    const root = Prefix.from(family0(this.family), 0) as Prefix;
    this.request([this.describe(root, TOP_DEPTH)]);
  }

  /**
   * Takes a repair: replaces the pieces it carries, describes the pieces it asks about.
   * Returns "done" when nothing is outstanding (the table then holds the routes the last
   * repair's digest sums), "more" otherwise. Throws RangeSyncError on a repair that does not
   * answer what was asked.
   */
  repair(m: RangeRepair): "done" | "more" {
    const described = this.requests.get(m.request);
    if (!described) throw new RangeSyncError(`repair of request ${m.request}, which is not outstanding`);
    if (m.first + m.nodes.length > described.length) throw new RangeSyncError(`repair of request ${m.request}: nodes ${m.first}+${m.nodes.length} of ${described.length}`);
    this.stats.repairs++;
    const theirs = this.fib.decodeRoutes(this.family, m.data, m.count, false);
    if (theirs instanceof Error) throw new RangeSyncError(`repair of request ${m.request}: ${theirs.message}`);
    this.stats.routesIn += m.count;
    const words = recordWords(this.family);
    const mine: Uint32Array[] = [];
    const next: Described[] = [];
    let theirsAt = 0;
    m.nodes.forEach((verdicts, i) => {
      const { node, counts } = described[m.first + i];
      const pieceLen = node.prefix.len + node.depth;
      const replaced: number[] = [];
      for (const v of verdicts) {
        if (v.piece >= node.digests.length) throw new RangeSyncError(`repair of request ${m.request}: no piece ${v.piece} of ${node.prefix} split ${node.depth} down`);
        if (!v.descend) { replaced.push(v.piece); continue; }
        if (pieceLen >= this.width) throw new RangeSyncError(`repair of request ${m.request}: piece ${v.piece} of ${node.prefix} cannot split`);
        next.push(this.describe(pieceOf(node.prefix, node.depth, v.piece), descentDepth(counts[v.piece], pieceLen, this.width)));
      }
      if (replaced.length === 0) return;
      mine.push(piecesRoutes(this.fib, node, replaced));
      const replacedSet = new Set(replaced);
      // The server's routes come node by node, in the same order, each in a piece replaced.
      for (; theirsAt < theirs.length && startsIn(this.family, theirs, theirsAt, node.prefix); theirsAt += words) {
        if (!replacedSet.has(pieceIndex(this.family, theirs, theirsAt, node.prefix, node.depth))) {
          throw new RangeSyncError(`repair of request ${m.request}: a route of ${node.prefix} outside the pieces replaced`);
        }
      }
    });
    if (theirsAt !== theirs.length) throw new RangeSyncError(`repair of request ${m.request}: routes outside the pieces replaced`);
    const diff = this.fib.diff(this.family, concatRecords(mine), theirs);
    if (diff.changes.length > 0) this.apply(diff.changes);
    if (m.last) this.requests.delete(m.request);
    if (next.length > 0) this.request(next);
    return this.requests.size === 0 ? "done" : "more";
  }

  private describe(prefix: Prefix, depth: number): Described {
    const { digests, counts } = this.fib.rangeDigests(prefix, depth, ANY_LENGTH);
    return { node: { prefix, depth, digests: shortDigests(digests) }, counts };
  }

  /** Sends nodes (in prefix order, disjoint) as requests of at most a frame each. */
  private request(nodes: Described[]): void {
    let batch: Described[] = [];
    let bytes = 0;
    const flush = () => {
      const request = this.nextRequest++;
      this.requests.set(request, batch);
      this.stats.requests++;
      this.stats.nodes += batch.length;
      this.send({ type: "rangeDigests", family: this.family, request, nodes: batch.map((d) => d.node) });
      batch = [];
      bytes = 0;
    };
    for (const d of nodes) {
      const size = nodeBytes(d.node);
      if (batch.length > 0 && bytes + size > MESSAGE_BUDGET) flush();
      batch.push(d);
      bytes += size;
    }
    if (batch.length > 0) flush();
  }
}

function family0(family: Family): Addr {
  return family === 4 ? Addr.v4(0) : Addr.v6(0, 0, 0, 0);
}

/** Whether the address of the record at word w lies in `prefix`. */
function startsIn(family: Family, records: Uint32Array, w: number, prefix: Prefix): boolean {
  for (let k = 0; k * 32 < prefix.len; k++) {
    const bits = Math.min(32, prefix.len - k * 32);
    const mask = bits === 32 ? 0xffffffff : ~(0xffffffff >>> bits);
    if (((records[w + 1 + k] ^ prefix.addr.word(k)) & mask) !== 0) return false;
    if (family === 4) break;
  }
  return true;
}
