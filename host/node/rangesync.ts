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
//
// Both ends answer from a range index (host/rangeindex.ts): the table walked once, so each
// of the thousands of pieces costs a scan of its routes, not a walk. The server keeps one
// per subset while its table does not change (the cards of a chassis mostly hold the same
// table and ask the same); the client builds one when it starts, and again only when an
// update changed its table since (its own repairs change only pieces it never asks about
// again).

import { concatRecords, foldableCells, recordWords, sketchCellWords, sortRecords, SKETCH_K, type Fib } from "../fib.ts";
import { Addr, Prefix, type Family } from "../netip.ts";
import { RangeIndex, addressBits, startsIn } from "../rangeindex.ts";
import { MAX_FRAME } from "../wire/frame.ts";
import { TOP_PIECES, type Message, type PieceRange, type RangeNode, type RangeVerdict, type Subset } from "../wire/messages.ts";
import { filterRecords, subsetDigest, wholeFamily } from "./subset.ts";

/** The first node's depth: 4096 pieces, the most a node has, and those the table keeps (Fib.topPieces). */
export const TOP_DEPTH = 12;
/** A piece that differs goes whole when the server holds at most this many routes in it. */
export const LEAF = 2;
/** …or when the client holds none there and the server at most this many. */
export const WHOLE = 1024;
/**
 * …or at most this many in a piece at least DEEP long: past the lengths most routes have,
 * what is left is runs of small prefixes that one range was split into, which a descent
 * parts a few at a time, a round trip each.
 */
const DEEP_LEAF = 64;
const DEEP = { 4: 24, 6: 64 } as const;
/**
 * A descent names the prefix inside the piece where the server's routes there lie when that
 * is at least this many bits longer than the piece: a descent splits a few bits at a time.
 */
const NARROW = 4;
/** Bytes of digests in one request, and of routes and references in one repair: a frame each. */
const MESSAGE_BUDGET = MAX_FRAME - 4096;
/** Bound on one route's wire size in a repair (routecodec.ts), per family. */
const ROUTE_BOUND = { 4: 12, 6: 26 } as const;

type RangeDigests = Extract<Message, { type: "rangeDigests" }>;
type RangeRepair = Extract<Message, { type: "rangeRepair" }>;
type SketchAsk = Extract<Message, { type: "sketchAsk" }>;
type RangeSketch = Extract<Message, { type: "rangeSketch" }>;
type SketchRepair = Extract<Message, { type: "sketchRepair" }>;

/** A repair the client cannot use: the session ends (and the client registers again). */
export class RangeSyncError extends Error {
  override name = "RangeSyncError";
}

// --- pieces ---------------------------------------------------------------------

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

function nodeBytes(node: RangeNode): number {
  let present = 0;
  for (const d of node.digests) if (d !== 0) present++;
  return 18 + Math.ceil(node.digests.length / 8) + 4 * present;
}

// --- the server's side --------------------------------------------------------------------

/**
 * What a server keeps while its table does not change, per subset its clients ask for: the
 * range index, and the repairs it answered requests with. The cards of a chassis mostly
 * hold the same table, so when a route processor dies they ask the same requests of the
 * same server: each is computed once.
 */
export class RangeCache {
  private readonly entries = new Map<string, Entry>();

  /**
   * Up to maxEntries subsets; per subset, the answers to up to maxAnswered requests (a
   * failover of the real table asks about 40, up to a frame and its repairs each).
   */
  constructor(private readonly fib: Fib, private readonly maxEntries = 8, private readonly maxAnswered = 128) {}

  /** The index of the routes of `family` that `subset` holds, as the table holds them now. */
  index(family: Family, subset: Subset): RangeIndex {
    const entry = this.entry(family, subset);
    entry.index ??= entry.whole ? RangeIndex.ofTable(this.fib, family) : RangeIndex.of(this.fib, family, filterRecords(subset, family, this.fib.records(family)));
    return entry.index;
  }

  /** The repairs that answer `m` from a client of `subset` (rangeRepairs), computed once per request, table and `whole`. */
  repairs(subset: Subset, m: RangeDigests, digest: bigint, whole = false): readonly RangeRepair[] {
    const { answered } = this.entry(m.family, subset);
    const key = fingerprint(m);
    const same = answered.get(key)?.find((a) => sameRequest(a.request, m) && a.digest === digest && a.whole === whole);
    if (same) return same.repairs;
    const repairs = [...rangeRepairs(this.fib, subset, m, digest, this, whole)];
    if (answered.size >= this.maxAnswered) answered.clear();
    answered.set(key, [...(answered.get(key) ?? []), { request: m, digest, whole, repairs }]);
    return repairs;
  }

  /**
   * The short digest and the count of each piece of the family split TOP_DEPTH down, of the
   * routes `subset` holds: what a client's first request is compared with. Of a whole
   * family, from one walk of the table, with no index made.
   */
  top(family: Family, subset: Subset): { digests: Uint32Array; counts: Uint32Array } {
    const entry = this.entry(family, subset);
    if (!entry.top) {
      const root = Prefix.from(family0(family), 0) as Prefix;
      if (entry.whole) {
        entry.top = topPieces(this.fib, family);
      } else {
        const index = this.index(family, subset);
        const bounds = index.split(root, TOP_DEPTH);
        const n = bounds.length - 1;
        entry.top = {
          digests: Uint32Array.from({ length: n }, (_, i) => index.digest(bounds[i], bounds[i + 1])),
          counts: Uint32Array.from({ length: n }, (_, i) => bounds[i + 1] - bounds[i]),
        };
      }
    }
    return entry.top;
  }

  /**
   * The repairs that answer a client's sketch (sketchRepairs), computed once per sketch and
   * table: the cards of a chassis mostly hold the same table, so they send the same sketch.
   */
  sketchAnswer(family: Family, subset: Subset, request: number, pieces: PieceRange, theirs: Uint32Array, digest: bigint | undefined): SketchRepair[] | undefined {
    const { peeled } = this.entry(family, subset);
    const key = hashWords(theirs, request * TOP_PIECES * TOP_PIECES + pieces.from * TOP_PIECES + pieces.to);
    const same = peeled.get(key);
    if (same && same.digest === digest && sameWords(same.theirs, theirs)) return same.repairs;
    const repairs = sketchRepairs(this.fib, subset, family, request, pieces, theirs, digest, this);
    if (peeled.size >= 8) peeled.clear();
    peeled.set(key, { theirs: theirs.slice(), digest, repairs });
    return repairs;
  }

  /**
   * A sketch of `cells` cells of the routes of `family` that `subset` holds in `pieces`, as
   * the table holds them now.
   */
  sketch(family: Family, subset: Subset, cells: number, pieces: PieceRange): Uint32Array {
    const entry = this.entry(family, subset);
    const key = `${cells}:${pieces.from}:${pieces.to}`;
    let sketch = entry.sketches.get(key);
    if (!sketch) {
      if (entry.sketches.size >= 16) entry.sketches.clear();
      sketch = entry.whole && isEveryPiece(pieces) ? this.fib.sketch(family, cells) : this.fib.sketch(family, cells, piecesRecords(this.index(family, subset), pieces));
      entry.sketches.set(key, sketch);
    }
    return sketch;
  }

  private entry(family: Family, subset: Subset): Entry {
    const generation = this.fib.generation(family);
    const whole = wholeFamily(subset, family);
    const key = whole ? `${family}` : `${family}:${subset.prefixes.filter((p) => p.family === family).join(",")}`;
    const kept = this.entries.get(key);
    if (kept?.generation === generation) return kept;
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    const entry: Entry = { generation, whole, answered: new Map(), sketches: new Map(), peeled: new Map() };
    this.entries.set(key, entry);
    return entry;
  }
}

/** What the cache keeps of one subset of one family, while the table does not change; made as asked for. */
interface Entry {
  generation: number;
  /** Whether the subset is the whole family. */
  whole: boolean;
  index?: RangeIndex;
  top?: { digests: Uint32Array; counts: Uint32Array };
  answered: Map<number, Answered[]>;
  /** Sketches of the subset's routes, by cells and pieces. */
  sketches: Map<string, Uint32Array>;
  /** Clients' sketches and their answers, by hashWords. */
  peeled: Map<number, { theirs: Uint32Array; digest: bigint | undefined; repairs: SketchRepair[] | undefined }>;
}

interface Answered {
  request: RangeDigests;
  digest: bigint;
  whole: boolean;
  repairs: RangeRepair[];
}

/** A 32-bit hash of words and a number (FNV-1a over the words). */
function hashWords(words: Uint32Array, n: number): number {
  let h = Math.imul(n ^ 0x811c9dc5, 0x01000193);
  for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i], 0x01000193);
  return h >>> 0;
}

function sameWords(a: Uint32Array, b: Uint32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A 32-bit hash of a request: its number and every node's prefix, depth and digests. */
function fingerprint(m: RangeDigests): number {
  let h = Math.imul(m.request ^ 0x811c9dc5, 0x01000193);
  const mix = (x: number) => { h = Math.imul(h ^ x, 0x01000193); };
  for (const node of m.nodes) {
    const a = node.prefix.addr;
    mix(a.w0); mix(a.w1); mix(a.w2); mix(a.w3); mix(node.prefix.len); mix(node.depth);
    for (let i = 0; i < node.digests.length; i++) mix(node.digests[i]);
  }
  return h >>> 0;
}

function sameRequest(a: RangeDigests, b: RangeDigests): boolean {
  if (a.request !== b.request || a.family !== b.family || a.nodes.length !== b.nodes.length) return false;
  return a.nodes.every((x, i) => {
    const y = b.nodes[i];
    if (!x.prefix.equals(y.prefix) || x.depth !== y.depth || x.digests.length !== y.digests.length) return false;
    for (let k = 0; k < x.digests.length; k++) if (x.digests[k] !== y.digests[k]) return false;
    return true;
  });
}

/**
 * The repairs that answer a client's request: for every piece that differs, the routes of
 * the client's subset there or a descent, in messages of at most one frame; with `whole`,
 * the routes of every piece that differs that one message can carry (a difference too wide
 * to look for more closely). `digest` is the digest of the client's subset of the server's table now;
 * `cache` keeps the server's range indexes for the next request, and the next client.
 */
export function* rangeRepairs(fib: Fib, subset: Subset, m: RangeDigests, digest: bigint, cache = new RangeCache(fib), whole = false): Generator<RangeRepair> {
  const { family, request } = m;
  const width = family === 4 ? 32 : 128;
  const index = cache.index(family, subset);
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
  for (const [at, node] of m.nodes.entries()) {
    const bounds = index.split(node.prefix, node.depth);
    const pieceLen = node.prefix.len + node.depth;
    let mine: RangeVerdict[] = [];
    verdicts.push(mine);
    for (let piece = 0; piece < node.digests.length; piece++) {
      const from = bounds[piece];
      const to = bounds[piece + 1];
      if (index.digest(from, to) === node.digests[piece]) continue;
      const count = to - from;
      const empty = node.digests[piece] === 0;
      // Where our routes there lie: no split parts routes that start at one address.
      // With `whole`, a piece goes whole unless its routes would not fit one repair.
      const fitsWhole = whole && 2 + count * ROUTE_BOUND[family] <= MESSAGE_BUDGET;
      const shared = !fitsWhole && count > (pieceLen >= DEEP[family] ? DEEP_LEAF : LEAF) ? index.sharedPrefix(from, to) : undefined;
      const descend = shared !== undefined && shared.len < width && !(empty && count <= WHOLE);
      const within = descend && shared.len - pieceLen >= NARROW ? shared : undefined;
      const cost = descend ? 2 + (within ? 2 + Math.ceil(within.len / 8) : 0) : 2 + count * ROUTE_BOUND[family];
      if (bytes > 0 && bytes + cost > MESSAGE_BUDGET) {
        // The rest of this node's verdicts go in the next repair, which starts at it.
        yield repair(false, at);
        mine = [];
        verdicts.push(mine);
      }
      bytes += cost;
      mine.push(within ? { piece, descend, within } : { piece, descend });
      if (!descend && count > 0) routes.push(index.routes(from, to));
    }
  }
  yield repair(true, 0);
}

// --- sketches -------------------------------------------------------------------------

/**
 * When the first request suggests this many prefixes differ, the server asks for a sketch
 * of the client's table instead of descending: a difference that wide has a descent make
 * the client describe much of its table, piece by piece.
 */
const SKETCH_MIN_PREFIXES = 64;
/** Fewer pieces holding routes than this tell little of how many routes differ. */
const FEW_PIECES = 64;
/** The share of the routes a sketch is made for when the pieces tell little, at least. */
const SATURATED_SHARE = 0.02;
/**
 * …unless the card's other family told: what a card missed while it followed another server
 * is the updates of a span of time, which touch both families alike, so the share estimated
 * there is taken, with this margin. A sketch made too small for it is asked for again.
 */
const PRIOR_MARGIN = 1.5;
/**
 * Past this share of the routes differing, the first request is answered with the routes of
 * every piece that differs. The sketches the client would send up (three cells, 60 B or
 * more, a prefix that differs) then outweigh the routes of nearly every piece (about 3 B a
 * route), and take longer to make, send and peel. On the real table, 4 cards at once: at
 * 10%, 0.6–0.9 s and 2.4 MB in all against 1.0–1.1 s and 5.7 MB by sketches; at 6%,
 * sketches are still faster (0.71 s against 0.85 s). The client receives more than the
 * difference, though less than a copy.
 */
const WIDE_SHARE = 0.08;
/** Cells a sketch may have: two and the room to peel them fit a node's 4 MiB I/O buffer, IPv6 too. */
export const SKETCH_MAX_CELLS = 36000;

/** A sketch to ask for: of the routes in these pieces of the first node, this many cells. */
interface PlannedSketch {
  pieces: PieceRange;
  cells: number;
}

/** Most sketches one request is answered by: a difference wider still is closer to a copy. */
const MAX_SKETCHES = 16;

/**
 * A plan of sketches, or `wide` (answer with the routes of every piece that differs), and
 * the share of the routes estimated to differ where the pieces told it.
 */
interface SketchPlan {
  sketches?: PlannedSketch[];
  wide?: boolean;
  share?: number;
}

/**
 * The sketches to ask for in answer to a client's first request, in order of the pieces
 * they cover, or none to answer by descent: when few prefixes seem to differ, or when the
 * difference is too wide even for MAX_SKETCHES (a descent finds any difference, however
 * large); `wide` past WIDE_SHARE. `prior`: the share estimated from the client's other
 * family, if it told one.
 *
 * How many routes differ, estimated from the pieces that do: if each route differs with
 * odds q, a piece of c routes differs with odds 1 − (1 − q)^c; q is the odds at which as
 * many pieces as did are expected to differ. Where every piece that holds routes differs, or
 * few hold any (IPv6 tables fill a handful), that is only a lower bound: the sketch is made
 * for PRIOR_MARGIN × the prior share, or else four times as large and large enough for
 * SATURATED_SHARE of the routes. Each prefix that differs is up to two routes of the
 * difference (the old next hop and the new), and a sketch of 1.5 cells a route comes apart
 * but for bad luck, which a small one needs more room against.
 *
 * A difference wider than one sketch may hold is split: each piece that differs is
 * expected to hold c·q / (1 − (1 − q)^c) of the prefixes that do, and consecutive pieces
 * are grouped while their share fits one sketch.
 */
function sketchPlan(top: { digests: Uint32Array; counts: Uint32Array }, m: RangeDigests, maxCells: number, prior: number | undefined): SketchPlan {
  const node = m.nodes[0];
  if (m.nodes.length !== 1 || node.prefix.len !== 0 || node.depth !== TOP_DEPTH) return {};
  // How many pieces hold each count of routes: far fewer counts than pieces to sum over.
  const pieces = new Map<number, number>();
  let held = 0;
  let routes = 0;
  let differ = 0;
  for (let piece = 0; piece < node.digests.length; piece++) {
    if (top.counts[piece] === 0 && node.digests[piece] === 0) continue;
    const count = Math.max(1, top.counts[piece]);
    pieces.set(count, (pieces.get(count) ?? 0) + 1);
    held++;
    routes += count;
    if (top.digests[piece] !== node.digests[piece]) differ++;
  }
  if (differ === 0) return {};
  const saturated = differ > 0.98 * held || held < FEW_PIECES;
  const target = Math.min(differ, 0.98 * held);
  const expected = (q: number) => {
    const keep = Math.log1p(-q);
    let sum = 0;
    for (const [count, n] of pieces) sum += n * -Math.expm1(count * keep);
    return sum;
  };
  let low = 0;
  let high = 1;
  for (let i = 0; i < 40; i++) {
    const q = (low + high) / 2;
    if (expected(q) < target) low = q;
    else high = q;
  }
  const told = saturated ? undefined : high;
  const guess = prior !== undefined ? PRIOR_MARGIN * prior * routes : Math.max(4 * high * routes, SATURATED_SHARE * routes);
  const prefixes = saturated ? Math.max(high * routes, guess) : high * routes;
  if (prefixes < SKETCH_MIN_PREFIXES) return { share: told };
  if (prefixes > WIDE_SHARE * routes) return { wide: true, share: told };
  const most = Math.min(maxCells, SKETCH_MAX_CELLS);
  const cellsFor = (n: number) => Math.ceil((3 * n + 60) / SKETCH_K) * SKETCH_K;
  if (cellsFor(prefixes) <= most) return { sketches: [{ pieces: { from: 0, to: TOP_PIECES }, cells: wholeCells(cellsFor(prefixes), most) }], share: told };
  // Each differing piece's share of the prefixes that differ, scaled to the estimate.
  const share = new Float64Array(node.digests.length);
  let sum = 0;
  for (let piece = 0; piece < share.length; piece++) {
    if (top.digests[piece] === node.digests[piece]) continue;
    const c = Math.max(1, top.counts[piece]);
    share[piece] = high > 0 ? (c * high) / -Math.expm1(c * Math.log1p(-high)) : 1;
    sum += share[piece];
  }
  const plan: PlannedSketch[] = [];
  let from = 0;
  let load = 0;
  for (let piece = 0; piece < share.length; piece++) {
    const n = (share[piece] * prefixes) / sum;
    if (cellsFor(n) > most) return { share: told };
    if (cellsFor(load + n) > most) {
      plan.push({ pieces: { from, to: piece }, cells: cellsFor(load) });
      from = piece;
      load = 0;
    }
    load += n;
  }
  plan.push({ pieces: { from, to: share.length }, cells: cellsFor(load) });
  return plan.length <= MAX_SKETCHES ? { sketches: plan, share: told } : { share: told };
}

/**
 * The cells to ask for in a sketch of every piece, at least `cells`: a size the client folds
 * out of the sketch its table keeps (foldableCells) where that is at most `most`, which
 * costs it no walk of its table.
 */
function wholeCells(cells: number, most: number): number {
  const foldable = foldableCells(cells);
  return foldable !== undefined && foldable <= most ? foldable : cells;
}

/** Whether a piece range is the whole first node. */
function isEveryPiece(pieces: PieceRange): boolean {
  return pieces.from === 0 && pieces.to === TOP_PIECES;
}

/** The records of an index whose address lies in `pieces` of the first node. */
function piecesRecords(index: RangeIndex, pieces: PieceRange): Uint32Array {
  const bounds = index.split(Prefix.from(family0(index.family), 0) as Prefix, TOP_DEPTH);
  const words = recordWords(index.family);
  return index.records.subarray(bounds[pieces.from] * words, bounds[pieces.to] * words);
}

/**
 * The repairs that answer a client's sketch of its subset's routes in `pieces` (`theirs`,
 * as many cells as the server's): the changes that make the client's routes there the
 * server's, as update bodies of at most a frame; the last carries `digest`, the digest of
 * the client's subset of the server's table now, when given (the last sketch of the
 * request). Undefined when the sketches do not come apart: the difference is too large for
 * them.
 */
export function sketchRepairs(fib: Fib, subset: Subset, family: Family, request: number, pieces: PieceRange, theirs: Uint32Array, digest: bigint | undefined, cache: RangeCache): SketchRepair[] | undefined {
  const cells = theirs.length / sketchCellWords(family);
  const found = fib.sketchDifference(family, cache.sketch(family, subset, cells, pieces), theirs);
  if (!found) return undefined;
  // Ours (sets) are the table; theirs (removes) are what the client holds instead.
  const words = recordWords(family);
  const ours: number[] = [];
  const gone: number[] = [];
  for (let w = 0; w < found.length; w += words) ((found[w] & 255) === 1 ? ours : gone).push(w);
  const side = (at: number[]) => {
    const out = new Uint32Array(at.length * words);
    at.forEach((w, i) => {
      out.set(found.subarray(w, w + words), i * words);
      out[i * words] = (out[i * words] & ~255) | 1;
    });
    return sortRecords(family, out);
  };
  const { changes } = fib.diff(family, side(gone), side(ours));
  const out: SketchRepair[] = [];
  for (let at = 0; ; ) {
    const encoded = fib.encodeRoutes(family, changes.subarray(at), MESSAGE_BUDGET);
    at += encoded.count * words;
    const last = at >= changes.length;
    out.push({ type: "sketchRepair", family, request, ...(last && digest !== undefined ? { last: { digest } } : {}), count: encoded.count, data: encoded.bytes });
    if (last) return out;
  }
}

/**
 * A request being answered by sketches: the sketches still to ask for after the one being
 * received, and that one's size, how often it was asked for, and its cells so far.
 */
interface Receiving {
  request: RangeDigests;
  plan: PlannedSketch[];
  cells: number;
  tries: number;
  got: number;
  data: Uint8Array;
}

/**
 * The server's side of one client's exchange: answers each request by repairs, or the first
 * by asking for sketches (sketchPlan), one at a time, and answering each by the difference
 * it shows; a first request that shows a wide difference gets the routes of every piece
 * that differs, with no descent. A sketch that does not come apart is asked for again twice the size, once, and
 * then the request is answered by repairs after all. Every answer is computed and sent in
 * one turn, after every update sent before it.
 */
export class RangeAnswers {
  private readonly receiving = new Map<Family, Receiving>();
  /** Per family, the share of the routes its last first request showed to differ, if its pieces told it (sketchPlan's prior). */
  private readonly shares = new Map<Family, number | undefined>();
  /** Families whose exchange found the difference wide: every request of it is answered with whole pieces. */
  private readonly wide = new Set<Family>();

  constructor(
    private readonly fib: Fib,
    private readonly cache: RangeCache,
    private readonly subset: Subset,
    private readonly send: (m: Message) => boolean,
  ) {}

  request(m: RangeDigests): void {
    if (m.request !== 0 && this.wide.has(m.family)) return this.repairs(m, true);
    const prior = this.shares.get(m.family === 4 ? 6 : 4);
    const { sketches, wide, share } = sketchPlan(this.cache.top(m.family, this.subset), m, this.fib.maxSketchCells(m.family), prior);
    if (m.request === 0) {
      this.shares.set(m.family, share);
      if (wide) this.wide.add(m.family);
      else this.wide.delete(m.family);
    }
    if (sketches === undefined) return this.repairs(m, wide);
    this.ask(m, sketches, sketches[0].cells, 1);
  }

  /** Takes a part of a sketch. Throws RangeSyncError on one that was not asked for or comes out of order. */
  sketch(m: RangeSketch): void {
    const r = this.receiving.get(m.family);
    if (!r || r.request.request !== m.request || r.cells !== m.cells) throw new RangeSyncError(`a sketch of ${m.cells} cells for request ${m.request}, which was not asked for`);
    const cellBytes = 4 * sketchCellWords(m.family);
    if (m.first !== r.got) throw new RangeSyncError(`sketch cells from ${m.first}, where ${r.got} were expected`);
    r.data.set(m.data, m.first * cellBytes);
    r.got += m.data.length / cellBytes;
    if (r.got < r.cells) return;
    this.receiving.delete(m.family);
    const theirs = new Uint32Array(r.data.buffer, r.data.byteOffset, r.data.byteLength / 4);
    const [{ pieces }, ...rest] = r.plan;
    const digest = rest.length === 0 ? subsetDigest(this.fib, this.subset, m.family) : undefined;
    const repairs = this.cache.sketchAnswer(m.family, this.subset, m.request, pieces, theirs, digest);
    if (repairs) {
      for (const repair of repairs) if (!this.send(repair)) return;
      if (rest.length > 0) this.ask(r.request, rest, rest[0].cells, 1);
      return;
    }
    const most = Math.min(SKETCH_MAX_CELLS, this.fib.maxSketchCells(m.family));
    const more = isEveryPiece(pieces) ? wholeCells(2 * r.cells, most) : 2 * r.cells;
    if (r.tries < 2 && more <= most) return this.ask(r.request, r.plan, more, r.tries + 1);
    this.repairs(r.request);
  }

  /** Asks for the first sketch of `plan`, of `cells` cells. */
  private ask(request: RangeDigests, plan: PlannedSketch[], cells: number, tries: number): void {
    const data = new Uint8Array(cells * 4 * sketchCellWords(request.family));
    this.receiving.set(request.family, { request, plan, cells, tries, got: 0, data });
    this.send({ type: "sketchAsk", family: request.family, request: request.request, cells, pieces: plan[0].pieces });
  }

  private repairs(m: RangeDigests, whole = false): void {
    for (const repair of this.cache.repairs(this.subset, m, subsetDigest(this.fib, this.subset, m.family), whole)) {
      if (!this.send(repair)) return;
    }
  }
}

// --- the client's side --------------------------------------------------------------------

/** What the client's exchange of one family has done so far. */
export interface RangeSyncStats {
  requests: number;
  nodes: number;
  repairs: number;
  /** Routes the server sent for the pieces it replaced, or the changes it found from a sketch. */
  routesIn: number;
  /** Sketches of the table sent. */
  sketches: number;
}

/**
 * A node the client described, and where its pieces lie in the index it was described from
 * (none for the first: it is described straight from the table, and the server may never
 * ask where its pieces lie).
 */
interface Described {
  node: RangeNode;
  index?: RangeIndex;
  bounds?: Uint32Array;
}

/**
 * One family's exchange, on the client. start() sends the first request; repair() takes
 * each repair, applies what it replaces through `apply`, sends the descents it asks for,
 * and says when the table is the server's.
 */
export class RangeSync {
  readonly stats: RangeSyncStats = { requests: 0, nodes: 0, repairs: 0, routesIn: 0, sketches: 0 };
  private readonly requests = new Map<number, Described[]>();
  private nextRequest = 0;
  private readonly width: number;
  private index!: RangeIndex;
  /** The table's generation the index holds, but for our own repairs. */
  private indexed = -1;

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
    const { digests } = topPieces(this.fib, this.family);
    this.request([{ node: { prefix: root, depth: TOP_DEPTH, digests } }]);
  }

  /** Takes a message of the exchange from the server: a repair, a request for a sketch, or a sketch's repair. */
  take(m: RangeRepair | SketchAsk | SketchRepair): "done" | "more" {
    if (m.type === "sketchAsk") return this.sketch(m);
    if (m.type === "sketchRepair") return this.sketchRepair(m);
    return this.repair(m);
  }

  /**
   * The server asks for a sketch of our routes in some pieces of the first node, in answer
   * to a request: sent in frames of whole cells. The request stays outstanding: the server
   * answers it by a sketch's repair (the last with the digest), or, if the sketch does not
   * come apart, by another request for one or by repairs.
   */
  private sketch(m: SketchAsk): "more" {
    if (!this.requests.has(m.request)) throw new RangeSyncError(`sketch for request ${m.request}, which is not outstanding`);
    if (m.cells % SKETCH_K !== 0 || m.cells === 0 || m.cells > Math.min(SKETCH_MAX_CELLS, this.fib.maxSketchCells(this.family))) {
      throw new RangeSyncError(`sketch of ${m.cells} cells for request ${m.request}: more than we can make, or not a multiple of ${SKETCH_K}`);
    }
    let cells: Uint32Array;
    if (isEveryPiece(m.pieces)) {
      cells = this.fib.sketch(this.family, m.cells);
    } else {
      this.reindex();
      cells = this.fib.sketch(this.family, m.cells, piecesRecords(this.index, m.pieces));
    }
    const bytes = new Uint8Array(cells.buffer, cells.byteOffset, cells.byteLength);
    const cellBytes = 4 * sketchCellWords(this.family);
    const perFrame = Math.floor(MESSAGE_BUDGET / cellBytes);
    for (let first = 0; first < m.cells; first += perFrame) {
      const data = bytes.subarray(first * cellBytes, Math.min(m.cells, first + perFrame) * cellBytes);
      if (!this.send({ type: "rangeSketch", family: this.family, request: m.request, cells: m.cells, first, data })) break;
    }
    this.stats.sketches++;
    return "more";
  }

  /** The changes the server found from our sketch: applied and passed on, like a repair's. */
  private sketchRepair(m: SketchRepair): "done" | "more" {
    if (!this.requests.has(m.request)) throw new RangeSyncError(`sketch repair of request ${m.request}, which is not outstanding`);
    const changes = this.fib.decodeRoutes(this.family, m.data, m.count, true);
    if (changes instanceof Error) throw new RangeSyncError(`sketch repair of request ${m.request}: ${changes.message}`);
    this.stats.repairs++;
    this.stats.routesIn += m.count;
    // The changes lie in the pieces the sketch was of, which no later sketch is of: an index
    // that was current stays good for those.
    const current = this.indexed === this.fib.generation(this.family);
    if (changes.length > 0) this.apply(changes);
    if (current) this.indexed = this.fib.generation(this.family);
    if (m.last) this.requests.delete(m.request);
    return this.requests.size === 0 ? "done" : "more";
  }

  /**
   * Takes a repair: replaces the pieces it carries, describes the pieces it asks about.
   * Returns "done" when nothing is outstanding (the table then holds the routes the last
   * repair's digest sums), "more" otherwise. Throws RangeSyncError on a repair that does not
   * answer what was asked.
   */
  private repair(m: RangeRepair): "done" | "more" {
    const described = this.requests.get(m.request);
    if (!described) throw new RangeSyncError(`repair of request ${m.request}, which is not outstanding`);
    if (m.first + m.nodes.length > described.length) throw new RangeSyncError(`repair of request ${m.request}: nodes ${m.first}+${m.nodes.length} of ${described.length}`);
    this.stats.repairs++;
    const theirs = this.fib.decodeRoutes(this.family, m.data, m.count, false);
    if (theirs instanceof Error) throw new RangeSyncError(`repair of request ${m.request}: ${theirs.message}`);
    this.stats.routesIn += m.count;
    this.reindex();
    const words = recordWords(this.family);
    const mine: Uint32Array[] = [];
    const next: Described[] = [];
    let theirsAt = 0;
    m.nodes.forEach((verdicts, i) => {
      const d = described[m.first + i];
      const { node } = d;
      // Described before an update changed the table: where its pieces lie now.
      if (d.index !== this.index) Object.assign(d, { index: this.index, bounds: this.index.split(node.prefix, node.depth) });
      const bounds = d.bounds!;
      const pieceLen = node.prefix.len + node.depth;
      for (const v of verdicts) {
        if (v.piece >= node.digests.length) throw new RangeSyncError(`repair of request ${m.request}: no piece ${v.piece} of ${node.prefix} split ${node.depth} down`);
        const from = bounds[v.piece];
        const to = bounds[v.piece + 1];
        if (v.descend) {
          const piece = pieceOf(node.prefix, node.depth, v.piece);
          const within = v.within ?? piece;
          if (within.len >= this.width || within.len < pieceLen || !piece.contains(within.addr)) {
            throw new RangeSyncError(`repair of request ${m.request}: piece ${v.piece} of ${node.prefix} cannot split${v.within ? ` within ${v.within}` : ""}`);
          }
          // The server has nothing in the piece outside `within`: ours there go.
          const [start, end] = v.within ? this.index.split(within, 0) : [from, to];
          mine.push(this.index.routes(from, start), this.index.routes(end, to));
          next.push(this.describe(within, descentDepth(end - start, within.len, this.width)));
          continue;
        }
        mine.push(this.index.routes(from, to));
        // The server's routes come node by node, piece by piece, in the same order.
        for (; theirsAt < theirs.length && startsIn(this.family, theirs, theirsAt, node.prefix); theirsAt += words) {
          const piece = addressBits(this.family, theirs, theirsAt, node.prefix.len, node.depth);
          if (piece > v.piece) break;
          if (piece < v.piece) throw new RangeSyncError(`repair of request ${m.request}: a route of ${node.prefix} outside the pieces replaced`);
        }
      }
      if (theirsAt < theirs.length && startsIn(this.family, theirs, theirsAt, node.prefix)) {
        throw new RangeSyncError(`repair of request ${m.request}: a route of ${node.prefix} outside the pieces replaced`);
      }
    });
    if (theirsAt !== theirs.length) throw new RangeSyncError(`repair of request ${m.request}: routes outside the pieces replaced`);
    const diff = this.fib.diff(this.family, concatRecords(mine), theirs);
    if (diff.changes.length > 0) this.apply(diff.changes);
    this.indexed = this.fib.generation(this.family);
    if (m.last) this.requests.delete(m.request);
    if (next.length > 0) this.request(next);
    return this.requests.size === 0 ? "done" : "more";
  }

  /**
   * Indexes the table if anything but our own repairs changed it since it was last indexed:
   * the pieces we describe and replace are then as the table holds them.
   */
  private reindex(): void {
    const generation = this.fib.generation(this.family);
    if (generation === this.indexed) return;
    this.index = RangeIndex.ofTable(this.fib, this.family);
    this.indexed = generation;
  }

  private describe(prefix: Prefix, depth: number): Described {
    this.reindex();
    const bounds = this.index.split(prefix, depth);
    const digests = new Uint32Array(bounds.length - 1);
    for (let i = 0; i < digests.length; i++) digests[i] = this.index.digest(bounds[i], bounds[i + 1]);
    return { node: { prefix, depth, digests }, index: this.index, bounds };
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

/** The table's top pieces (Fib.topPieces), with the short digests a node carries. */
function topPieces(fib: Fib, family: Family): { digests: Uint32Array; counts: Uint32Array } {
  const { digests, counts } = fib.topPieces(family);
  return { digests: Uint32Array.from(digests, (d) => Number(d & 0xffffffffn)), counts };
}

function family0(family: Family): Addr {
  return family === 4 ? Addr.v4(0) : Addr.v6(0, 0, 0, 0);
}
