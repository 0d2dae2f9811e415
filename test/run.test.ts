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

test("multicast over UDP with 5% loss, reordering and duplication: cards and engines take churn on sealed channels and converge, through a failover", () => {
  const topology = join(dir, "multicast.yaml");
  writeFileSync(topology, [
    "nodes:",
    "  rp0: { role: rp, sources: [ { protocol: bgp, distance: 20, generate: { v4: 20000, v6: 5000, seed: 2 } } ] }",
    "  rp1: { role: rp, peers: [rp0], sources: [ { protocol: ospf, distance: 110, generate: { v4: 2000, seed: 9 } } ] }",
    "  lc0: { role: lc, servers: [rp0, rp1] }",
    "  lc1: { role: lc, servers: [rp0, rp1] }",
    "  lc0.npu0: { role: npu, servers: [lc0] }",
    `multicast: { via: sim, port: ${30000 + (process.pid % 20000)}, loss: 0.05, reorder: 0.02, duplicate: 0.02 }`,
  ].join("\n"));
  const { status, report, stderr } = fibcastRun(topology, "steps:\n  - wait: converged\n  - churn: { node: rp0, updates: 20000, rate: 20000 }\n  - wait: converged\n  - kill: rp0\n  - churn: { node: rp1, updates: 5000, rate: 10000 }\n  - wait: converged\n");
  assert.is(status, 0, stderr);
  for (const [id, n] of Object.entries(report.nodes)) if (n.up) assert.equal(n.digest, n.expectedDigest, `${id} holds what it should`);
  for (const id of ["lc0", "lc1", "lc0.npu0"]) {
    const r = report.nodes[id].channels.receiving;
    assert.is(r.length, 1, `${id} is on the channel of its one live server`);
    assert.ok(r[0].updates > 0, `${id} took updates by multicast`);
  }
  const served = report.nodes.rp1.channels.serving[0];
  assert.is(served.receiving, 2, "both cards on rp1's channel after the failover");
  assert.ok(report.nodes.lc0.channels.serving[0].counters.updates > 0, "lc0 re-published to its engine on its own channel");
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
