// fibcast demo (npm start): the main job on an embedded chassis. Two route processors, four
// line cards that start blank, eight forwarding engines, each its own process over TCP.
// Every line card is flashed over its serial console with the release image, signed for
// the run; the chassis converges on a 1M IPv4 + 200k IPv6 synthetic table (or a route
// file, or an MRT dump); every engine forwards traffic, checked; then the route processors part,
// the secondary moves on alone, and the primary is killed: the cards fail over and pass on
// only the difference. A live view on a terminal, plain lines otherwise; a summary at the
// end. Exit 0 when every step passed and every card holds what it should.

import { resolve } from "node:path";
import { writeFileSync } from "node:fs";
import type { Context } from "../cli-support.ts";
import { run, type Report } from "../run/runner.ts";
import { describeStep, type Step } from "../run/scenario.ts";
import { parseTopology } from "../run/topology.ts";
import { LiveView } from "../run/view.ts";
import type { Chassis } from "../run/chassis.ts";

export interface DemoArgs {
  routes?: string;
  mrt?: string;
  v4: number;
  v6: number;
  seed: number;
  keep: boolean;
  report?: string;
}

const LINE_CARDS = 4;
const ENGINES_PER_CARD = 2;
/** Changes the secondary makes while it is apart from the primary: the difference a failover passes on. */
const CHURN = 5000;
/** Packets each engine forwards, uniform over the routed IPv4 space. */
const TRAFFIC = 1_000_000;

export async function demoCommand(ctx: Context, args: DemoArgs): Promise<number> {
  const table = args.routes ? { routes: resolve(args.routes) } : args.mrt ? { mrt: resolve(args.mrt) } : { generate: { v4: args.v4, v6: args.v6, seed: args.seed } };
  const nodes: Record<string, unknown> = {
    rp0: { role: "rp", sources: [{ protocol: "bgp", distance: 20, ...table }] },
    rp1: { role: "rp", peers: ["rp0"], sources: [{ protocol: "ospf", distance: 110, generate: { v4: 4000, v6: 1000, seed: args.seed + 1 } }] },
  };
  const lcs = Array.from({ length: LINE_CARDS }, (_, i) => `lc${i}`);
  for (const [i, lc] of lcs.entries()) {
    nodes[lc] = { role: "lc", servers: ["rp0", "rp1"], memoryMiB: 128 };
    for (let e = 0; e < ENGINES_PER_CARD; e++) nodes[`${lc}.npu${e}`] = { role: "npu", servers: [lc, lcs[(i + 1) % LINE_CARDS]], memoryMiB: 128 };
  }
  const topology = parseTopology({
    nodes, links: { stream: "tcp" }, timers: { heartbeatMs: 50, deadAfter: 3 },
    firmware: { console: "serial", baud: 1_000_000 },
  }, resolve("fibcast-demo.yaml"));
  const steps: Step[] = [
    { kind: "flash", nodes: lcs },
    { kind: "wait", timeoutMs: 60000 },
    // Cards that synced from whichever server was ready first move back to their first choice
    // once it has stayed ready for the failback time (1 s): the primary is then every card's.
    { kind: "sleep", ms: 1500 },
    { kind: "wait", timeoutMs: 30000 },
    { kind: "traffic", family: 4, mode: "uniform", packets: TRAFFIC, seed: args.seed },
    { kind: "cut", link: ["rp1", "rp0"] },
    { kind: "churn", node: "rp1", updates: CHURN, rate: 50000, seed: args.seed },
    { kind: "kill", node: "rp0" },
    { kind: "wait", timeoutMs: 30000 },
  ];
  const what = args.routes ?? args.mrt ?? `${args.v4.toLocaleString("en-US")} IPv4 + ${args.v6.toLocaleString("en-US")} IPv6 synthetic routes (seed ${args.seed})`;
  ctx.log(`fibcast demo: 2 route processors, ${LINE_CARDS} line cards, ${LINE_CARDS * ENGINES_PER_CARD} forwarding engines as processes; table: ${what}`);
  ctx.log(`plan: ${steps.map(describeStep).join(" → ")}`);
  let view: LiveView | undefined;
  let chassis: Chassis | undefined;
  /** Routes each card had taken in as updates before the primary died: what came after is the difference passed on. */
  const routesIn = new Map<string, number>();
  const started = performance.now();
  const report = await run(topology, steps, {
    started: (c) => {
      chassis = c;
      view = new LiveView(c, process.stderr);
      view.start();
    },
    progress: async (r) => {
      view?.line(`${r.ok ? "ok  " : "FAIL"} ${r.step} (${r.ms} ms)${r.error ? `: ${r.error}` : ""}`);
      if (!r.step.startsWith("churn")) return;
      for (const n of chassis!.nodes) routesIn.set(n.id, (await chassis!.status(n.id))?.counters.routesIn ?? 0);
    },
    before: async (r) => {
      await view?.stop();
      summarise(ctx, r, routesIn, performance.now() - started);
      if (args.keep) {
        ctx.log(`the chassis stays up (--keep); node logs in ${r.logs}; Ctrl-C ends it`);
        await new Promise((done) => { process.once("SIGINT", done); process.once("SIGTERM", done); });
      }
    },
  });
  if (args.report) writeFileSync(args.report, `${JSON.stringify(report, null, 2)}\n`);
  return report.ok && converged(report) ? 0 : 1;
}

function converged(r: Report): boolean {
  return Object.values(r.nodes).every((n) => !n.up || JSON.stringify(n.digest) === JSON.stringify(n.expectedDigest));
}

function summarise(ctx: Context, r: Report, routesIn: Map<string, number>, ms: number): void {
  const rows = [["card", "firmware", "routes", "holds what it should", "active", "detect ms", "resync ms", "bytes in", "difference", "bytes passed on", "updates in", "Mpps", "wrong"]];
  for (const [id, n] of Object.entries(r.nodes)) {
    const traffic = r.traffic.find((t) => t.node === id);
    const failover = n.resyncs.filter((x) => x.from === "rp0").at(-1);
    const updates = n.up && routesIn.has(id) ? (n.counters.routesIn - routesIn.get(id)!).toLocaleString("en-US") : "";
    rows.push([
      id, n.firmware ? (n.firmware.running ? `slot ${n.firmware.running}` : "none") : "build", n.up ? n.routes.toLocaleString("en-US") : "down",
      n.up ? (JSON.stringify(n.digest) === JSON.stringify(n.expectedDigest) ? "yes" : "NO") : "", n.active ?? "",
      failover ? String(failover.detectMs) : "", failover ? String(failover.ms) : "", failover ? failover.bytesIn.toLocaleString("en-US") : "",
      failover ? failover.diffEntries.toLocaleString("en-US") : "", failover ? failover.bytesOut.toLocaleString("en-US") : "", updates,
      traffic ? (traffic.pps / 1e6).toFixed(1) : "", traffic ? `${traffic.wrong}/${traffic.checked}` : "",
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  ctx.log("");
  for (const row of rows) ctx.log(row.map((c, j) => (j < 2 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join("  "));
  ctx.log("");
  const flash = r.steps.find((s) => s.step.startsWith("flash"));
  const cold = r.steps.find((s) => s.step.startsWith("wait"));
  ctx.log("line cards: the failover from rp0 (detection, resync, bytes in, routes that differed, bytes to their engines);");
  ctx.log("updates in: routes each card took as updates after rp0 died — for an engine, the difference its line card passed on");
  ctx.log(`Mpps: ${(TRAFFIC / 1e6).toFixed(0)}M packets uniform over the routed IPv4 space, looked up and counted per next hop, one engine at a time; wrong: answers unlike longest-prefix match's, of those checked`);
  ctx.log(`flashed ${LINE_CARDS} line cards in ${flash?.ms ?? "?"} ms (1 Mbit/s serial consoles, at once); converged ${cold?.ms ?? "?"} ms later`);
  ctx.log(`${r.ok && converged(r) ? "passed" : "FAILED"}: ${r.steps.filter((s) => s.ok).length} of ${r.steps.length} steps in ${(ms / 1000).toFixed(1)} s; node logs in ${r.logs}`);
}
