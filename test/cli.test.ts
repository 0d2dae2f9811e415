// The fibcast command as a user runs it: the bundled CLI in a child process.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Report } from "../host/run/runner.ts";

const cli = fileURLToPath(new URL("../bin/fibcast.mjs", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "fibcast-cli-"));

function fibcast(args: string[], input = "") {
  const r = spawnSync(process.execPath, [cli, ...args], { input, encoding: "utf8", maxBuffer: 1 << 28 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const routes = join(dir, "t.routes");
writeFileSync(routes, ["# test table", "10.0.0.0/8 192.0.2.1", "10.1.0.0/16 core-a", "2001:db8::/32 2001:DB8::1", "0.0.0.0/0 upstream   # default"].join("\n") + "\n");

test("lookup answers in input order with next hops as written", () => {
  const r = fibcast(["lookup", "--routes", routes, "-q"], "10.1.2.3\n10.2.0.0\n11.0.0.1\n2001:db8::5\n2001:db9::\n");
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, "10.1.2.3 core-a\n10.2.0.0 192.0.2.1\n11.0.0.1 upstream\n2001:db8::5 2001:DB8::1\n2001:db9:: -\n");
});

test("a malformed address prints !error, its reason on stderr, and the run goes on", () => {
  const r = fibcast(["lookup", "--routes", routes, "-q"], "10.1.2.3\n1.2.3\n::g\n10.0.0.1");
  assert.is(r.code, 1);
  assert.is(r.stdout, "10.1.2.3 core-a\n1.2.3 !error\n::g !error\n10.0.0.1 192.0.2.1\n");
  assert.match(r.stderr, 'line 2: "1.2.3": IPv4 address too short');
  assert.match(r.stderr, 'line 3: "::g": unexpected character "g"');
});

test("a large input streams through in order", () => {
  const n = 200000;
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(i % 2 ? `10.1.${(i >> 8) & 255}.${i & 255}` : `2001:db8::${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}`);
  const r = fibcast(["lookup", "--routes", routes, "-q"], lines.join("\n") + "\n");
  assert.is(r.code, 0);
  const out = r.stdout.split("\n");
  assert.is(out.length, n + 1);
  assert.is(out[1], `${lines[1]} core-a`);
  assert.is(out[n - 2], `${lines[n - 2]} 2001:DB8::1`);
});

test("a bad route file fails with file:line: reason", () => {
  const bad = join(dir, "bad.routes");
  writeFileSync(bad, "10.0.0.0/8 a\n10.0.0.0/33 b\n");
  const r = fibcast(["lookup", "--routes", bad], "10.0.0.1\n");
  assert.is(r.code, 1);
  assert.match(r.stderr, `${bad}:2: bad prefix "10.0.0.0/33": prefix length out of range 0..32`);
  assert.is(r.stdout, "");
});

test("snapshot then decode --routes-out gives back the same routes, through garbage and a cut", () => {
  const snap = join(dir, "t.snap");
  const made = fibcast(["snapshot", "--routes", routes, "--out", snap, "-q"]);
  assert.is(made.code, 0, made.stderr);
  const bytes = readFileSync(snap);
  const back = join(dir, "back.routes");
  const garbage = Buffer.from([0x13, 0x37, 0x00, 0xff, 0xfe]);
  const r = spawnSync(process.execPath, [cli, "decode", "--routes-out", back, "-q"], { input: Buffer.concat([garbage, bytes, bytes.subarray(0, 20)]) });
  assert.is(r.status, 0, String(r.stderr));
  const lines = String(r.stdout).trim().split("\n").map((l) => JSON.parse(l));
  const summary = lines[lines.length - 1];
  assert.is(summary.routes, 4);
  assert.is(summary.snapshotErrors, 0);
  assert.ok(summary.badFrames >= 2, "the garbage and the cut tail are dropped");
  assert.ok(lines.some((l) => l.type === "nexthops"));
  assert.equal(lines.filter((l) => l.snapshotComplete).map((l) => l.snapshotComplete), ["IPv4", "IPv6"]);
  const sorted = (t: string) => t.split("\n").map((l) => l.replace(/#.*/, "").trim()).filter(Boolean).sort();
  assert.equal(sorted(readFileSync(back, "utf8")), sorted(readFileSync(routes, "utf8")));
});

test("bad usage exits 2 with help; --help exits 0", () => {
  assert.is(fibcast(["nonsense"]).code, 2);
  const missing = fibcast(["lookup"]);
  assert.is(missing.code, 2);
  assert.match(missing.stderr, "lookup needs --routes FILE");
  const unknown = fibcast(["lookup", "--routes", routes, "--frobnicate"]);
  assert.is(unknown.code, 2);
  assert.match(unknown.stderr, "--frobnicate");
  const help = fibcast(["lookup", "--help"]);
  assert.is(help.code, 0);
  assert.match(help.stdout, "fibcast lookup --routes FILE");
  assert.match(fibcast(["--help"]).stdout, "commands:");
  assert.is(fibcast(["demo", "--v4", "many"]).code, 2);
});

test("demo: blank line cards are flashed, the chassis converges, every engine forwards, the primary dies, every card holds what it should and only the difference moves", () => {
  const reportFile = join(dir, "demo.json");
  const r = fibcast(["demo", "--v4", "20000", "--v6", "5000", "--report", reportFile]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /passed: 9 of 9 steps/);
  const report = JSON.parse(readFileSync(reportFile, "utf8")) as Report;
  assert.is(report.traffic.length, 8, "every engine forwarded traffic");
  for (const t of report.traffic) assert.equal([t.wrong, t.overflow, t.packets], [0, 0, 1000000], t.node);
  for (const [id, n] of Object.entries(report.nodes)) {
    if (id === "rp0") { assert.not.ok(n.up, "the primary was killed"); continue; }
    assert.equal(n.digest, n.expectedDigest, `${id} holds what it should`);
    if (n.role === "rp") continue;
    assert.is(n.firmware?.running, "a", `${id} runs the flashed image`);
    if (n.role !== "lc") continue;
    const failover = n.resyncs.find((x) => x.from === "rp0");
    assert.ok(failover && failover.diffEntries > 0, `${id} failed over from rp0 and found a difference`);
    assert.ok(failover!.bytesOut <= 2 * 1.5 * failover!.diffBytes, `${id} passed its two engines ${failover!.bytesOut} bytes for a ${failover!.diffBytes}-byte difference`);
  }
});

test("bench wire prints the figures as JSON", () => {
  const table = join(dir, "wire.routes");
  const lines: string[] = [];
  for (let i = 0; i < 2000; i++) lines.push(`${10 + (i >> 8)}.${i & 255}.0.0/16 nh${i % 7}`, `2001:db8:${i.toString(16)}::/48 nh${i % 5}`);
  writeFileSync(table, lines.join("\n"));
  const r = fibcast(["bench", "wire", "--routes", table, "--quick", "--json", "-q"]);
  assert.is(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.wire.map((x: { family: number }) => x.family), [4, 6]);
  for (const x of report.wire) {
    assert.is(x.routes, 2000);
    for (const key of ["bytesPerRoute", "encodeRoutesPerSec", "decodeRoutesPerSec", "diffEntriesPerSec", "fpmBytesPerRoute"]) assert.ok(x[key] > 0, key);
    assert.ok(x.bytesPerRoute < x.fpmBytesPerRoute);
  }
});

test("bench lookup prints the figures as JSON and, with --out, writes the report with its lookup chart", () => {
  const table = join(dir, "bench.routes");
  const lines: string[] = [];
  for (let i = 0; i < 3000; i++) lines.push(`${10 + (i >> 8)}.${i & 255}.0.0/16 nh${i % 7}`, `2001:db8:${i.toString(16)}::/48 nh${i % 5}`);
  writeFileSync(table, lines.join("\n"));
  const out = join(dir, "results");
  const r = fibcast(["bench", "lookup", "--routes", table, "--quick", "--json", "-q", "--out", out]);
  assert.is(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.lookup.map((x: { family: number }) => x.family), [4, 6]);
  for (const x of report.lookup) {
    assert.is(x.routes, 3000);
    assert.is(x.wrongAnswers, 0);
    for (const key of ["buildMs", "lookupsPerSec", "singleLookupsPerSec", "updatesPerSec", "bytesPerRoute"]) assert.ok(x[key] > 0, key);
    assert.equal(x.peers.map((p: { name: string }) => p.name), ["longest-prefix-match", "arkime-iptrie"]);
    for (const p of x.peers) assert.ok(p.unavailable !== undefined || p.wrongAnswers === 0, `${p.name} answers as the golden table does`);
  }
  // Every 64th, 8th route and all of them, per family: the sizes the chart plots.
  assert.equal(report.lookupBySize.map((p: { family: number; routes: number }) => `${p.family}:${p.routes}`), ["4:47", "4:375", "4:3000", "6:47", "6:375", "6:3000"]);
  for (const p of report.lookupBySize) assert.is(p.wrongAnswers, 0);
  // A quick run is named so: it leaves the day's full report alone.
  const name = `${report.date}-quick`;
  const files = readdirSync(out).sort();
  assert.equal(files, [`${name}-lookup.svg`, `${name}.json`, `${name}.md`]);
  assert.equal(JSON.parse(readFileSync(join(out, `${name}.json`), "utf8")), report);
  const md = readFileSync(join(out, `${name}.md`), "utf8");
  assert.match(md, `![lookup rate against table size](${name}-lookup.svg)`);
  assert.match(md, /\| IPv4 \| 3k \|/);
});

test.run();
