// fibcast bench program: the chassis as processes over TCP (2 route processors, 4 line
// cards, 8 forwarding engines), a synthetic table on rp0.
// - coldStartMs: from starting the processes to every card converged (bar: ≤ 8 s for
//   1M IPv4 + 200k IPv6);
// - programRoutesPerSec: routes over the time from the route processors serving (their
//   table loaded) to every forwarding engine converged: end-to-end programming RP → LC →
//   NPU (bar ≥ 1 M/s; SONiC publishes about 30k/s end to end);
// - churn: updates at a rate for a while, and how long after the last one every node is
//   converged (bar: ≤ 200 ms at 100k/s for 10 s);
// - chain: the programming rate as the bar words it, one chain RP → LC → NPU of three
//   processes over TCP and 1M IPv4 routes, the median of CHAIN_RUNS; the chassis above
//   programs twelve such tables at once on the same two cores.

import { Chassis } from "../host/run/chassis.ts";
import { divergence, waitConverged } from "../host/run/runner.ts";
import { parseTopology } from "../host/run/topology.ts";
import { median, round } from "./stats.ts";

export interface ProgramResult {
  routes: { 4: number; 6: number };
  processes: number;
  coldStartMs: number;
  programMs: number;
  programRoutesPerSec: number;
  /** SONiC's best published end-to-end programming rate, routes a second. */
  sonicRoutesPerSec: number;
  churn: { rate: number; updates: number; sendMs: number; convergedAfterMs: number };
  /** One chain RP → LC → NPU: routes (IPv4), its processes, each run's programming time, the median rate. */
  chain: { routes: number; processes: number; programMs: number[]; routesPerSec: number };
}

const CHAIN_RUNS = 3;

export async function benchProgram(options: { quick?: boolean; log?: (s: string) => void } = {}): Promise<ProgramResult> {
  const log = options.log ?? (() => {});
  const v4 = options.quick ? 100000 : 1000000;
  const v6 = options.quick ? 20000 : 200000;
  const rate = options.quick ? 20000 : 100000;
  const seconds = options.quick ? 2 : 10;
  const nodes: Record<string, unknown> = {
    rp0: { role: "rp", sources: [{ protocol: "bgp", distance: 20, generate: { v4, v6, seed: 1 } }] },
    rp1: { role: "rp", peers: ["rp0"], sources: [] },
  };
  for (let i = 0; i < 4; i++) {
    nodes[`lc${i}`] = { role: "lc", servers: i % 2 ? ["rp1", "rp0"] : ["rp0", "rp1"] };
    for (let j = 0; j < 2; j++) nodes[`lc${i}.npu${j}`] = { role: "npu", servers: [`lc${i}`] };
  }
  const topology = parseTopology({ nodes, links: { stream: "tcp" } }, "bench-program.yaml");
  const started = performance.now();
  const chassis = await Chassis.start(topology);
  const serving = performance.now();
  try {
    await waitConverged(chassis, 120000);
    const converged = performance.now();
    const programMs = converged - serving;
    log(`cold start ${Math.round(converged - started)} ms; ${v4 + v6} routes programmed RP → LC → NPU in ${Math.round(programMs)} ms after the route processors served`);
    const sendStart = performance.now();
    const reply = await chassis.request("rp0", "churn", { updates: rate * seconds, rate, seed: 1 }, 600000);
    if (reply.error) throw new Error(String(reply.error));
    const sent = performance.now();
    let why = await divergence(chassis);
    while (why && performance.now() - sent < 60000) {
      await new Promise((r) => setTimeout(r, 5));
      why = await divergence(chassis);
    }
    if (why) throw new Error(`not converged 60 s after the last churn update: ${why} (node logs in ${chassis.logDir})`);
    const after = performance.now() - sent;
    log(`churn ${rate}/s for ${seconds} s: converged ${Math.round(after)} ms after the last update`);
    return {
      routes: { 4: v4, 6: v6 },
      processes: topology.nodes.length,
      coldStartMs: Math.round(converged - started),
      programMs: Math.round(programMs),
      programRoutesPerSec: Math.round((v4 + v6) / (programMs / 1000)),
      sonicRoutesPerSec: 30000,
      churn: { rate, updates: rate * seconds, sendMs: Math.round(sent - sendStart), convergedAfterMs: round(after) },
      chain: await chain(options.quick ? 100000 : 1000000, log),
    };
  } finally {
    await chassis.stop();
  }
}

/** The chain's programming time, from the route processor serving to the engine converged, CHAIN_RUNS times. */
async function chain(routes: number, log: (s: string) => void): Promise<ProgramResult["chain"]> {
  const nodes = {
    rp0: { role: "rp", sources: [{ protocol: "bgp", distance: 20, generate: { v4: routes, v6: 0, seed: 1 } }] },
    lc0: { role: "lc", servers: ["rp0"] },
    "lc0.npu0": { role: "npu", servers: ["lc0"] },
  };
  const topology = parseTopology({ nodes, links: { stream: "tcp" } }, "bench-chain.yaml");
  const programMs: number[] = [];
  for (let run = 0; run < CHAIN_RUNS; run++) {
    const chassis = await Chassis.start(topology);
    const serving = performance.now();
    try {
      await waitConverged(chassis, 120000);
      programMs.push(Math.round(performance.now() - serving));
    } finally {
      await chassis.stop();
    }
  }
  const routesPerSec = Math.round(routes / (median(programMs) / 1000));
  log(`one chain RP → LC → NPU, ${routes} IPv4 routes: ${programMs.join(", ")} ms after the route processor served, ${routesPerSec} routes/s (median)`);
  return { routes, processes: topology.nodes.length, programMs, routesPerSec };
}
