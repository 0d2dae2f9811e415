// Chaos: the same seed gives the same steps, every step is one the chassis can take, and a
// handful of seeds on the example chassis (processes over TCP) all end converged, with no
// card ever found holding an empty table.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { builtPath } from "../host/firmware.ts";
import { chaosSteps } from "../host/run/chaos.ts";
import { describeStep } from "../host/run/scenario.ts";
import { readTopology } from "../host/run/topology.ts";
import type { Report } from "../host/run/runner.ts";

const topology = readTopology("examples/chassis.yaml");

test("a seed gives one sequence of steps, each possible when it comes, and everything back at the end", () => {
  const a = chaosSteps(topology, 42, 200).map(describeStep);
  assert.equal(chaosSteps(topology, 42, 200).map(describeStep), a);
  assert.not.equal(chaosSteps(topology, 43, 200).map(describeStep), a);
  for (let seed = 1; seed <= 50; seed++) {
    const killed = new Set<string>(), frozen = new Set<string>(), cut = new Set<string>();
    const steps = chaosSteps(topology, seed, 100);
    for (const s of steps) {
      const where = `seed ${seed}: ${describeStep(s)}`;
      if (s.kind === "kill") { assert.ok(!killed.has(s.node) && !frozen.has(s.node), where); killed.add(s.node); }
      if (s.kind === "restart") { assert.ok(killed.delete(s.node), where); for (const l of [...cut]) if (l.startsWith(`${s.node}>`)) cut.delete(l); }
      if (s.kind === "freeze") { assert.ok(!killed.has(s.node) && !frozen.has(s.node), where); frozen.add(s.node); }
      if (s.kind === "thaw") assert.ok(frozen.delete(s.node), where);
      if (s.kind === "churn") assert.ok(!killed.has(s.node) && !frozen.has(s.node), where);
      if (s.kind === "cut" || s.kind === "restore" || s.kind === "impair") {
        assert.ok(!killed.has(s.link[0]) && !frozen.has(s.link[0]), `${where}: the dialing side runs`);
      }
      if (s.kind === "cut") cut.add(s.link.join(">"));
      if (s.kind === "restore") assert.ok(cut.delete(s.link.join(">")), where);
    }
    assert.is(steps.at(-1)!.kind, "wait");
    assert.equal([killed.size, frozen.size, cut.size], [0, 0, 0], `seed ${seed} brings everything back`);
  }
});

test("seeds 1–3 on the example chassis: converged at the end, no card ever emptied", () => {
  const report = join(mkdtempSync(join(tmpdir(), "fibcast-chaos-")), "chaos.json");
  const r = spawnSync(process.execPath, [builtPath("fibcast.mjs"), "chaos", "examples/chassis.yaml", "--seed", "1", "--runs", "3", "--steps", "20", "--report", report], { encoding: "utf8", timeout: 300000 });
  const { ok, runs } = JSON.parse(readFileSync(report, "utf8")) as { ok: boolean; runs: (Report & { seed: number })[] };
  assert.is(r.status, 0, r.stderr);
  assert.ok(ok);
  assert.equal(runs.map((run) => run.seed), [1, 2, 3]);
  for (const run of runs) {
    assert.equal(run.emptied, [], `seed ${run.seed}`);
    for (const [id, n] of Object.entries(run.nodes)) assert.equal(n.digest, n.expectedDigest, `seed ${run.seed}: ${id} holds what it should`);
  }
});

test.run();
