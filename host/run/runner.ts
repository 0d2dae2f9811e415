// `fibcast run`: a topology's nodes as processes, a scenario's steps in order, a report.
// Converged means: every live route processor holds the same RIB (the same digest of every
// source table and of the FIB), and every live line card and forwarding engine holds exactly
// the subset of that FIB its configuration implies (digests equal).

import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { NodeStatus, Resync } from "../node/node.ts";
import { Chassis } from "./chassis.ts";
import { describeStep, type Step } from "./scenario.ts";
import type { Topology } from "./topology.ts";
import type { TrafficResult } from "../../firmware-sim/forwarding.ts";

export interface StepResult {
  step: string;
  ok: boolean;
  ms: number;
  error?: string;
}

export interface NodeReport {
  role: string;
  up: boolean;
  routes: number;
  digest: { 4: string; 6: string } | null;
  expectedDigest: { 4: string; 6: string } | null;
  active: string | null;
  failovers: number;
  resyncs: Resync[];
  counters: Record<string, number>;
  /** Multicast channels it serves and receives (docs/multicast.md). */
  channels: NodeStatus["channels"];
  /** Line cards and engines of a topology with firmware: the slot they run and the slots' states. */
  firmware?: NodeStatus["firmware"];
}

export interface Report {
  ok: boolean;
  topology: string;
  logs: string;
  steps: StepResult[];
  nodes: Record<string, NodeReport>;
  /** With guardTables: each time a card that held routes was found holding none, told so by no server. */
  emptied?: string[];
  /** What each traffic step measured, per card. */
  traffic: TrafficRun[];
}

/** One card's share of a traffic step. */
export interface TrafficRun extends TrafficResult {
  step: number;
  node: string;
}

export interface RunOptions {
  dump?: string;
  /** Told each step as it ends; the next step waits for it. */
  progress?: (r: StepResult) => void | Promise<void>;
  /**
   * After every step, check that no line card or forwarding engine that held routes holds
   * none while its subset has some: a card never flushes its table because a server died.
   * A killed and restarted card starts empty; that is not counted.
   */
  guardTables?: boolean;
  /** Told the chassis once it runs (a live view watches it). */
  started?: (chassis: Chassis) => void;
  /** Given the report while the chassis still runs; it stops when the promise settles (a demo's --keep). */
  before?: (report: Report) => Promise<void>;
}

export async function run(topology: Topology, steps: Step[], options: RunOptions = {}): Promise<Report> {
  const chassis = await Chassis.start(topology);
  options.started?.(chassis);
  const results: StepResult[] = [];
  const traffic: TrafficRun[] = [];
  const guard = options.guardTables ? new TableGuard(chassis) : undefined;
  try {
    for (const step of steps) {
      const started = performance.now();
      let error: string | undefined;
      try {
        await perform(chassis, step, (node, r) => traffic.push({ step: results.length, node, ...r }));
      } catch (e) {
        error = (e as Error).message;
      }
      const r: StepResult = { step: describeStep(step), ok: error === undefined, ms: Math.round(performance.now() - started), ...(error ? { error } : {}) };
      results.push(r);
      await options.progress?.(r);
      await guard?.check(step, r.step);
    }
    const nodes = await reportNodes(chassis);
    if (options.dump) {
      mkdirSync(options.dump, { recursive: true });
      for (const n of chassis.nodes) if (chassis.isUp(n.id)) await chassis.request(n.id, "dump", { path: resolve(join(options.dump, `${n.id}.routes`)) }, 120000);
    }
    const ok = results.every((r) => r.ok) && (guard?.emptied.length ?? 0) === 0;
    const report = { ok, topology: topology.file, logs: chassis.logDir, steps: results, nodes, ...(guard ? { emptied: guard.emptied } : {}), traffic };
    await options.before?.(report);
    return report;
  } finally {
    await chassis.stop();
  }
}

async function perform(chassis: Chassis, step: Step, measured: (node: string, r: TrafficResult) => void): Promise<void> {
  switch (step.kind) {
    case "wait": return waitConverged(chassis, step.timeoutMs);
    case "kill": return chassis.kill(step.node);
    case "freeze": return chassis.freeze(step.node);
    case "thaw": return chassis.thaw(step.node);
    case "restart": return chassis.restart(step.node);
    case "cut": return chassis.cut(step.link[0], step.link[1], false);
    case "restore": return chassis.cut(step.link[0], step.link[1], true);
    case "impair": return chassis.impair(step.link[0], step.link[1], step.impairment);
    case "sleep": return new Promise((r) => setTimeout(r, step.ms));
    case "churn": {
      const reply = await chassis.request(step.node, "churn", { updates: step.updates, rate: step.rate, seed: step.seed }, 600000);
      if (reply.error) throw new Error(String(reply.error));
      return;
    }
    case "flash": {
      await Promise.all(step.nodes.map((id) => chassis.flash(id, step.image).catch((e: Error) => { throw new Error(`${id}: ${e.message}`); })));
      return;
    }
    case "traffic": {
      // One card at a time: each has the machine's cores to itself while it is measured.
      const nodes = step.nodes ?? chassis.nodes.filter((n) => n.role === "npu").map((n) => n.id);
      const wrong: string[] = [];
      for (const id of nodes) {
        const reply = await chassis.request(id, "traffic", { family: step.family, mode: step.mode, packets: step.packets, seed: step.seed, runs: 3 }, 120000);
        if (reply.error) throw new Error(`${id}: ${String(reply.error)}`);
        const r = reply.traffic as TrafficResult;
        measured(id, r);
        if (r.wrong > 0 || r.overflow > 0) wrong.push(`${id}: ${r.wrong} of ${r.checked} answers wrong, ${r.overflow} packets uncounted`);
      }
      if (wrong.length > 0) throw new Error(wrong.join("; "));
      return;
    }
    case "expect": {
      const s = await chassis.status(step.node);
      if (!s) throw new Error(`${step.node} is not running`);
      const got = { routes: s.routes[4] + s.routes[6], routes4: s.routes[4], routes6: s.routes[6] };
      for (const k of ["routes", "routes4", "routes6"] as const) {
        if (step[k] !== undefined && got[k] !== step[k]) throw new Error(`${step.node} holds ${got[k]} ${k === "routes" ? "routes" : `IPv${k.at(-1)} routes`}, not ${step[k]}`);
      }
      return;
    }
  }
}

/** Polls until converged; the error says who is not, and how. */
export async function waitConverged(chassis: Chassis, timeoutMs: number): Promise<void> {
  const end = performance.now() + timeoutMs;
  let why = "";
  while (performance.now() < end) {
    why = await divergence(chassis);
    if (!why) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`not converged after ${timeoutMs} ms: ${why}`);
}

/** "" when converged, else the first difference found. */
export async function divergence(chassis: Chassis): Promise<string> {
  const live = chassis.nodes.filter((n) => chassis.isUp(n.id));
  const statuses = new Map<string, NodeStatus>();
  await Promise.all(live.map(async (n) => { const s = await chassis.status(n.id); if (s) statuses.set(n.id, s); }));
  const rps = live.filter((n) => n.role === "rp");
  if (rps.length === 0) return "no route processor is running";
  const rib0 = JSON.stringify(statuses.get(rps[0].id)?.rib);
  for (const rp of rps.slice(1)) {
    if (JSON.stringify(statuses.get(rp.id)?.rib) !== rib0) return `${rp.id}'s RIB differs from ${rps[0].id}'s`;
  }
  for (const n of live) {
    if (n.role === "rp") continue;
    const s = statuses.get(n.id);
    if (!s) return `${n.id} does not answer`;
    const want = await chassis.expectedDigest(n.id);
    if (!want) return "no route processor answers";
    for (const f of [4, 6] as const) {
      if (s.digest[f] !== want[f]) return `${n.id} holds IPv${f} digest ${s.digest[f]} (${s.routes[f]} routes), not ${want[f]}`;
    }
  }
  return "";
}

/**
 * Watches the cards' tables between steps (RunOptions.guardTables): a card that held routes
 * at one check and holds none at the next, having neither resynced nor taken an update in
 * between (nor being in the middle of a resync), lost its table to something other than
 * its server telling it so: a failure emptied it. (A card that follows its server to an empty subset, say a route processor
 * restarted while cut off from the peer that runs the subset's protocol, resynced or took
 * updates on the way, and is right to.)
 */
class TableGuard {
  readonly emptied: string[] = [];
  /** Each card at the last check: routes held, resyncs done, updates taken. */
  private readonly last = new Map<string, { routes: number; resyncs: number; updates: number }>();

  constructor(private readonly chassis: Chassis) {}

  async check(step: Step, described: string): Promise<void> {
    if (step.kind === "kill" || step.kind === "restart") this.last.delete(step.node);
    for (const n of this.chassis.nodes) {
      if (n.role === "rp" || !this.chassis.isUp(n.id)) continue;
      const s = await this.chassis.status(n.id);
      if (!s) continue;
      const now = { routes: s.routes[4] + s.routes[6], resyncs: s.resyncs.length, updates: s.counters.updatesIn ?? 0 };
      const before = this.last.get(n.id);
      this.last.set(n.id, now);
      const told = now.resyncs !== before?.resyncs || now.updates !== before.updates || s.sessions.some((x) => x.state === "syncing");
      if (before && before.routes > 0 && now.routes === 0 && !told) {
        this.emptied.push(`${n.id} held ${before.routes} routes and held none after ${described}, told so by no server`);
      }
    }
  }
}

async function reportNodes(chassis: Chassis): Promise<Record<string, NodeReport>> {
  const out: Record<string, NodeReport> = {};
  for (const n of chassis.nodes) {
    const s = chassis.isUp(n.id) ? await chassis.status(n.id) : undefined;
    const expected = chassis.isUp(n.id) ? await chassis.expectedDigest(n.id) : undefined;
    out[n.id] = {
      role: n.role,
      up: s !== undefined,
      routes: s ? s.routes[4] + s.routes[6] : 0,
      digest: s?.digest ?? null,
      expectedDigest: expected ?? null,
      active: s?.active ?? null,
      failovers: s?.failovers ?? 0,
      resyncs: s?.resyncs ?? [],
      counters: s?.counters ?? {},
      channels: s?.channels ?? { serving: [], receiving: [] },
      ...(s?.firmware ? { firmware: s.firmware } : {}),
    };
  }
  return out;
}
