// A forwarding engine at work: packets (addresses from the traffic generator) go into the
// firmware's linear memory a batch at a time and come out as packet counts per next hop,
// looked up and counted in one pass inside WASM (Fib.forwarder). The rate is packets per
// second of that loop, the copy into linear memory included: what a forwarding engine
// spends per packet once the packet is in its memory.
//
// Every run is checked: a sample is forwarded on its own, and each packet's answer is
// compared with the one longest-prefix match gives by its definition — of the routes that
// contain an address, the longest — found by a sweep of the routes over the sorted sample,
// which needs no second table of a million routes. The counters are held to the tally of
// those answers. `wrong` counts the packets the engine gave to another next hop than the
// definition does, and the packets its counters lost or put under another next hop.

import { NO_ROUTE, type Fib } from "../host/fib.ts";
import type { Addr, Family, Prefix } from "../host/netip.ts";
import { addressBatch, batchAddress, zipfBatch } from "../host/traffic.ts";

export type TrafficMode = "uniform" | "zipf";

export interface TrafficOptions {
  family: Family;
  mode: TrafficMode;
  /** Packets forwarded in the timed runs. */
  packets: number;
  /** Timed runs the packets are split into; the rate is their median (default 5). */
  runs?: number;
  seed?: number;
  /** Packets checked against the golden table (default 20000). */
  check?: number;
}

export interface TrafficResult {
  family: Family;
  mode: TrafficMode;
  packets: number;
  /** Median packets a second over the runs, and the slowest and fastest run. */
  pps: number;
  ppsSpread: [number, number];
  /** Packets that matched no route. */
  noRoute: number;
  /** Next hops that carried packets. */
  nexthops: number;
  /** The busiest next hops: [next hop, packets]. */
  top: [number, number][];
  /** Packets that found no counter slot (0 unless the counter table is too small). */
  overflow: number;
  checked: number;
  /** Answers of the sample that disagree with the definition, plus packets miscounted. */
  wrong: number;
}

/**
 * Traffic generated and ready in an engine (ForwardingEngine.load): pass(r) forwards timed
 * run r and gives its packets a second; finish(rates) reads the counts and checks a sample.
 * The counters live in the Fib's I/O buffer: nothing else may use that Fib in between.
 */
export interface LoadedTraffic {
  /** Run 0's addresses, packed as for Fib.lookupBatch; every run forwards a prefix of them. */
  addrs: Uint32Array;
  runs: number;
  pass(r: number): number;
  finish(rates: readonly number[]): TrafficResult;
}

const BATCH = 65536;

export class ForwardingEngine {
  constructor(private readonly fib: Fib) {}

  /** Generates the traffic, forwards it, checks a sample; throws when the table is empty. */
  run(options: TrafficOptions): TrafficResult {
    const traffic = this.load(options);
    return traffic.finish(Array.from({ length: traffic.runs }, (_, r) => traffic.pass(r)));
  }

  /**
   * The traffic of run(), generated and ready, for a caller that times other work between
   * the passes (bench/forward.ts); throws when the table is empty.
   */
  load(options: TrafficOptions): LoadedTraffic {
    const { family, mode } = options;
    const runs = Math.max(1, Math.min(options.runs ?? 5, options.packets));
    // Runs of as equal a size as the packets allow; the addresses are the same for each.
    const runSize = (r: number) => Math.floor(options.packets / runs) + (r < options.packets % runs ? 1 : 0);
    const perRun = runSize(0);
    const routes = [...this.fib.routes(family)];
    const prefixes = routes.map(([p]) => p);
    if (prefixes.length === 0) throw new Error(`no IPv${family} routes to forward traffic to`);
    const addrs = trafficBatch(prefixes, family, mode, perRun, options.seed ?? 1);
    const words = family === 4 ? 1 : 4;
    const fwd = this.fib.forwarder(family, BATCH, routes.map(([, nh]) => nh));

    const pass = (r: number) => {
      const size = runSize(r);
      const started = performance.now();
      for (let at = 0; at < size; at += BATCH) {
        const m = Math.min(BATCH, size - at);
        fwd.input.set(addrs.subarray(at * words, (at + m) * words));
        fwd.run(m);
      }
      return size / ((performance.now() - started) / 1000);
    };

    const finish = (rates: readonly number[]): TrafficResult => {
      const counts = fwd.counts();

      // The check: a sample forwarded on its own, each answer against the definition's and
      // the counters against the tally of the answers.
      fwd.clear();
      const checked = Math.min(options.check ?? 20000, perRun, BATCH);
      fwd.input.set(addrs.subarray(0, checked * words));
      fwd.run(checked);
      const sample = fwd.counts();
      const golden = longestMatches(routes, Array.from({ length: checked }, (_, i) => batchAddress(addrs, family, i)));
      const tally = new Map<number, number>();
      let wrong = 0;
      for (let i = 0; i < checked; i++) {
        const nh = fwd.answers[i];
        if (nh !== golden[i]) wrong++;
        tally.set(nh, (tally.get(nh) ?? 0) + 1);
      }
      // A packet missing from its answer's counter is wrong once; counts beyond the packets
      // forwarded are wrong too.
      const counted = new Map(sample.perNexthop).set(NO_ROUTE, sample.noRoute);
      for (const [nh, n] of tally) wrong += Math.max(0, n - (counted.get(nh) ?? 0));
      wrong += Math.max(0, [...counted.values()].reduce((x, y) => x + y, sample.overflow) - checked);

      const sorted = rates.slice().sort((x, y) => x - y);
      const carried = [...counts.perNexthop.values()].reduce((x, y) => x + y, 0);
      return {
        family, mode, packets: carried + counts.noRoute + counts.overflow,
        pps: sorted[Math.floor(sorted.length / 2)], ppsSpread: [sorted[0], sorted[sorted.length - 1]],
        noRoute: counts.noRoute,
        nexthops: counts.perNexthop.size,
        top: [...counts.perNexthop].sort((x, y) => y[1] - x[1]).slice(0, 5),
        overflow: counts.overflow + sample.overflow, checked, wrong,
      };
    };
    return { addrs, runs, pass, finish };
  }
}

/** The traffic of a run: n addresses packed as for Fib.lookupBatch, the same for the same seed. */
export function trafficBatch(prefixes: readonly Prefix[], family: Family, mode: TrafficMode, n: number, seed: number): Uint32Array {
  return mode === "zipf" ? zipfBatch(prefixes, family, n, { seed }) : addressBatch(prefixes, family, n, "space", seed);
}

/**
 * The next hop longest-prefix match gives each address by its definition: of the routes
 * that contain it, the longest (NO_ROUTE when none does). Each route finds the addresses
 * it contains by a binary search of the sorted addresses.
 */
export function longestMatches(routes: readonly [Prefix, number][], addrs: readonly Addr[]): number[] {
  const order = addrs.map((_, i) => i).sort((a, b) => addrs[a].compare(addrs[b]));
  const best = new Array<number>(addrs.length).fill(-1);
  const answer = new Array<number>(addrs.length).fill(NO_ROUTE);
  for (const [p, nh] of routes) {
    let lo = 0, hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (addrs[order[mid]].compare(p.addr) < 0) lo = mid + 1;
      else hi = mid;
    }
    for (let k = lo; k < order.length && p.contains(addrs[order[k]]); k++) {
      const i = order[k];
      if (p.len > best[i]) {
        best[i] = p.len;
        answer[i] = nh;
      }
    }
  }
  return answer;
}
