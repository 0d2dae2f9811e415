// fibcast run TOPOLOGY.yaml [--scenario S.yaml] [--report R.json] [--dump DIR]: the chassis
// as processes, the scenario's steps, the report; exit 0 only if every step passed.
// fibcast node: one node process (the runner starts these; configuration in FIBCAST_NODE).

import { writeFileSync } from "node:fs";
import { FailedError, UsageError, type Context } from "../cli-support.ts";
import { runNode, type ProcessConfig } from "../node/main.ts";
import { run } from "../run/runner.ts";
import { CONVERGE, readScenario, ScenarioError } from "../run/scenario.ts";
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
  const report = await run(topology, steps, {
    ...(args.dump ? { dump: args.dump } : {}),
    progress: (r) => ctx.log(`${r.ok ? "ok  " : "FAIL"} ${r.step} (${r.ms} ms)${r.error ? `: ${r.error}` : ""}`),
  });
  const json = JSON.stringify(report, null, 2);
  if (args.report) writeFileSync(args.report, `${json}\n`);
  else await ctx.write(`${json}\n`);
  ctx.log(`${report.ok ? "passed" : "failed"}: ${report.steps.filter((s) => s.ok).length} of ${report.steps.length} steps; node logs in ${report.logs}`);
  return report.ok ? 0 : 1;
}

export async function nodeCommand(): Promise<number> {
  const raw = process.env.FIBCAST_NODE;
  if (!raw) throw new UsageError("FIBCAST_NODE must hold the node's configuration (JSON); fibcast run starts nodes");
  await runNode(JSON.parse(raw) as ProcessConfig);
  return 0;
}
