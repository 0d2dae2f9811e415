// fibcast run TOPOLOGY.yaml [--scenario S.yaml] [--report R.json] [--dump DIR]: the chassis
// as processes, the scenario's steps, the report; exit 0 only if every step passed.
// fibcast chaos TOPOLOGY.yaml --seed N --steps M [--runs K] [--report R.json]: seeded
// random scenarios (chaos.ts), seeds N … N+K−1, each run with the table guard on.
// fibcast node: one node process (the runner starts these; configuration in FIBCAST_NODE).

import { writeFileSync } from "node:fs";
import { FailedError, UsageError, type Context } from "../cli-support.ts";
import { runNode, type ProcessConfig } from "../node/main.ts";
import { run, type Report, type StepResult } from "../run/runner.ts";
import { chaosSteps } from "../run/chaos.ts";
import { CONVERGE, describeStep, readScenario, ScenarioError } from "../run/scenario.ts";
import { readTopology, TopologyError } from "../run/topology.ts";

export async function runCommand(ctx: Context, topologyFile: string | undefined, args: { scenario?: string; report?: string; dump?: string }): Promise<number> {
  if (!topologyFile) throw new UsageError("a topology file is needed");
  let topology, steps;
  try {
    topology = readTopology(topologyFile);
    steps = args.scenario ? readScenario(args.scenario) : CONVERGE;
  } catch (e) {
    if (e instanceof TopologyError || e instanceof ScenarioError) throw new FailedError(e.message);
    throw e;
  }
  ctx.log(`starting ${topology.nodes.length} nodes (${topology.links.stream} links)`);
  const report = await run(topology, steps, { ...(args.dump ? { dump: args.dump } : {}), progress: progress(ctx) });
  await writeReport(ctx, report, args.report);
  summarise(ctx, report);
  return report.ok ? 0 : 1;
}

export async function chaosCommand(ctx: Context, topologyFile: string | undefined, args: { seed: number; steps: number; runs: number; report?: string }): Promise<number> {
  if (!topologyFile) throw new UsageError("a topology file is needed");
  let topology;
  try {
    topology = readTopology(topologyFile);
  } catch (e) {
    if (e instanceof TopologyError) throw new FailedError(e.message);
    throw e;
  }
  const runs: (Report & { seed: number })[] = [];
  for (let seed = args.seed; seed < args.seed + args.runs; seed++) {
    const steps = chaosSteps(topology, seed, args.steps);
    ctx.log(`seed ${seed}: ${steps.length} steps on ${topology.nodes.length} nodes: ${steps.map(describeStep).join("; ")}`);
    const report = await run(topology, steps, { progress: progress(ctx), guardTables: true });
    for (const e of report.emptied ?? []) ctx.log(`EMPTY ${e}`);
    summarise(ctx, report, seed);
    runs.push({ seed, ...report });
  }
  const ok = runs.every((r) => r.ok);
  await writeReport(ctx, { ok, runs }, args.report);
  return ok ? 0 : 1;
}

function progress(ctx: Context): (r: StepResult) => void {
  return (r) => ctx.log(`${r.ok ? "ok  " : "FAIL"} ${r.step} (${r.ms} ms)${r.error ? `: ${r.error}` : ""}`);
}

async function writeReport(ctx: Context, report: unknown, file: string | undefined): Promise<void> {
  const json = JSON.stringify(report, null, 2);
  if (file) writeFileSync(file, `${json}\n`);
  else await ctx.write(`${json}\n`);
}

function summarise(ctx: Context, report: Report, seed?: number): void {
  const passed = report.steps.filter((s) => s.ok).length;
  ctx.log(`${seed === undefined ? "" : `seed ${seed}: `}${report.ok ? "passed" : "failed"}: ${passed} of ${report.steps.length} steps; node logs in ${report.logs}`);
}

export async function nodeCommand(): Promise<number> {
  const raw = process.env.FIBCAST_NODE;
  if (!raw) throw new UsageError("FIBCAST_NODE must hold the node's configuration (JSON); fibcast run starts nodes");
  await runNode(JSON.parse(raw) as ProcessConfig);
  return 0;
}
