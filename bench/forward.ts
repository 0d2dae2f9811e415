// fibcast bench forward: a forwarding engine on the real tables. Each engine is a WASM
// instance of the release image with its own copy of the table; traffic is uniform over the
// routed space or Zipf-skewed over 100k flows, fed 64K packets at a time into linear memory,
// looked up and counted per next hop in one call. The engine is timed alone, then in turns
// with two other ways on the same addresses: plain Fib.lookupBatch with the counting done in
// JavaScript (what counting inside the call buys), and batch lookups with no counting at all
// (the most a forwarding loop could do). Every run checks a sample against the golden table
// (wrong must be 0). Bar: ≥ 50 Mpps per engine, alone, on the real IPv4 table with uniform
// traffic.

import { Fib, NO_ROUTE } from "../host/fib.ts";
import { firmwareImage } from "../host/firmware.ts";
import { loadRoutes } from "../host/load.ts";
import { NextHopTable } from "../host/nexthops.ts";
import type { Family } from "../host/netip.ts";
import type { Route } from "../host/routefile.ts";
import { ForwardingEngine, type TrafficMode } from "../firmware-sim/forwarding.ts";
import { median, round, timeMs } from "./stats.ts";

export interface ForwardRun {
  family: Family;
  mode: TrafficMode;
  routes: number;
  /** The engine alone (lookups and counts in one WASM call): median of the runs, spread. */
  mpps: number;
  mppsSpread: [number, number];
  /** The three ways taking turns, run by run, on the same addresses: medians. */
  inTurns: {
    mpps: number;
    /** Fib.lookupBatch, then a JavaScript loop counting per next hop. */
    lookupJsCountMpps: number;
    /** Batch lookups without counting: the most a forwarding loop could do. */
    lookupOnlyMpps: number;
    /** mpps / lookupJsCountMpps: what counting inside the WASM call buys. */
    onePassGain: number;
  };
  nexthops: number;
  checked: number;
  wrong: number;
}

export interface ForwardReport {
  runs: ForwardRun[];
  bar: { mpps: number; family: 4; mode: "uniform"; met: boolean };
}

const BAR_MPPS = 50;
const BATCH = 1 << 16;

export function benchForward(routes: readonly Route[], options: { quick: boolean; log: (s: string) => void }): ForwardReport {
  const runs: ForwardRun[] = [];
  const packets = options.quick ? 2_000_000 : 10_000_000;
  const timedRuns = options.quick ? 5 : 9;
  // JavaScript's best counter: one slot per possible next-hop id, no-route included (64 MiB).
  const jsCounters = new Uint32Array(NO_ROUTE + 1);
  for (const family of [4, 6] as const) {
    const own = routes.filter((r) => r.prefix.family === family);
    if (own.length === 0) continue;
    const fib = Fib.fromImage(firmwareImage(), { memoryMiB: 256, ioBytes: 4 << 20 });
    loadRoutes(fib, own, new NextHopTable());
    const engine = new ForwardingEngine(fib);
    // The other ways run on a copy of the same table: they would write over the engine's
    // counters in the I/O buffer they share.
    const copy = fib.frozen();
    for (const mode of ["uniform", "zipf"] as const) {
      const traffic = engine.load({ family, mode, packets, runs: timedRuns, seed: 1 });
      // The engine alone first, as a forwarding engine runs: its figure and the bar's.
      const alone = Array.from({ length: traffic.runs }, (_, r) => traffic.pass(r));
      // Then the three ways in turn on the same addresses, so that the neighbours' load on
      // this shared machine, and each one's leftovers in the caches, fall on all alike.
      const n = traffic.addrs.length / (family === 4 ? 1 : 4);
      const answers = new Uint32Array(n);
      const turns: number[] = [];
      const jsRates: number[] = [];
      const lookupRates: number[] = [];
      for (let r = 0; r < traffic.runs; r++) {
        turns.push(traffic.pass(r));
        jsRates.push(n / (timeMs(() => lookupAndCountInJs(copy, family, traffic.addrs, answers, jsCounters)) / 1000));
        lookupRates.push(n / (timeMs(() => lookupOnlyPass(copy, family, traffic.addrs)) / 1000));
      }
      const result = traffic.finish(alone);
      const mpps = round(result.pps / 1e6, 3);
      const inTurns = round(median(turns) / 1e6, 3);
      const lookupJsCountMpps = round(median(jsRates) / 1e6, 3);
      const lookupOnlyMpps = round(median(lookupRates) / 1e6, 3);
      runs.push({
        family, mode, routes: own.length, mpps, mppsSpread: [round(result.ppsSpread[0] / 1e6, 3), round(result.ppsSpread[1] / 1e6, 3)],
        inTurns: { mpps: inTurns, lookupJsCountMpps, lookupOnlyMpps, onePassGain: round(inTurns / lookupJsCountMpps) },
        nexthops: result.nexthops, checked: result.checked, wrong: result.wrong,
      });
      options.log(
        `forward: IPv${family} ${own.length} routes, ${mode}: ${round(mpps)} Mpps per engine; in turns ${round(inTurns)} vs lookupBatch + JS counting ` +
          `${round(lookupJsCountMpps)} (${round(inTurns / lookupJsCountMpps)}×), lookups alone ${round(lookupOnlyMpps)} M/s; ` +
          `${result.nexthops} next hops, ${result.wrong} wrong of ${result.checked}`,
      );
    }
  }
  const v4 = runs.find((r) => r.family === 4 && r.mode === "uniform");
  return { runs, bar: { mpps: BAR_MPPS, family: 4, mode: "uniform", met: v4 !== undefined && v4.mpps >= BAR_MPPS } };
}

/** The split way: every next hop copied out of linear memory, then counted by a JS loop. */
function lookupAndCountInJs(fib: Fib, family: Family, addrs: Uint32Array, out: Uint32Array, counters: Uint32Array): void {
  fib.lookupBatch(family, addrs, out);
  for (let i = 0; i < out.length; i++) counters[out[i]]++;
}

/** Lookups with nothing done with the answers, a batch at a time as the engine goes. */
function lookupOnlyPass(fib: Fib, family: Family, addrs: Uint32Array): void {
  const words = family === 4 ? 1 : 4;
  for (let at = 0; at < addrs.length; at += BATCH * words) {
    const b = fib.batch(family, Math.min(BATCH, addrs.length / words - at / words));
    b.input.set(addrs.subarray(at, at + b.input.length));
    b.run();
  }
}
