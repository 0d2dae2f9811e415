// Scenario files (YAML): steps run in order against a running chassis. See the README.
//
//   - wait: converged                  (or { wait: converged, timeout: 20s }; default 30 s)
//   - kill: rp0                        SIGKILL
//   - freeze: rp0                      SIGSTOP: links stay open, the node falls silent
//   - thaw: rp0                        SIGCONT
//   - restart: rp0
//   - cut: [rp1, lc0]                  and  - restore: [rp1, lc0]
//   - impair: { link: [rp0, lc1], loss: 0.01, corrupt: 0.001, latency: 5, bandwidth: 1e8 }
//   - churn: { node: rp1, updates: 50000, rate: 20000, seed: 1 }
//   - sleep: 500ms
//   - expect: { node: lc0, routes: 565000 }        (routes: both families; or routes4, routes6)
//   - traffic: { mode: uniform, packets: 2000000 } (every forwarding engine in turn, or node: a
//                                                   card or a list; mode uniform | zipf; family
//                                                   4 | 6; a wrong answer fails the step)
//   - flash: { node: lc0, image: fib.fw }          (node: a line card or a list, flashed at once;
//                                                   image: default the topology's; a refusal fails
//                                                   the step with the card's reason)
//
// Paths are relative to the scenario file.
// Durations are "500ms", "2s", or a number of milliseconds.

import { readFileSync } from "node:fs";
import { yaml } from "../lazy.ts";
import { dirname, resolve } from "node:path";
import type { Impairment } from "../links/sim.ts";

export class ScenarioError extends Error {
  override name = "ScenarioError";
}

export type Step =
  | { kind: "wait"; timeoutMs: number }
  | { kind: "kill"; node: string }
  | { kind: "freeze"; node: string }
  | { kind: "thaw"; node: string }
  | { kind: "restart"; node: string }
  | { kind: "cut"; link: [string, string] }
  | { kind: "restore"; link: [string, string] }
  | { kind: "impair"; link: [string, string]; impairment: Impairment }
  | { kind: "churn"; node: string; updates: number; rate: number; seed: number }
  | { kind: "sleep"; ms: number }
  | { kind: "expect"; node: string; routes?: number; routes4?: number; routes6?: number }
  | { kind: "flash"; nodes: string[]; image?: string }
  | { kind: "traffic"; nodes?: string[]; family: 4 | 6; mode: "uniform" | "zipf"; packets: number; seed: number };

/** The default scenario: converge, and say so. */
export const CONVERGE: Step[] = [{ kind: "wait", timeoutMs: 30000 }];

export function readScenario(file: string): Step[] {
  let doc: unknown;
  try {
    doc = yaml().parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new ScenarioError(`${file}: ${(e as Error).message}`);
  }
  return parseScenario(doc, file);
}

export function parseScenario(doc: unknown, file: string): Step[] {
  const steps = (doc as { steps?: unknown })?.steps;
  if (!Array.isArray(steps)) throw new ScenarioError(`${file}: steps: must be a list`);
  return steps.map((raw, i) => parseStep(raw, `${file}: steps[${i}]`, dirname(resolve(file))));
}

function parseStep(raw: unknown, where: string, base: string): Step {
  const fail = (reason: string): never => { throw new ScenarioError(`${where}: ${reason}`); };
  if (typeof raw !== "object" || raw === null) fail("must be a mapping such as { kill: rp0 }");
  const s = raw as Record<string, unknown>;
  const kind = Object.keys(s).find((k) => k !== "timeout");
  const v = kind === undefined ? undefined : s[kind];
  const name = (x: unknown): string => (typeof x === "string" && x ? x : fail(`${kind}: must name a node`));
  const pair = (x: unknown): [string, string] => (Array.isArray(x) && x.length === 2 ? [name(x[0]), name(x[1])] : fail(`${kind}: must be a pair of nodes [a, b]`));
  const num = (x: unknown, what: string): number => (typeof x === "number" && x >= 0 ? x : fail(`${what}: must be a number ≥ 0`));
  switch (kind) {
    case "wait":
      if (v !== "converged") fail(`wait: only "converged" can be waited for`);
      return { kind: "wait", timeoutMs: s.timeout === undefined ? 30000 : duration(s.timeout, fail) };
    case "kill": case "freeze": case "thaw": case "restart": return { kind, node: name(v) };
    case "cut": case "restore": return { kind, link: pair(v) };
    case "impair": {
      const o = (v ?? {}) as Record<string, unknown>;
      const impairment: Impairment = {};
      if (o.loss !== undefined) impairment.loss = num(o.loss, "impair.loss");
      if (o.corrupt !== undefined) impairment.corrupt = num(o.corrupt, "impair.corrupt");
      if (o.latency !== undefined) impairment.latencyMs = num(o.latency, "impair.latency");
      if (o.bandwidth !== undefined) impairment.bandwidthBps = num(o.bandwidth, "impair.bandwidth");
      return { kind: "impair", link: pair(o.link), impairment };
    }
    case "churn": {
      const o = (v ?? {}) as Record<string, unknown>;
      return { kind: "churn", node: name(o.node), updates: num(o.updates, "churn.updates"), rate: num(o.rate ?? 10000, "churn.rate"), seed: num(o.seed ?? 1, "churn.seed") };
    }
    case "sleep": return { kind: "sleep", ms: duration(v, fail) };
    case "expect": {
      const o = (v ?? {}) as Record<string, unknown>;
      const step: Step = { kind: "expect", node: name(o.node) };
      for (const k of ["routes", "routes4", "routes6"] as const) if (o[k] !== undefined) step[k] = num(o[k], `expect.${k}`);
      return step;
    }
    case "flash": {
      const o = (v ?? {}) as Record<string, unknown>;
      const nodes = Array.isArray(o.node) ? o.node.map(name) : [name(o.node)];
      if (nodes.length === 0) fail("flash.node: must name a line card");
      return { kind: "flash", nodes, ...(o.image === undefined ? {} : { image: resolve(base, String(o.image)) }) };
    }
    case "traffic": {
      const o = (v ?? {}) as Record<string, unknown>;
      const mode = o.mode ?? "uniform";
      if (mode !== "uniform" && mode !== "zipf") fail(`traffic.mode: uniform or zipf, not ${JSON.stringify(o.mode)}`);
      const family = o.family ?? 4;
      if (family !== 4 && family !== 6) fail("traffic.family: 4 or 6");
      return {
        kind: "traffic", family: family as 4 | 6, mode: mode as "uniform" | "zipf", packets: num(o.packets ?? 2_000_000, "traffic.packets"), seed: num(o.seed ?? 1, "traffic.seed"),
        ...(o.node === undefined ? {} : { nodes: Array.isArray(o.node) ? o.node.map(name) : [name(o.node)] }),
      };
    }
    default:
      return fail(`unknown step ${JSON.stringify(kind)} (wait, kill, freeze, thaw, restart, cut, restore, impair, churn, sleep, expect, flash, traffic)`);
  }
}

function duration(v: unknown, fail: (reason: string) => never): number {
  if (typeof v === "number" && v >= 0) return v;
  const m = typeof v === "string" ? /^(\d+(?:\.\d+)?)\s*(ms|s)$/.exec(v) : null;
  if (!m) fail(`${JSON.stringify(v)} is not a duration (500ms, 2s)`);
  return Number(m![1]) * (m![2] === "s" ? 1000 : 1);
}

/** A step as the report shows it. */
export function describeStep(s: Step): string {
  switch (s.kind) {
    case "wait": return "wait: converged";
    case "kill": case "freeze": case "thaw": case "restart": return `${s.kind}: ${s.node}`;
    case "cut": case "restore": return `${s.kind}: [${s.link.join(", ")}]`;
    case "impair": return `impair: [${s.link.join(", ")}] ${JSON.stringify(s.impairment)}`;
    case "churn": return `churn: ${s.node} ${s.updates} at ${s.rate}/s`;
    case "sleep": return `sleep: ${s.ms}ms`;
    case "expect": return `expect: ${s.node} ${JSON.stringify({ routes: s.routes, routes4: s.routes4, routes6: s.routes6 })}`;
    case "flash": return `flash: ${s.nodes.join(", ")}${s.image ? ` with ${s.image}` : ""}`;
    case "traffic": return `traffic: ${s.packets} ${s.mode} IPv${s.family} packets through ${s.nodes?.join(", ") ?? "every forwarding engine"}`;
  }
}
