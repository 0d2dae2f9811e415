// Metrics and logs an operator reads: Prometheus metrics that say what status says, served
// by every node of a topology that asks; one pino JSON line per event, a transition's with
// its reason.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { Writable } from "node:stream";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { builtPath, firmwareImage } from "../host/firmware.ts";
import { FramedLink } from "../host/links/framed.ts";
import { SimLink } from "../host/links/sim.ts";
import { Node } from "../host/node/node.ts";
import { serveMetrics, type MetricsServer } from "../host/node/metrics.ts";
import { nodeLog } from "../host/node/log.ts";

/** The value of a metric line `name{labels} value` in Prometheus text. */
function metric(text: string, line: string): number | undefined {
  const found = text.split("\n").find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

const firmware = firmwareImage();
const timers = { heartbeatMs: 50, deadAfter: 3 };

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const scrape = (port: number) => fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());

test("metrics say what status says, through a failover; other paths are 404; close frees the port", async () => {
  const rp = new Node({ id: "rp0", role: "rp", firmware, timers, sources: [{ protocol: "bgp", generate: { v4: 3000, v6: 500, seed: 4 } }] });
  const lc = new Node({ id: "lc0", role: "lc", firmware, timers, memoryMiB: 16, servers: ["rp0"] });
  await rp.loadSources();
  const link = new SimLink({ latencyMs: 1 });
  rp.accept(new FramedLink(link.a));
  lc.connect("rp0", new FramedLink(link.b));
  const served: MetricsServer[] = [];
  try {
    await until("lc0 synced", () => lc.status().active === "rp0" && !lc.status().stale);
    await rp.churn(100, 1e9, 2);
    await until("lc0 took the churn", () => lc.counters.updatesIn > 0 && lc.fib.digest(4) === rp.fib.digest(4) && lc.fib.digest(6) === rp.fib.digest(6));
    const rpMetrics = await serveMetrics(() => rp.status(), { port: 0 });
    served.push(rpMetrics);
    const lcMetrics = await serveMetrics(() => lc.status(), { port: 0 });
    served.push(lcMetrics);

    let text = await scrape(lcMetrics.port);
    let s = lc.status();
    assert.equal(s.routes, rp.status().routes);
    assert.is(metric(text, 'fibcast_routes{family="4"}'), s.routes[4]);
    assert.is(metric(text, 'fibcast_routes{family="6"}'), s.routes[6]);
    assert.is(metric(text, 'fibcast_active_server{server="rp0"}'), 1);
    assert.is(metric(text, 'fibcast_session{server="rp0",state="active"}'), 1);
    assert.is(metric(text, "fibcast_stale"), 0);
    assert.is(metric(text, 'fibcast_resyncs_total{mode="copy"}'), 1, "a blank card's first sync is a copy");
    assert.is(metric(text, "fibcast_last_resync_received_bytes"), s.resyncs[0].bytesIn);
    assert.ok(s.counters.routesIn > 0);
    assert.is(metric(text, "fibcast_routes_received_total"), s.counters.routesIn);
    assert.is(metric(text, "fibcast_fib_memory_bytes"), s.counters.memoryBytes);
    assert.is(metric(text, "fibcast_nexthops"), s.counters.nexthops);
    assert.match(text, /# TYPE fibcast_link_received_bytes_total counter/);
    assert.match(text, /process_cpu_user_seconds_total/);
    const bytesIn = metric(text, "fibcast_link_received_bytes_total")!;
    assert.ok(bytesIn > 0);

    const rpText = await scrape(rpMetrics.port);
    const rs = rp.status();
    assert.is(metric(rpText, 'fibcast_client{client="lc0",state="active"}'), 1);
    assert.is(metric(rpText, 'fibcast_client_sequence{client="lc0"}'), rs.clients[0].sequence);
    assert.is(metric(rpText, "fibcast_active_server"), undefined, "a route processor has no active server");

    // rp0 is gone: lc0 keeps its table, stale, and its link totals keep what the ended link carried.
    link.cut();
    await until("lc0 lost rp0", () => lc.status().sessions.length === 0);
    text = await scrape(lcMetrics.port);
    s = lc.status();
    assert.ok(s.counters.bytesIn >= bytesIn, "status counts ended links too");
    assert.is(metric(text, "fibcast_link_received_bytes_total"), s.counters.bytesIn, "the counter does not drop with the link: Prometheus would take that for a restart");
    assert.is(metric(text, "fibcast_failovers_total"), 1);
    assert.is(metric(text, "fibcast_stale"), 1);
    assert.not.match(text, /fibcast_active_server\{/);
    assert.is(metric(text, 'fibcast_routes{family="4"}'), s.routes[4]);

    for (const path of ["/", "/metrics/x", "/status"]) assert.is((await fetch(`http://127.0.0.1:${lcMetrics.port}${path}`)).status, 404, path);
  } finally {
    // A failed assertion still leaves nothing running: the test process must exit by itself.
    link.cut();
    await Promise.all(served.map((m) => m.close()));
  }
  assert.not.ok(await scrape(served[1].port).then(() => true, () => false), "close() freed the port");
});

test("a log line per event: JSON with node, level, message and fields; a transition's message is from → to, with its reason", () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write(chunk, _enc, done) { for (const l of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(l)); done(); } });
  const log = nodeLog("lc0", sink as never);
  const events: Record<string, unknown>[] = [
    { node: "lc0", event: "state", server: "rp0", from: "standby", to: "syncing", reason: "activating rp0" },
    { node: "lc0", event: "state", server: "rp0", from: "active", to: "closed", reason: "rp0 is silent and rp1 is ready: failing over" },
    { node: "lc0", event: "resynced", from: "rp0", to: "rp1", ms: 12 },
    { node: "lc0", event: "flash refused", reason: "signed by ed25519:00" },
    { node: "lc0", event: "zebra disconnected; its routes are kept until it comes back", routes: 3 },
  ];
  for (const [i, e] of events.entries()) {
    log(e);
    assert.is(lines.length, i + 1, "one line per call, written before it returns");
  }
  assert.equal(lines.map((l) => [l.node, l.level, l.msg]), [
    ["lc0", "info", "standby → syncing"],
    ["lc0", "warn", "active → closed"],
    ["lc0", "info", "resynced"],
    ["lc0", "warn", "flash refused"],
    ["lc0", "warn", "zebra disconnected; its routes are kept until it comes back"],
  ]);
  assert.equal([lines[1].server, lines[1].from, lines[1].to, lines[1].reason], ["rp0", "active", "closed", "rp0 is silent and rp1 is ready: failing over"]);
  assert.is(lines[2].ms, 12);
  assert.ok(lines.every((l) => !("event" in l)), "the event is the message");
  assert.ok(typeof lines[0].time === "string" && !Number.isNaN(Date.parse(lines[0].time as string)));
});

test("every node of a topology with metrics serves them on its port (base + its index)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "fibcast-metrics-"));
  const base = 29000 + Math.floor(Math.random() * 5000);
  writeFileSync(join(dir, "topology.yaml"), [
    "nodes:",
    "  rp0: { role: rp, sources: [ { protocol: bgp, distance: 20, generate: { v4: 2000, v6: 200, seed: 3 } } ] }",
    "  lc0: { role: lc, servers: [rp0], memoryMiB: 32 }",
    `metrics: { port: ${base} }`,
  ].join("\n"));
  writeFileSync(join(dir, "scenario.yaml"), "steps:\n  - wait: converged\n  - sleep: 4s\n");
  const run = spawn(process.execPath, [builtPath("fibcast.mjs"), "run", join(dir, "topology.yaml"), "--scenario", join(dir, "scenario.yaml"), "--report", join(dir, "r.json")], { stdio: "ignore" });
  const exited = new Promise<number | null>((resolve) => run.on("exit", resolve));
  let text = "";
  // The table fills while the session is still syncing: wait for it whole and active.
  const ready = () => metric(text, 'fibcast_routes{family="4"}') === 2000 && metric(text, 'fibcast_session{server="rp0",state="active"}') === 1;
  for (let tries = 0; tries < 80 && !ready(); tries++) {
    await new Promise((r) => setTimeout(r, 100));
    text = await fetch(`http://127.0.0.1:${base + 1}/metrics`).then((r) => r.text(), () => "");
  }
  assert.is(metric(text, 'fibcast_routes{family="4"}'), 2000, "lc0 serves its metrics with the table it holds");
  assert.is(metric(text, 'fibcast_active_server{server="rp0"}'), 1);
  assert.is(metric(text, 'fibcast_session{server="rp0",state="active"}'), 1);
  const rp = await fetch(`http://127.0.0.1:${base}/metrics`).then((r) => r.text());
  assert.is(metric(rp, 'fibcast_client{client="lc0",state="active"}'), 1);
  assert.is(await exited, 0);
});

test.run();
