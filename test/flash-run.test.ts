// A chassis whose line cards boot flashed firmware, as processes: blank cards forward
// nothing; a flash over each card's serial console (a PTY pair, paced at 1 Mbit/s) boots
// it and its engines, which then forward traffic with every checked answer right; a tampered image fails its step with the card's reason and the card
// keeps its table; a second flash takes effect at the card's restart, from the other slot.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { builtPath } from "../host/firmware.ts";
import type { Report } from "../host/run/runner.ts";

const dir = mkdtempSync(join(tmpdir(), "fibcast-flash-run-"));
const cli = builtPath("fibcast.mjs");

function fibcast(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 120000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("blank cards are flashed over serial consoles, boot, converge; a tampered image is refused with the card's reason; a reflash boots at restart", () => {
  assert.is(fibcast(["keygen", "--out", join(dir, "build")]).status, 0);
  assert.is(fibcast(["sign", "--key", join(dir, "build.key"), "--image", builtPath("fib.wasm"), "--out", join(dir, "fib.fw")]).status, 0);
  const tampered = readFileSync(join(dir, "fib.fw"));
  tampered[tampered.length - 100] ^= 1;
  writeFileSync(join(dir, "tampered.fw"), tampered);
  writeFileSync(join(dir, "topology.yaml"), [
    "nodes:",
    "  rp0: { role: rp, sources: [ { protocol: bgp, distance: 20, generate: { v4: 20000, v6: 5000, seed: 2 } } ] }",
    "  lc0: { role: lc, servers: [rp0], memoryMiB: 32 }",
    "  lc1: { role: lc, servers: [rp0], memoryMiB: 32 }",
    "  lc0.npu0: { role: npu, servers: [lc0] }",
    "firmware: { keys: build.pub, image: fib.fw, console: serial, baud: 1000000 }",
  ].join("\n"));
  writeFileSync(join(dir, "scenario.yaml"), [
    "steps:",
    "  - sleep: 300ms",
    "  - expect: { node: lc0.npu0, routes: 0 }",
    "  - flash: { node: [lc0, lc1] }",
    "  - wait: converged",
    "  - traffic: { mode: zipf, packets: 300000, node: [lc0.npu0, lc1] }",
    "  - flash: { node: lc1, image: tampered.fw }",
    "  - wait: converged",
    "  - flash: { node: lc0 }",
    "  - kill: lc0",
    "  - restart: lc0",
    "  - wait: converged",
  ].join("\n"));
  const r = fibcast(["run", join(dir, "topology.yaml"), "--scenario", join(dir, "scenario.yaml"), "--report", join(dir, "report.json")]);
  const report = JSON.parse(readFileSync(join(dir, "report.json"), "utf8")) as Report;
  assert.is(r.status, 1, "the tampered flash fails the run");
  assert.equal(report.steps.map((s) => s.ok), [true, true, true, true, true, false, true, true, true, true, true], JSON.stringify(report.steps));
  assert.equal(report.traffic.map((t) => [t.node, t.packets, t.wrong, t.checked]), [["lc0.npu0", 300000, 0, 20000], ["lc1", 300000, 0, 20000]]);
  for (const t of report.traffic) assert.ok(t.pps > 1e6 && t.nexthops > 0 && t.top.length === 5, JSON.stringify(t));
  assert.match(report.steps[5].error!, /^lc1: .*SHA-256.*stays on slot a/);
  const lc0 = report.nodes.lc0.firmware!, lc1 = report.nodes.lc1.firmware!, npu = report.nodes["lc0.npu0"].firmware!;
  assert.is(lc0.running, "b", "the reflashed card boots the other slot at its restart");
  assert.is(lc1.running, "a");
  assert.is(lc1.slots.b.state, "bad");
  assert.is(npu.sha256, lc1.sha256, "the engine runs its card's image");
  for (const [id, n] of Object.entries(report.nodes)) assert.equal(n.digest, n.expectedDigest, `${id} holds what it should`);
  // A flash step's time is its wire time and a little: two cards at once, each on its own 1 Mbit/s line.
  const wire = (readFileSync(builtPath("fib.wasm")).length * 8) / 1e6 * 1000;
  assert.ok(report.steps[2].ms < wire * 2, `flashing took ${report.steps[2].ms} ms; the wire time is ${wire.toFixed(0)} ms`);
});

test.run();
