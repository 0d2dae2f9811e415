// fibcast run: the example chassis as processes over TCP, Unix sockets and serial lines (PTY
// pairs), a scenario with a kill, a restart, a cut and churn; every step passes, the report
// says who holds what, and --dump writes every node's table.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { builtPath } from "../host/firmware.ts";
import type { Report } from "../host/run/runner.ts";

const dir = mkdtempSync(join(tmpdir(), "fibcast-run-test-"));
const cli = builtPath("fibcast.mjs");

function fibcastRun(topology: string, scenario: string): { status: number | null; report: Report; stderr: string } {
  const reportFile = join(dir, "report.json");
  writeFileSync(join(dir, "scenario.yaml"), scenario);
  const r = spawnSync(process.execPath, [cli, "run", topology, "--scenario", join(dir, "scenario.yaml"), "--report", reportFile, "--dump", join(dir, "dump")], { encoding: "utf8", timeout: 180000 });
  return { status: r.status, report: JSON.parse(readFileSync(reportFile, "utf8")) as Report, stderr: r.stderr };
}

test("the example chassis converges, survives a kill, a restart, a cut and churn", () => {
  const { status, report, stderr } = fibcastRun("examples/chassis.yaml", readFileSync("examples/failover.yaml", "utf8"));
  assert.is(status, 0, stderr);
  assert.ok(report.ok);
  assert.is(report.steps.length, 17);
  for (const [id, n] of Object.entries(report.nodes)) {
    assert.ok(n.up, `${id} is up`);
    assert.equal(n.digest, n.expectedDigest, `${id} holds what it should`);
  }
  assert.is(report.nodes.lc1.routes, report.nodes["lc1.npu0"].routes);
  assert.ok(report.nodes.lc1.failovers >= 1, "lc1 failed over when its link to rp1 was cut");
  // rp1 frozen: its links stay open, so only its silence tells the cards it is gone.
  const silent = [...report.nodes.lc0.resyncs, ...report.nodes.lc1.resyncs].filter((r) => r.from === "rp1" && r.detectMs > 0);
  assert.ok(silent.length >= 1, "a card failed over from the frozen rp1 on silence");
  for (const r of silent) assert.ok(r.detectMs >= 150 && r.detectMs < 1000, `detected after ${r.detectMs} ms of silence (limit 150 ms)`);
  const dump = readFileSync(join(dir, "dump", "lc1.routes"), "utf8").trim().split("\n");
  assert.is(dump.length, report.nodes.lc1.routes);
  assert.ok(dump.includes("10.1.1.0/24 10.255.0.2,10.255.0.3"), "an ECMP route, next hops as written");
});

test("over Unix sockets; a step that fails fails the run, with the reason", () => {
  const unix = join(dir, "unix.yaml");
  writeFileSync(unix, readFileSync("examples/chassis.yaml", "utf8")
    .replace("links: { stream: tcp }", "links: { stream: unix }")
    .replace("routes: igp.txt", `routes: ${join(process.cwd(), "examples/igp.txt")}`));
  const { status, report } = fibcastRun(unix, "steps:\n  - wait: converged\n  - expect: { node: lc1, routes6: 5 }\n  - kill: nosuch\n");
  assert.is(status, 1);
  assert.equal(report.steps.map((s) => s.ok), [true, false, false], "converged over Unix sockets, then the two bad steps");
  assert.match(report.steps[1].error!, /lc1 holds 0 IPv6 routes, not 5/);
  assert.match(report.steps[2].error!, /nosuch is not running/);
});

test("over serial lines: a restarted route processor is found again on the line that stayed up", () => {
  const serial = join(dir, "serial.yaml");
  writeFileSync(serial, readFileSync("examples/chassis.yaml", "utf8")
    .replace("links: { stream: tcp }", "links: { stream: serial }")
    .replace("routes: igp.txt", `routes: ${join(process.cwd(), "examples/igp.txt")}`));
  const { status, report, stderr } = fibcastRun(serial, readFileSync("examples/failover.yaml", "utf8"));
  assert.is(status, 0, stderr);
  for (const [id, n] of Object.entries(report.nodes)) assert.equal(n.digest, n.expectedDigest, `${id} holds what it should`);
  assert.ok(report.nodes.lc1.failovers >= 1, "lc1 failed over when its line to rp1 was cut");
  // A serial line has no carrier: the cards and rp1 learn that rp0 restarted when it tells
  // them it has no session for them, not when their silence limit (6 s) runs out.
  const afterRestart = report.steps.findIndex((s) => s.step.startsWith("restart")) + 1;
  assert.ok(report.steps[afterRestart].ms < 3000, `converged ${report.steps[afterRestart].ms} ms after rp0 restarted`);
});

test.run();
