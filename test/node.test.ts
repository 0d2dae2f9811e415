// The three tiers in one process, over simulated links: route processors exchange their
// sources, line cards and forwarding engines hold exactly the subset the RIB implies, and
// a line card whose server dies fails over, applying and passing on only the difference.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { firmwareImage } from "../host/firmware.ts";
import { FramedLink } from "../host/links/framed.ts";
import { SimLink } from "../host/links/sim.ts";
import { Prefix } from "../host/netip.ts";
import { Node, type NodeOptions } from "../host/node/node.ts";
import type { Message, ResyncMode } from "../host/wire/messages.ts";
import { subsetDigest } from "../host/node/subset.ts";

const firmware = firmwareImage();
const timers = { heartbeatMs: 50, deadAfter: 3 };
const dir = mkdtempSync(join(tmpdir(), "fibcast-node-"));
writeFileSync(join(dir, "igp.txt"), "10.0.0.0/8 10.255.0.1\n10.1.0.0/16 10.255.0.2\n192.0.2.0/24 10.255.0.1\n2001:db8::/32 fe80::1\n");

interface Chassis { nodes: Map<string, Node>; links: Map<string, SimLink> }

function node(o: Omit<NodeOptions, "firmware" | "timers">): Node {
  return new Node({ firmware, timers, memoryMiB: 16, ...o });
}

/** Dials client → server over a fresh simulated link. */
function wire(c: Chassis, client: string, server: string): void {
  const link = new SimLink({ latencyMs: 1 });
  c.links.set(`${client}>${server}`, link);
  c.nodes.get(server)!.accept(new FramedLink(link.a, { maxQueuedBytes: 64 << 20 }));
  c.nodes.get(client)!.connect(server, new FramedLink(link.b, { maxQueuedBytes: 64 << 20 }));
}

/** A link end that never hears the first message of a type: a frame lost on the way. */
function losingFirst(link: FramedLink, type: Message["type"]): { link: FramedLink; lost: () => boolean } {
  let lost = false;
  const listen = link.onMessage.bind(link);
  link.onMessage = (listener) => listen((m) => { if (m.type === type && !lost) lost = true; else listener(m); });
  return { link, lost: () => lost };
}

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function chassis(resync: ResyncMode = "digest"): Promise<Chassis> {
  const c: Chassis = { nodes: new Map(), links: new Map() };
  const add = (n: Node) => c.nodes.set(n.id, n);
  add(node({ id: "rp0", role: "rp", index: 0, sources: [{ protocol: "bgp", distance: 20, generate: { v4: 3000, v6: 800, seed: 5 } }] }));
  add(node({ id: "rp1", role: "rp", index: 1, servers: ["rp0"], sources: [{ protocol: "ospf", distance: 110, routes: join(dir, "igp.txt") }] }));
  add(node({ id: "lc0", role: "lc", servers: ["rp0", "rp1"], resync }));
  add(node({ id: "lc1", role: "lc", servers: ["rp1", "rp0"], resync, subset: { families: [4], vrfs: [0], prefixes: [Prefix.mustParse("10.0.0.0/8")] } }));
  add(node({ id: "lc0.npu0", role: "npu", servers: ["lc0"] }));
  for (const n of c.nodes.values()) if (n.role === "rp") await n.loadSources();
  wire(c, "rp1", "rp0");
  for (const [client, servers] of [["lc0", ["rp0", "rp1"]], ["lc1", ["rp1", "rp0"]], ["lc0.npu0", ["lc0"]]] as const) {
    for (const s of servers) wire(c, client, s);
  }
  return c;
}

function converged(c: Chassis): boolean {
  const rp0 = c.nodes.get("rp0")!, rp1 = c.nodes.get("rp1")!;
  if (JSON.stringify(rp0.rib!.digests()) !== JSON.stringify(rp1.rib!.digests())) return false;
  for (const n of c.nodes.values()) {
    if (n.role === "rp") continue;
    for (const f of [4, 6] as const) if (n.fib.digest(f) !== subsetDigest(rp1.fib, n.subset, f)) return false;
  }
  return true;
}

test("every route processor holds every protocol; every card holds exactly its subset", async () => {
  const c = await chassis();
  await until("convergence", () => converged(c));
  const rp1 = c.nodes.get("rp1")!;
  assert.equal(rp1.rib!.sourceInfos.map((s) => s.name), ["rp0/bgp", "rp1/ospf"]);
  assert.ok(rp1.fib.count(4) >= 3000);
  const lc1 = c.nodes.get("lc1")!;
  assert.ok(lc1.fib.count(4) > 0 && lc1.fib.count(6) === 0);
  for (const [p] of lc1.fib.routes(4)) assert.ok(p.overlaps(Prefix.mustParse("10.0.0.0/8")), `${p} is outside lc1's subset`);
  const npu = c.nodes.get("lc0.npu0")!;
  assert.is(npu.fib.digest(4), c.nodes.get("lc0")!.fib.digest(4));
  assert.is(npu.nexthops.name(npu.fib.get(Prefix.mustParse("192.0.2.0/24"))), "10.255.0.1");
});

test("a source added while the route processors run reaches the peer and every card as changes", async () => {
  const c = await chassis();
  await until("convergence", () => converged(c));
  const rp0 = c.nodes.get("rp0")!, rp1 = c.nodes.get("rp1")!;
  const lc0 = c.nodes.get("lc0")!, npu = c.nodes.get("lc0.npu0")!;
  const resyncs = lc0.resyncs.length;
  const entry = await rp0.addSource({ protocol: "static", distance: 1, routes: join(dir, "igp.txt") });
  assert.is(entry.name, "rp0/static");
  await until("convergence with the new source", () => converged(c) && rp1.rib!.sourceInfos.some((s) => s.name === "rp0/static"));
  // Distance 1 beats rp1's ospf (110) for the same prefixes, on every card.
  for (const n of [rp1, lc0, npu]) assert.is(n.nexthops.name(n.fib.get(Prefix.mustParse("10.1.0.0/16"))), "10.255.0.2");
  assert.is(lc0.resyncs.length, resyncs, "no resync: the routes came as updates");
  const early = await node({ id: "rp9", role: "rp", sources: [] }).addSource({ protocol: "bgp", routes: join(dir, "igp.txt") }).then(() => "added", (e: Error) => e.message);
  assert.match(early, /once its own are loaded/);
});

test("churn on a route processor reaches every card in order", async () => {
  const c = await chassis();
  await until("convergence", () => converged(c));
  await c.nodes.get("rp0")!.churn(2000, 50000, 3);
  await until("convergence after churn", () => converged(c));
  assert.ok(c.nodes.get("lc0")!.counters.updatesIn > 0);
});

test("a line card whose server dies fails over and passes on only the difference", async () => {
  const c = await chassis();
  await until("convergence", () => converged(c));
  const lc0 = c.nodes.get("lc0")!;
  const npu = c.nodes.get("lc0.npu0")!;
  // A loaded machine can miss heartbeats while the first tables load: a card that failed over
  // then is back on rp0 (its preferred server) before the failover under test begins.
  await until("lc0 on rp0", () => lc0.status().active === "rp0" && !lc0.status().stale);
  const before = npu.counters.routesIn;
  const earlier = lc0.resyncs.length;
  // rp0 dies: every link of it is cut.
  for (const [name, link] of c.links) if (name.endsWith(">rp0") || name.startsWith("rp0>")) link.cut();
  await until("failover", () => lc0.status().active === "rp1" && lc0.resyncs.length > earlier);
  await until("convergence after failover", () => converged(c));
  const r = lc0.resyncs[earlier];
  assert.is(r.from, "rp0");
  assert.is(r.to, "rp1");
  assert.is(r.diffEntries, 0, "both route processors hold the same table: nothing differs");
  assert.is(npu.counters.routesIn, before, "the forwarding engine hears nothing");
  assert.is(npu.status().active, "lc0");
});

for (const resync of ["digest", "copy"] as const) {
  test(`${resync} resync: a card whose table differs from its new server's takes exactly the difference, and passes on only that`, async () => {
    const c = await chassis(resync);
    await until("convergence", () => converged(c));
    const lc0 = c.nodes.get("lc0")!, lc1 = c.nodes.get("lc1")!, rp1 = c.nodes.get("rp1")!;
    const npu = c.nodes.get("lc0.npu0")!;
    // rp1 stops hearing rp0, which then changes 200 routes: lc0 and lc1 (on rp0 and rp1) now differ from each other's server.
    c.links.get("rp1>rp0")!.cut();
    await c.nodes.get("rp0")!.churn(200, 20000, 7);
    // lc0 and its engine both: an engine still taking rp0's changes after npuBefore would count them as passed on.
    await until("lc0 and its engine have rp0's changes", () => lc0.fib.digest(4) === subsetDigest(c.nodes.get("rp0")!.fib, lc0.subset, 4) && lc0.fib.digest(6) === subsetDigest(c.nodes.get("rp0")!.fib, lc0.subset, 6) &&
      npu.fib.digest(4) === lc0.fib.digest(4) && npu.fib.digest(6) === lc0.fib.digest(6));
    const differ = [4, 6].reduce((n, f) => n + lc0.fib.diff(f as 4 | 6, lc0.fib.records(f as 4 | 6), rp1.fib.records(f as 4 | 6)).changes.length / (f === 4 ? 3 : 6), 0);
    assert.ok(differ > 150, `${differ} routes differ`);
    const npuBefore = npu.counters.routesIn;
    for (const [name, link] of c.links) if (name.startsWith("lc") && name.endsWith(">rp0")) link.cut();
    await until("failover", () => lc0.status().active === "rp1" && lc0.resyncs.length === 2);
    const equal = (n: Node) => [4, 6].every((f) => n.fib.digest(f as 4 | 6) === subsetDigest(rp1.fib, n.subset, f as 4 | 6));
    await until("lc0 and its engine equal to rp1", () => equal(lc0) && npu.fib.digest(4) === lc0.fib.digest(4) && npu.fib.digest(6) === lc0.fib.digest(6));
    assert.ok(equal(lc1), "lc1 never left rp1");
    const r = lc0.resyncs[1];
    assert.is(r.diffEntries, differ, "exactly the difference was applied");
    assert.is(npu.counters.routesIn - npuBefore, differ, `and exactly it went on to the engine: ${JSON.stringify(lc0.resyncs)}`);
    assert.ok(r.bytesOut <= 1.5 * r.diffBytes + 200, `${r.bytesOut} B to the engine for a difference of ${r.diffBytes} B`);
    if (resync === "digest") assert.ok(r.bytesIn < 0.25 * lc0.resyncs[0].bytesIn, `${r.bytesIn} B in, against ${lc0.resyncs[0].bytesIn} B for the first copy`);
    else assert.ok(r.bytesIn > 0.9 * lc0.resyncs[0].bytesIn, "a copy costs a table");
  });
}

test("a card's kept sketches: stale after its first table came in bulk, kept again once the card settles; a route processor's too", async () => {
  const events: Record<string, unknown>[] = [];
  const rp0 = node({ id: "rp0", role: "rp", index: 0, routeProcessors: [], sources: [{ protocol: "bgp", distance: 20, generate: { v4: 20000, v6: 2000, seed: 4 } }] });
  const lc0 = new Node({ firmware, timers, memoryMiB: 16, id: "lc0", role: "lc", servers: ["rp0"], log: (l) => events.push(l) });
  const c: Chassis = { nodes: new Map([["rp0", rp0], ["lc0", lc0]]), links: new Map() };
  await rp0.loadSources();
  wire(c, "lc0", "rp0");
  await until("lc0 holds rp0's table", () => lc0.fib.digest(4) === rp0.fib.digest(4) && lc0.fib.digest(6) === rp0.fib.digest(6));
  assert.is(lc0.status().sketch, "stale", "20000 routes came in batches too large to keep the sketch up through");
  await until("lc0 settled", () => lc0.status().sketch === "kept" && rp0.status().sketch === "kept", 5000);
  assert.is(events.filter((e) => e.event === "sketches refreshed").length, 1);
  // Kept up from now on: a small change leaves it current, and it is the table's sketch.
  await rp0.churn(50, 20000, 3);
  await until("lc0 has the churn", () => lc0.fib.digest(4) === rp0.fib.digest(4) && lc0.fib.digest(6) === rp0.fib.digest(6));
  assert.is(lc0.status().sketch, "kept");
  for (const f of [4, 6] as const) assert.equal(lc0.fib.sketch(f, 3 * 1260), lc0.fib.sketch(f, 3 * 1260, lc0.fib.records(f)), `IPv${f}`);
  assert.is(node({ id: "npu", role: "npu", memoryMiB: 6, servers: [] }).status().sketch, "none", "6 MiB is too little to keep 1 MB of sketches");
});

test("a card whose table is a point in its new server's history catches up from there: a failover after the route processors drifted apart", async () => {
  const c = await chassis();
  await until("convergence", () => converged(c));
  const lc0 = c.nodes.get("lc0")!, rp1 = c.nodes.get("rp1")!, npu = c.nodes.get("lc0.npu0")!;
  c.links.get("rp1>rp0")!.cut();
  await rp1.churn(3, 1000, 5);
  const differ = [4, 6].reduce((n, f) => n + lc0.fib.diff(f as 4 | 6, lc0.fib.records(f as 4 | 6), rp1.fib.records(f as 4 | 6)).changes.length / (f === 4 ? 3 : 6), 0);
  assert.ok(differ > 0, "rp1 moved on without rp0");
  const npuBefore = npu.counters.routesIn;
  for (const [name, link] of c.links) if (name.startsWith("lc0>rp0")) link.cut();
  await until("failover", () => lc0.status().active === "rp1" && lc0.resyncs.length === 2);
  const r = lc0.resyncs[1];
  assert.is(r.mode, "catch-up", "lc0's table is rp1's as it was before the split");
  assert.is(r.diffEntries, differ);
  assert.ok(r.bytesIn < 400, `${r.bytesIn} B in: the updates since then`);
  await until("lc0 and its engine equal to rp1", () => [4, 6].every((f) => lc0.fib.digest(f as 4 | 6) === subsetDigest(rp1.fib, lc0.subset, f as 4 | 6) && npu.fib.digest(f as 4 | 6) === lc0.fib.digest(f as 4 | 6)));
  assert.is(npu.counters.routesIn - npuBefore, differ);
});

test("a card that comes back to the server it followed catches up from its sequence; beyond the backlog it resyncs by digest", async () => {
  for (const backlogBytes of [8 << 20, 64]) {
    const c: Chassis = { nodes: new Map(), links: new Map() };
    const add = (n: Node) => c.nodes.set(n.id, n);
    add(node({ id: "rp0", role: "rp", index: 0, backlogBytes, sources: [{ protocol: "bgp", distance: 20, generate: { v4: 3000, v6: 500, seed: 2 } }] }));
    add(node({ id: "lc0", role: "lc", servers: ["rp0"] }));
    add(node({ id: "lc0.npu0", role: "npu", servers: ["lc0"] }));
    const rp0 = c.nodes.get("rp0")!, lc0 = c.nodes.get("lc0")!, npu = c.nodes.get("lc0.npu0")!;
    await rp0.loadSources();
    wire(c, "lc0", "rp0");
    wire(c, "lc0.npu0", "lc0");
    const equal = () => [4, 6].every((f) => lc0.fib.digest(f as 4 | 6) === rp0.fib.digest(f as 4 | 6) && npu.fib.digest(f as 4 | 6) === rp0.fib.digest(f as 4 | 6));
    await until("convergence", equal);
    c.links.get("lc0>rp0")!.cut();
    await until("lc0 on its own", () => lc0.status().active === null);
    assert.ok(lc0.status().stale, "no server: the table is kept, marked stale");
    assert.is(lc0.fib.count(4), rp0.fib.count(4), "and nothing was flushed");
    await rp0.churn(300, 30000, 4);
    const npuBefore = npu.counters.routesIn;
    wire(c, "lc0", "rp0");
    await until("lc0 back and equal", () => lc0.status().active === "rp0" && lc0.resyncs.length === 2 && equal());
    const r = lc0.resyncs[1];
    if (backlogBytes > 64) {
      assert.is(r.mode, "catch-up");
      assert.ok(r.bytesIn < 300 * 12, `${r.bytesIn} B: the missed updates only`);
    } else {
      assert.is(r.mode, "digest", "the backlog no longer held them");
      assert.ok(r.diffEntries > 200 && r.diffEntries <= 300, `${r.diffEntries} entries differed`);
    }
    assert.ok(npu.counters.routesIn - npuBefore <= 300, "the engine hears only the changes");
  }
});

test("a peer update lost on the way is noticed by its sequence: the peer exchange starts over", async () => {
  const events: Record<string, unknown>[] = [];
  const c: Chassis = { nodes: new Map(), links: new Map() };
  const add = (n: Node) => c.nodes.set(n.id, n);
  add(node({ id: "rp0", role: "rp", index: 0, sources: [{ protocol: "bgp", distance: 20, generate: { v4: 2000, v6: 100, seed: 4 } }] }));
  add(new Node({ firmware, timers, memoryMiB: 16, id: "rp1", role: "rp", index: 1, servers: ["rp0"], sources: [], log: (l) => events.push(l) }));
  for (const rp of c.nodes.values()) await rp.loadSources();
  wire(c, "rp1", "rp0");
  const rp0 = c.nodes.get("rp0")!, rp1 = c.nodes.get("rp1")!;
  await until("rp1 holds rp0's source", () => rp1.fib.digest(4) === rp0.fib.digest(4) && rp1.fib.count(4) > 0);
  // One batch, which is also the last: only the heartbeat that follows can tell it was lost.
  c.links.get("rp1>rp0")!.impair({ loss: 1 });
  await rp0.churn(10, 1e6, 2);
  await new Promise((r) => setTimeout(r, 20));
  c.links.get("rp1>rp0")!.impair({ loss: 0 });
  await until("the tail loss noticed", () => events.some((e) => e.event === "peer update out of sequence"));
  // Under load a session may also close for another reason first; the tail loss must be one of them.
  const closed = events.filter((e) => e.event === "state" && e.to === "closed").map((e) => String(e.reason));
  assert.ok(closed.some((r) => /peer updates of rp0\/bgp up to \d+ sent, \d+ arrived: registering again/.test(r)), JSON.stringify(closed));
  // A gap in the middle: the next update (or heartbeat) shows it.
  events.length = 0;
  wire(c, "rp1", "rp0");
  await until("rp1 holds rp0's source again", () => rp1.fib.digest(4) === rp0.fib.digest(4));
  c.links.get("rp1>rp0")!.impair({ loss: 1 });
  await rp0.churn(10, 1e6, 3);
  c.links.get("rp1>rp0")!.impair({ loss: 0 });
  await rp0.churn(10, 1e6, 4);
  await until("the gap noticed", () => events.some((e) => e.event === "peer update out of sequence"));
  const closedAgain = events.filter((e) => e.event === "state" && e.to === "closed").map((e) => String(e.reason));
  assert.ok(closedAgain.some((r) => /peer update(s)? (.* )?of rp0\/bgp/.test(r)), JSON.stringify(closedAgain));
});

test("a source's changes made while its snapshot still goes to a peer wait behind it: the peer ends equal, with no gap", async () => {
  const events: Record<string, unknown>[] = [];
  const rp0 = node({ id: "rp0", role: "rp", index: 0, memoryMiB: 64, sources: [{ protocol: "bgp", distance: 20, generate: { v4: 150000, v6: 20000, seed: 6 } }] });
  const rp1 = new Node({ firmware, timers, memoryMiB: 64, id: "rp1", role: "rp", index: 1, servers: ["rp0"], sources: [], log: (l) => events.push(l) });
  for (const rp of [rp0, rp1]) await rp.loadSources();
  const c: Chassis = { nodes: new Map([["rp0", rp0], ["rp1", rp1]]), links: new Map() };
  wire(c, "rp1", "rp0");
  // Changes all through the exchange: the snapshot of 170k routes goes in many slices.
  await rp0.churn(3000, 20000, 8);
  await until("rp1 holds rp0's source as it is now", () => rp1.fib.digest(4) === rp0.fib.digest(4) && rp1.fib.digest(6) === rp0.fib.digest(6), 20000);
  assert.equal(events.filter((e) => e.event === "peer update out of sequence" || e.event === "peer snapshot refused"), []);
  assert.ok(!events.some((e) => e.event === "state" && e.to === "closed"), "the exchange never started over");
});

test("a peer snapshot whose end was lost is not waited for forever: the peer exchange starts over", async () => {
  const events: Record<string, unknown>[] = [];
  const rp0 = node({ id: "rp0", role: "rp", index: 0, sources: [{ protocol: "bgp", distance: 20, generate: { v4: 200, v6: 0, seed: 3 } }] });
  const rp1 = new Node({ firmware, timers, memoryMiB: 16, id: "rp1", role: "rp", index: 1, servers: ["rp0"], sources: [], log: (l) => events.push(l) });
  for (const rp of [rp0, rp1]) await rp.loadSources();
  const link = new SimLink({ latencyMs: 1 });
  rp0.accept(new FramedLink(link.a));
  rp1.connect("rp0", losingFirst(new FramedLink(link.b), "snapshotEnd").link);
  await until("the stall noticed", () => events.some((e) => e.event === "peer snapshot stalled"), 8000);
  assert.match(String(events.find((e) => e.event === "state" && e.to === "closed")?.reason), /a peer snapshot has not moved for \d+ ms: registering again/);
});

test("a grant lost on the way: the client says the same hello again and the server grants it once more", async () => {
  const rp0 = node({ id: "rp0", role: "rp", index: 0, sources: [{ protocol: "bgp", distance: 20, generate: { v4: 100, v6: 0, seed: 1 } }] });
  const lc0 = node({ id: "lc0", role: "lc", servers: ["rp0"] });
  await rp0.loadSources();
  const link = new SimLink({ latencyMs: 1 });
  // The server's first grant never reaches the client.
  const client = losingFirst(new FramedLink(link.b), "grant");
  const served = rp0.accept(new FramedLink(link.a));
  lc0.connect("rp0", client.link);
  await until("lc0 holds the table", () => lc0.fib.count(4) === 100);
  assert.ok(client.lost());
  assert.is(rp0.status().clients.length, 1, "one session: the repeated hello did not start another");
  assert.is(served.state, "active");
});

test("a digest resync that ends unequal is not trusted: the next activation asks for a copy", () => {
  const lc = node({ id: "lc9", role: "lc", servers: ["rp0"] });
  assert.is(lc.resyncMode(), "copy", "an empty table asks for a copy: it would get every route either way");
  lc.fib.set(Prefix.mustParse("192.0.2.0/24"), 1);
  assert.is(lc.resyncMode(), "digest");
  assert.ok(lc.rangeSynced({ server: "rp0" } as never, 4, lc.fib.digest(4)), "equal: done");
  assert.not.ok(lc.rangeSynced({ server: "rp0" } as never, 4, lc.fib.digest(4) + 1n));
  assert.is(lc.resyncMode(), "copy");
  assert.is(lc.resyncMode(), "digest", "once");
});

test("a digest resync cut short (a lost request on a lossy line) is followed by a copy", async () => {
  const rp0 = node({ id: "rp0", role: "rp", index: 0, backlogBytes: 64, sources: [{ protocol: "bgp", distance: 20, generate: { v4: 3000, v6: 0, seed: 1 } }] });
  const lc0 = node({ id: "lc0", role: "lc", servers: ["rp0"] });
  await rp0.loadSources();
  let link = new SimLink({ latencyMs: 1 });
  rp0.accept(new FramedLink(link.a));
  lc0.connect("rp0", new FramedLink(link.b));
  await until("lc0 holds the table", () => lc0.fib.count(4) === 3000);
  link.cut();
  await until("lc0 on its own", () => lc0.status().active === null);
  await rp0.churn(500, 1e6, 5);
  // Back on a fresh link (the backlog no longer holds what lc0 missed: digest resync),
  // whose every range request is lost.
  link = new SimLink({ latencyMs: 1 });
  rp0.accept(new FramedLink(link.a));
  const client = new FramedLink(link.b);
  const send = client.send.bind(client);
  client.send = (m) => (m.type === "rangeDigests" ? true : send(m));
  const session = lc0.connect("rp0", client);
  await until("the digest resync under way", () => session.mode === "digest");
  session.close("the test gives up on it");
  assert.is(lc0.resyncMode(), "copy");
});

test("failback: a card moves back to its preferred server once it has stayed ready for failbackMs, and never with -1", async () => {
  const c: Chassis = { nodes: new Map(), links: new Map() };
  const add = (n: Node) => c.nodes.set(n.id, n);
  add(node({ id: "rp0", role: "rp", index: 0, sources: [{ protocol: "bgp", distance: 20, generate: { v4: 2000, v6: 200, seed: 9 } }] }));
  add(node({ id: "rp1", role: "rp", index: 1, servers: ["rp0"], sources: [] }));
  add(node({ id: "lc0", role: "lc", servers: ["rp0", "rp1"], failbackMs: 300 }));
  add(node({ id: "lc1", role: "lc", servers: ["rp0", "rp1"], failbackMs: -1 }));
  for (const rp of ["rp0", "rp1"]) await c.nodes.get(rp)!.loadSources();
  wire(c, "rp1", "rp0");
  // The preferred server is not there yet: both cards take their tables from rp1.
  for (const lc of ["lc0", "lc1"]) wire(c, lc, "rp1");
  await until("convergence on rp1", () => converged(c) && c.nodes.get("lc0")!.status().active === "rp1" && c.nodes.get("lc1")!.status().active === "rp1");
  const readyAt = performance.now();
  for (const lc of ["lc0", "lc1"]) wire(c, lc, "rp0");
  const lc0 = c.nodes.get("lc0")!;
  await until("lc0 back on rp0", () => lc0.status().active === "rp0" && lc0.resyncs.length === 2);
  assert.ok(performance.now() - readyAt >= 300, "not before rp0 had been ready for failbackMs");
  const back = lc0.resyncs[1];
  assert.equal([back.from, back.to, back.diffEntries], ["rp1", "rp0", 0], "moving back costs nothing when the servers agree");
  await new Promise((r) => setTimeout(r, 400));
  assert.is(c.nodes.get("lc1")!.status().active, "rp1", "failbackMs -1: lc1 stays where it is");
  assert.ok(converged(c));
});

test("failback: a card whose table is empty moves to its preferred server at once, not after failbackMs", async () => {
  const c: Chassis = { nodes: new Map(), links: new Map() };
  const add = (n: Node) => c.nodes.set(n.id, n);
  add(node({ id: "rp0", role: "rp", index: 0, sources: [{ protocol: "bgp", distance: 20, generate: { v4: 2000, v6: 200, seed: 9 } }] }));
  // A route processor still without routes: no sources, and no peer yet.
  add(node({ id: "rp1", role: "rp", index: 1, sources: [] }));
  add(node({ id: "lc0", role: "lc", servers: ["rp0", "rp1"], failbackMs: 60000 }));
  for (const rp of ["rp0", "rp1"]) await c.nodes.get(rp)!.loadSources();
  const lc0 = c.nodes.get("lc0")!;
  wire(c, "lc0", "rp1");
  await until("lc0 active on the empty rp1", () => lc0.status().active === "rp1" && lc0.resyncs.length === 1);
  wire(c, "lc0", "rp0");
  await until("lc0 on rp0 with its table", () => lc0.status().active === "rp0" && lc0.fib.digest(4) === c.nodes.get("rp0")!.fib.digest(4), 3000);
  assert.is(lc0.fib.count(4), 2000);
});

test("a route processor still taking in its peer's tables does not serve: a card that prefers it moves to it only once it has them", async () => {
  const events: Record<string, unknown>[] = [];
  const rp0 = node({ id: "rp0", role: "rp", index: 0, memoryMiB: 64, sources: [{ protocol: "bgp", distance: 20, generate: { v4: 120000, v6: 10000, seed: 7 } }] });
  const rp1 = new Node({ firmware, timers, memoryMiB: 64, id: "rp1", role: "rp", index: 1, servers: ["rp0"], sources: [], log: (l) => events.push(l) });
  // Moves back to rp1 the moment it is ready: only readiness stands between it and a half-filled table.
  const lc0 = node({ id: "lc0", role: "lc", memoryMiB: 64, servers: ["rp1", "rp0"], failbackMs: 0 });
  const c: Chassis = { nodes: new Map([["rp0", rp0], ["rp1", rp1], ["lc0", lc0]]), links: new Map() };
  await rp0.loadSources();
  wire(c, "lc0", "rp0");
  const full = rp0.fib.count(4) + rp0.fib.count(6);
  await until("lc0 holds rp0's table", () => lc0.fib.count(4) + lc0.fib.count(6) === full, 20000);
  // rp1 comes up (say it restarted) and takes in rp0's table over many slices, while lc0 registers with it.
  await rp1.loadSources();
  wire(c, "rp1", "rp0");
  wire(c, "lc0", "rp1");
  let fewest = full;
  const watch = setInterval(() => { fewest = Math.min(fewest, lc0.fib.count(4) + lc0.fib.count(6)); }, 0);
  try {
    await until("lc0 on rp1", () => lc0.status().active === "rp1" && lc0.resyncs.length === 2, 20000);
  } finally {
    clearInterval(watch);
  }
  assert.is(fewest, full, "lc0 never lost a route to rp1's half-filled table");
  assert.is(lc0.resyncs[1].diffEntries, 0, "rp1 had the whole table when lc0 moved to it");
  const serving = events.find((e) => e.event === "serving");
  assert.match(String(serving?.reason), /holds the tables of rp0/);
  assert.ok(events.findIndex((e) => e.event === "peer source synced" && e.family === 6) < events.indexOf(serving!), "serving only after rp0's last table arrived");
});

test("a card does not activate a server that does not serve yet while another serves", async () => {
  const rp0 = node({ id: "rp0", role: "rp", index: 0, memoryMiB: 64, sources: [{ protocol: "bgp", distance: 20, generate: { v4: 120000, v6: 10000, seed: 7 } }] });
  const rp1 = node({ id: "rp1", role: "rp", index: 1, memoryMiB: 64, servers: ["rp0"], sources: [] });
  const lc0 = node({ id: "lc0", role: "lc", memoryMiB: 64, servers: ["rp1", "rp0"], failbackMs: 60000 });
  const c: Chassis = { nodes: new Map([["rp0", rp0], ["rp1", rp1], ["lc0", lc0]]), links: new Map() };
  for (const rp of [rp0, rp1]) await rp.loadSources();
  // A cold start: rp1 takes in rp0's table while lc0 registers with both, rp1 first.
  wire(c, "rp1", "rp0");
  wire(c, "lc0", "rp1");
  wire(c, "lc0", "rp0");
  await until("lc0 holds the table", () => lc0.fib.count(4) === rp0.fib.count(4) && lc0.resyncs.length === 1, 20000);
  assert.is(lc0.resyncs[0].to, "rp0", "the table came from the server that had it, not after waiting on the preferred one");
});

test("a peer and a card that register while a route processor loads its table get it whole once it is loaded", async () => {
  const events: Record<string, unknown>[] = [];
  const rp0 = node({ id: "rp0", role: "rp", index: 0, memoryMiB: 64, sources: [{ protocol: "bgp", distance: 20, generate: { v4: 120000, v6: 10000, seed: 8 } }] });
  const rp1 = new Node({ firmware, timers, memoryMiB: 64, id: "rp1", role: "rp", index: 1, servers: ["rp0"], sources: [], log: (l) => events.push(l) });
  const lc0 = node({ id: "lc0", role: "lc", memoryMiB: 64, servers: ["rp0"] });
  const c: Chassis = { nodes: new Map([["rp0", rp0], ["rp1", rp1], ["lc0", lc0]]), links: new Map() };
  await rp1.loadSources();
  wire(c, "rp1", "rp0");
  wire(c, "lc0", "rp0");
  await until("both registered", () => rp0.status().clients.length === 2 && lc0.status().sessions[0]?.state === "standby");
  await rp0.loadSources();
  assert.is(lc0.resyncs.length, 0, "lc0 did not activate rp0 while it loaded");
  const full = rp0.fib.count(4) + rp0.fib.count(6);
  // The peer's table equals rp0's a turn before it says so: wait for both.
  const synced = () => events.filter((e) => e.event === "peer source synced").map((e) => e.differences);
  await until("rp1 and lc0 hold rp0's table", () => rp1.fib.digest(4) === rp0.fib.digest(4) && rp1.fib.digest(6) === rp0.fib.digest(6) && synced().length === 2 && lc0.resyncs.length === 1, 20000);
  assert.is(lc0.fib.count(4) + lc0.fib.count(6), full);
  assert.is(lc0.resyncs[0].mode, "catch-up", "the load's own updates, from the feed lc0 registered for before it began");
  // The peer took the table as its snapshots, nothing twice.
  assert.equal(synced(), [120000, 10000]);
  assert.ok(!events.some((e) => e.event === "state" && e.to === "closed"), "the exchange never started over");
});

test("a route processor whose peer is not there serves without it after a wait", async () => {
  const events: Record<string, unknown>[] = [];
  const rp1 = new Node({ firmware, timers, id: "rp1", role: "rp", index: 1, servers: ["rp0"], sources: [{ protocol: "ospf", distance: 110, routes: join(dir, "igp.txt") }], log: (l) => events.push(l) });
  const lc0 = node({ id: "lc0", role: "lc", servers: ["rp0", "rp1"] });
  const c: Chassis = { nodes: new Map([["rp1", rp1], ["lc0", lc0]]), links: new Map() };
  const loaded = performance.now();
  await rp1.loadSources();
  wire(c, "lc0", "rp1");
  await until("lc0 holds rp1's table", () => lc0.fib.count(4) === 3 && lc0.status().active === "rp1");
  const waited = performance.now() - loaded;
  const limit = timers.heartbeatMs * timers.deadAfter;
  assert.ok(waited >= 10 * limit, `rp1 waited for rp0 (${Math.round(waited)} ms)`);
  assert.match(String(events.find((e) => e.event === "serving")?.reason), /rp0 not there within \d+ ms: serving without their tables/);
});

test("silence: a silent active server is failed over from when another is ready; with nowhere to go the card waits, keeping its session", async () => {
  const c = await chassis();
  await until("convergence", () => converged(c));
  const lc0 = c.nodes.get("lc0")!;
  const npu = c.nodes.get("lc0.npu0")!;
  const limit = timers.heartbeatMs * timers.deadAfter;

  // The forwarding engine's only server goes quiet (the stream stays up) for 5 limits.
  const npuLink = c.links.get("lc0.npu0>lc0")!;
  npuLink.impair({ loss: 1 });
  await until("the line card seen as silent", () => npu.status().sessions[0].suspect);
  assert.is(npu.status().active, "lc0", "nowhere to go: it stays with its server");
  await new Promise((r) => setTimeout(r, 4 * limit));
  npuLink.impair({ loss: 0 });
  await until("the line card heard again", () => !npu.status().sessions[0].suspect);
  assert.is(npu.resyncs.length, 1, "no resync: only the first sync");
  assert.is(npu.status().failovers, 0);

  // lc0's active route processor goes quiet: it fails over to rp1 within the limit and a bit.
  const silentAt = performance.now();
  c.links.get("lc0>rp0")!.impair({ loss: 1 });
  await until("failover from the silent server", () => lc0.status().active === "rp1" && lc0.resyncs.length === 2);
  const r = lc0.resyncs[1];
  assert.is(r.from, "rp0");
  assert.ok(r.detectMs >= limit && r.detectMs < limit + 100, `detected after ${r.detectMs} ms of silence`);
  assert.ok(performance.now() - silentAt < limit + 500, "failed over promptly");
  assert.is(r.diffEntries, 0);
  await until("convergence after failover", () => converged(c));
});

test.run();
