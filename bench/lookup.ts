// fibcast bench lookup: the FIB against the golden-table-checked answers of its peers
// (bench/peers.ts), on one table, per family. Prints what the issue names: build time,
// batch and single lookup rates, update rate, bytes per route, and the peers on the same
// addresses in the same run; then lookup rates against table size, every table a sample
// of the real one, for fibcast and the peers alike.

import { Fib, NO_ROUTE, encodeChanges, type Change, type FibStats } from "../host/fib.ts";
import { firmwareImage } from "../host/firmware.ts";
import { NextHopTable } from "../host/nexthops.ts";
import { ReferenceTable } from "../host/reference.ts";
import type { Family } from "../host/netip.ts";
import type { Route } from "../host/routefile.ts";
import { Random } from "../host/random.ts";
import { addressBatch, batchAddress } from "../host/traffic.ts";
import { benchPeers, bestPeer, type PeerResult } from "./peers.ts";
import { measureRate, timeMs, round, type Sample } from "./stats.ts";

export interface LookupResult {
  family: Family;
  routes: number;
  buildMs: number;
  /** Batch lookups, one thread, addresses uniform over the routed space, in bursts of 64K placed in linear memory (median of runs; the time includes placing them). */
  lookupsPerSec: number;
  lookupsPerSecSpread: [number, number];
  /** Batch lookups with each route equally likely (deeper paths than uniform over space). */
  lookupsPerSecPerRoute: number;
  /** One JS → WASM call per lookup. */
  singleLookupsPerSec: number;
  /** Random deletes then re-inserts of loaded routes, as change records through linear memory. */
  updatesPerSec: number;
  /** Bytes of the lookup structure (direct table, node headers, child refs, leaves) per route. */
  bytesPerRoute: number;
  /** All bytes the table holds (with its own copy of every route for updates and walks) per route. */
  totalBytesPerRoute: number;
  /** Shape of the table: node counts, leaves, bytes. */
  structure: FibStats;
  peers: PeerResult[];
  /** lookupsPerSec ÷ the best peer's (null: no peer ran). */
  speedupVsPeer: number | null;
  /** Of the peer's sample, lookups the FIB answered differently from the golden table (must be 0). */
  wrongAnswers: number;
}

export interface LookupOptions {
  quick?: boolean;
  log?: (line: string) => void;
}

/** Benchmarks each family present in `routes`. */
export function benchLookup(routes: readonly Route[], options: LookupOptions = {}): LookupResult[] {
  const results: LookupResult[] = [];
  for (const family of [4, 6] as const) {
    const own = routes.filter((r) => r.prefix.family === family);
    if (own.length > 0) results.push(benchFamily(family, own, options));
  }
  return results;
}

function benchFamily(family: Family, routes: readonly Route[], options: LookupOptions): LookupResult {
  const log = options.log ?? (() => {});
  const quick = options.quick ?? false;
  const nexthops = new NextHopTable();
  const changes: Change[] = routes.map((r) => ({ prefix: r.prefix, nh: nexthops.intern(r.nexthop) }));
  const n = quick ? 1 << 20 : 1 << 22;
  const fib = Fib.fromImage(firmwareImage(), { memoryMiB: 256, ioBytes: 2 << 20 });
  log(`IPv${family}: ${routes.length} routes`);

  const buildMs = timeMs(() => fib.apply(changes));
  const prefixes = routes.map((r) => r.prefix);
  const space = addressBatch(prefixes, family, n, "space", 1);
  const perRoute = addressBatch(prefixes, family, n, "route", 2);
  const runs = quick ? 3 : 9;
  const batch = measureRate(n, runs, inBursts(fib, family, space));
  const batchPerRoute = measureRate(n, runs, inBursts(fib, family, perRoute));
  const single = measureRate(n, runs, singleLoop(fib, family, space));
  log(`IPv${family}: batch ${fmt(batch)} M/s, per-route ${fmt(batchPerRoute)} M/s, single ${fmt(single)} M/s`);

  const updates = updateRate(fib, changes, family, quick);
  log(`IPv${family}: ${round(updates / 1e6)} M updates/s`);

  const peerN = quick ? 20000 : 200000;
  const sample = space.subarray(0, family === 4 ? peerN : 4 * peerN);
  const golden = goldenAnswers(changes, family, sample);
  const wrongAnswers = wrongAgainst(fib, family, sample, golden);
  const peers = benchPeers(routes, nexthops, family, sample, golden);
  for (const p of peers) log(`IPv${family}: ${p.name} ${p.unavailable ? `unavailable: ${p.unavailable}` : `${round(p.lookupsPerSec! / 1e6)} M/s, ${p.wrongAnswers} wrong answers`}`);
  log(`IPv${family}: fib: ${wrongAnswers} wrong answers`);
  const best = bestPeer(peers);

  const structure = fib.stats(family);
  return {
    family,
    routes: structure.routes,
    buildMs: round(buildMs),
    lookupsPerSec: Math.round(batch.median),
    lookupsPerSecSpread: [Math.round(batch.min), Math.round(batch.max)],
    lookupsPerSecPerRoute: Math.round(batchPerRoute.median),
    singleLookupsPerSec: Math.round(single.median),
    updatesPerSec: Math.round(updates),
    bytesPerRoute: round(structure.lookupBytes / structure.routes),
    totalBytesPerRoute: round(structure.bytes / structure.routes),
    structure,
    peers,
    speedupVsPeer: best ? round(batch.median / best.lookupsPerSec!) : null,
    wrongAnswers,
  };
}

export interface SizePoint {
  family: Family;
  routes: number;
  /** fibcast batch lookups a second (addresses uniform over the routed space, median of 3). */
  lookupsPerSec: number;
  /** Of the peers' sample, lookups fibcast answered differently from the golden table (must be 0). */
  wrongAnswers: number;
  peers: PeerResult[];
}

/**
 * Lookup rates against table size: for each family, every 64th, 16th, 4th route of the
 * table and all of it (quick: every 64th, 8th, and all), fibcast and each peer on the same
 * addresses. A sample keeps the table's shape (prefix lengths, next hops) at each size.
 */
export function benchLookupBySize(routes: readonly Route[], options: LookupOptions = {}): SizePoint[] {
  const log = options.log ?? (() => {});
  const strides = options.quick ? [64, 8, 1] : [64, 16, 4, 1];
  const points: SizePoint[] = [];
  for (const family of [4, 6] as const) {
    const own = routes.filter((r) => r.prefix.family === family);
    for (const stride of strides) {
      const sample = own.filter((_, i) => i % stride === 0);
      if (sample.length === 0) continue;
      const nexthops = new NextHopTable();
      const changes: Change[] = sample.map((r) => ({ prefix: r.prefix, nh: nexthops.intern(r.nexthop) }));
      const fib = Fib.fromImage(firmwareImage(), { memoryMiB: 256, ioBytes: 2 << 20 });
      fib.apply(changes);
      const n = options.quick ? 1 << 18 : 1 << 20;
      const space = addressBatch(sample.map((r) => r.prefix), family, n, "space", 1);
      const rate = measureRate(n, 3, inBursts(fib, family, space));
      const peerN = options.quick ? 10000 : 50000;
      const addrs = space.subarray(0, family === 4 ? peerN : 4 * peerN);
      const golden = goldenAnswers(changes, family, addrs);
      const wrongAnswers = wrongAgainst(fib, family, addrs, golden);
      const peers = benchPeers(sample, nexthops, family, addrs, golden);
      const wrong = [...(wrongAnswers > 0 ? ["fibcast"] : []), ...peers.filter((p) => (p.wrongAnswers ?? 0) > 0).map((p) => p.name)];
      if (wrong.length > 0) log(`IPv${family} ${sample.length} routes: ${wrong.join(", ")} answered wrongly`);
      log(`IPv${family} ${sample.length} routes: fibcast ${round(rate.median / 1e6)} M/s; ${peers.map((p) => `${p.name} ${p.lookupsPerSec === undefined ? "unavailable" : `${round(p.lookupsPerSec / 1e6)} M/s`}`).join(", ")}`);
      points.push({ family, routes: sample.length, lookupsPerSec: Math.round(rate.median), wrongAnswers, peers });
    }
  }
  return points;
}

const fmt = (s: Sample) => `${round(s.median / 1e6)} (${round(s.min / 1e6)}–${round(s.max / 1e6)})`;

/** Bursts of addresses, as a forwarding engine takes packets: each burst placed in linear memory, then looked up in one call. */
function inBursts(fib: Fib, family: Family, addrs: Uint32Array): () => void {
  const words = family === 4 ? 1 : 4;
  const burst = BURST;
  const batch = fib.batch(family, burst);
  return () => {
    for (let i = 0; i + burst * words <= addrs.length; i += burst * words) {
      batch.input.set(addrs.subarray(i, i + burst * words));
      batch.run();
    }
  };
}

/** Addresses per burst: 64K, 256 KiB of IPv4 or 1 MiB of IPv6 addresses. */
const BURST = 1 << 16;

function singleLoop(fib: Fib, family: Family, addrs: Uint32Array): () => void {
  if (family === 4) {
    return () => {
      let x = 0;
      for (let i = 0; i < addrs.length; i++) x ^= fib.lookup4(addrs[i]);
      if (x === -1) throw new Error("unreachable");
    };
  }
  return () => {
    let x = 0;
    for (let i = 0; i < addrs.length; i += 4) x ^= fib.lookup6(addrs[i], addrs[i + 1], addrs[i + 2], addrs[i + 3]);
    if (x === -1) throw new Error("unreachable");
  };
}

/**
 * Deletes a random sample of loaded routes and inserts them back, as change records through
 * linear memory (the way changes arrive from the wire); updates per second.
 */
function updateRate(fib: Fib, changes: readonly Change[], family: Family, quick: boolean): number {
  const rnd = new Random(3);
  const k = Math.min(changes.length, quick ? 50000 : 200000);
  const sample: Change[] = [];
  const picked = new Set<number>();
  while (sample.length < k) {
    const i = rnd.below(changes.length);
    if (!picked.has(i)) {
      picked.add(i);
      sample.push(changes[i]);
    }
  }
  const removes = encodeChanges(family, sample.map((c) => ({ prefix: c.prefix })));
  const inserts = encodeChanges(family, sample);
  const digest = fib.digest(family);
  const rates: number[] = [];
  for (let run = 0; run < (quick ? 3 : 7); run++) {
    const ms = timeMs(() => {
      if (fib.applyRecords(family, removes) !== k || fib.applyRecords(family, inserts) !== k) throw new Error("update benchmark: a change failed");
    });
    rates.push((2 * k) / (ms / 1000));
  }
  if (fib.digest(family) !== digest) throw new Error("update benchmark left a different table");
  rates.sort((a, b) => a - b);
  return rates[rates.length >> 1];
}

/** Of a batch of addresses, how many the FIB answers unlike the golden answers. */
function wrongAgainst(fib: Fib, family: Family, addrs: Uint32Array, golden: Uint32Array): number {
  const ours = new Uint32Array(golden.length);
  fib.lookupBatch(family, addrs, ours);
  return ours.reduce((n, nh, i) => n + (nh === golden[i] ? 0 : 1), 0);
}

/** The golden table's answers for a batch of addresses. */
function goldenAnswers(changes: readonly Change[], family: Family, addrs: Uint32Array): Uint32Array {
  const golden = new ReferenceTable();
  for (const c of changes) golden.set(c.prefix, c.nh!);
  const count = family === 4 ? addrs.length : addrs.length / 4;
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) out[i] = golden.lookup(batchAddress(addrs, family, i)) ?? NO_ROUTE;
  return out;
}
