import { test } from "uvu";
import * as assert from "uvu/assert";
import { Fib, FirmwareError, NO_ROUTE, SKETCH_KEPT_CELLS } from "../host/fib.ts";
import { firmwareImage } from "../host/firmware.ts";
import { tableDigest } from "../host/digest.ts";
import { generateRoutes } from "../host/generate.ts";
import type { Route } from "../host/routefile.ts";
import { Addr, Prefix } from "../host/netip.ts";
import { ReferenceTable } from "../host/reference.ts";
import { newFib } from "./support.ts";

const P = Prefix.mustParse;
const A = Addr.mustParse;

test("longest prefix wins, and removal falls back to the covering route", () => {
  const fib = newFib();
  assert.is(fib.set(P("0.0.0.0/0"), 1), "ok");
  assert.is(fib.set(P("10.0.0.0/8"), 2), "ok");
  assert.is(fib.set(P("10.1.0.0/16"), 3), "ok");
  assert.is(fib.set(P("10.1.2.0/24"), 4), "ok");
  assert.is(fib.set(P("10.1.2.3/32"), 5), "ok");
  assert.is(fib.lookup(A("10.1.2.3")), 5);
  assert.is(fib.lookup(A("10.1.2.4")), 4);
  assert.is(fib.lookup(A("10.1.3.0")), 3);
  assert.is(fib.lookup(A("10.2.0.0")), 2);
  assert.is(fib.lookup(A("11.0.0.0")), 1);
  assert.is(fib.remove(P("10.1.2.0/24")), "ok");
  assert.is(fib.lookup(A("10.1.2.4")), 3);
  assert.is(fib.lookup(A("10.1.2.3")), 5);
  assert.is(fib.remove(P("0.0.0.0/0")), "ok");
  assert.is(fib.lookup(A("11.0.0.0")), undefined);
  assert.is(fib.count(4), 3);
});

test("replace, get, not-found and invalid", () => {
  const fib = newFib();
  assert.is(fib.set(P("192.0.2.0/24"), 7), "ok");
  assert.is(fib.set(P("192.0.2.0/24"), 8), "ok");
  assert.is(fib.get(P("192.0.2.0/24")), 8);
  assert.is(fib.count(4), 1);
  assert.is(fib.remove(P("192.0.2.0/25")), "not-found");
  assert.is(fib.remove(P("198.51.100.0/24")), "not-found");
  assert.is(fib.get(P("192.0.2.0/25")), undefined);
  assert.is(fib.set(P("192.0.2.0/24"), NO_ROUTE), "invalid");
  assert.is(fib.set(P("192.0.2.0/24"), -1), "invalid");
  assert.is(fib.set(P("192.0.2.0/24"), 1.5), "invalid");
  assert.is(fib.get(P("192.0.2.0/24")), 8);
});

test("next-hop ids use all 24 bits", () => {
  const fib = newFib();
  fib.set(P("10.0.0.0/8"), 0xfffffe);
  fib.set(P("2001:db8::/32"), 0x100000);
  assert.is(fib.lookup(A("10.9.9.9")), 0xfffffe);
  assert.is(fib.lookup(A("2001:db8::1")), 0x100000);
});

test("IPv6: /0, /64, /128 and the word boundaries", () => {
  const fib = newFib();
  fib.set(P("::/0"), 1);
  fib.set(P("2001:db8::/32"), 2);
  fib.set(P("2001:db8:0:1::/64"), 3);
  fib.set(P("2001:db8:0:1::/65"), 4);
  fib.set(P("2001:db8:0:1::1/128"), 5);
  assert.is(fib.lookup(A("2001:db8:0:1::1")), 5);
  assert.is(fib.lookup(A("2001:db8:0:1::2")), 4);
  assert.is(fib.lookup(A("2001:db8:0:1:8000::")), 3);
  assert.is(fib.lookup(A("2001:db8:0:2::")), 2);
  assert.is(fib.lookup(A("3000::")), 1);
  assert.is(fib.count(6), 5);
  assert.is(fib.count(4), 0);
});

test("batch lookups and batch updates agree with single calls", () => {
  const fib = newFib();
  const routes = generateRoutes({ family: 4, routes: 5000, seed: 9 });
  const statuses = fib.apply(routes.map((r, i) => ({ prefix: r.prefix, nh: i })));
  assert.ok(statuses.every((s) => s === "ok"));
  const addrs = new Uint32Array(routes.map((r) => r.prefix.last().w0));
  const out = new Uint32Array(addrs.length);
  fib.lookupBatch(4, addrs, out);
  for (let i = 0; i < addrs.length; i++) assert.is(out[i], fib.lookup4(addrs[i]));
  const removed = fib.apply(routes.slice(0, 100).map((r) => ({ prefix: r.prefix })));
  assert.ok(removed.every((s) => s === "ok"));
  assert.is(fib.count(4), 4900);
  assert.equal(fib.apply([{ prefix: routes[0].prefix }]), ["not-found"]);
});

test("a batch in linear memory answers as lookupBatch, for both families", () => {
  const fib = newFib({ ioBytes: 1 << 20 });
  const v4 = generateRoutes({ family: 4, routes: 3000, seed: 3 });
  const v6 = generateRoutes({ family: 6, routes: 3000, seed: 3 });
  [...v4, ...v6].forEach((r, i) => fib.set(r.prefix, i));
  for (const [family, routes] of [[4, v4], [6, v6]] as const) {
    const words = family === 4 ? 1 : 4;
    const addrs = new Uint32Array(routes.flatMap((r) => [r.prefix.last(), r.prefix.first()]).flatMap((a) => (family === 4 ? [a.w0] : [a.w0, a.w1, a.w2, a.w3])));
    const n = addrs.length / words;
    const expected = new Uint32Array(n);
    fib.lookupBatch(family, addrs, expected);
    const batch = fib.batch(family, n);
    batch.input.set(addrs);
    batch.run();
    assert.equal([...batch.output], [...expected]);
  }
  assert.throws(() => fib.batch(4, 1 << 20), /I\/O buffer/);
});

test("the digest is the host's digest of the same routes, whatever the order", () => {
  const a = newFib();
  const b = newFib();
  const routes = [...generateRoutes({ family: 4, routes: 3000, seed: 2 }), ...generateRoutes({ family: 6, routes: 3000, seed: 2 })];
  routes.forEach((r, i) => a.set(r.prefix, i % 50));
  [...routes.keys()].reverse().forEach((i) => b.set(routes[i].prefix, i % 50));
  for (const family of [4, 6] as const) {
    assert.is(a.digest(family), b.digest(family));
    const expected = tableDigest(routes.map((r, i) => [r.prefix, i % 50] as const).filter(([p]) => p.family === family));
    assert.is(a.digest(family), expected);
  }
  a.set(routes[0].prefix, 49 - (0 % 50));
  assert.is.not(a.digest(4), b.digest(4));
});

test("routes come back in prefix order, shorter first at the same address", () => {
  const fib = newFib();
  for (const [p, nh] of [["10.0.0.0/16", 3], ["10.0.0.0/8", 2], ["0.0.0.0/0", 1], ["9.255.255.255/32", 4], ["10.0.0.0/24", 5]] as const) fib.set(P(p), nh);
  assert.equal([...fib.routes(4)].map(([p, nh]) => `${p}=${nh}`), ["0.0.0.0/0=1", "9.255.255.255/32=4", "10.0.0.0/8=2", "10.0.0.0/16=3", "10.0.0.0/24=5"]);
});

test("a frozen copy keeps the tables as they were while they change, and reads like them", () => {
  const fib = newFib({ memoryMiB: 64 });
  const routes = { 4: generateRoutes({ family: 4, routes: 20000, seed: 4 }), 6: generateRoutes({ family: 6, routes: 5000, seed: 4 }) };
  for (const family of [4, 6] as const) routes[family].forEach((r, i) => fib.set(r.prefix, i % 50));
  const before = { 4: fib.records(4), 6: fib.records(6), digest4: fib.digest(4), digest6: fib.digest(6) };
  const copy = fib.frozen();
  fib.remove(routes[4][7].prefix);
  fib.set(P("2001:db8::/32"), 9);
  for (let i = 0; i < 3000; i++) fib.set(routes[4][i].prefix, 49 - (i % 50)); // and memory grows meanwhile
  assert.equal([copy.digest(4), copy.digest(6)], [before.digest4, before.digest6]);
  assert.equal(copy.records(4), before[4]);
  assert.equal(copy.records(6), before[6]);
  assert.is(copy.lookup(routes[4][7].prefix.addr), 7);
  assert.is.not(fib.digest(4), before.digest4, "the table itself moved on");
  assert.equal([...copy.snapshotChunks(4, 65536)].reduce((n, c) => n + c.count, 0), 20000);
});

test("a table that outgrows the card is refused route by route, and keeps answering", () => {
  const generated = generateRoutes({ family: 4, routes: 200000, seed: 5 });
  // In prefix order too, where whole subtrees are built at once and a build that does not
  // fit falls back to single sets.
  for (const routes of [generated, [...generated].sort((a, b) => a.prefix.compare(b.prefix))]) outgrow(routes);
});

function outgrow(routes: readonly Route[]): void {
  const fib = newFib({ memoryMiB: 2, ioBytes: 64 * 1024 });
  const statuses = fib.apply(routes.map((r, i) => ({ prefix: r.prefix, nh: i % 1000 })));
  const full = statuses.filter((s) => s === "full").length;
  assert.ok(full > 0, "some routes must not fit in 2 MiB");
  assert.ok(statuses.every((s) => s === "ok" || s === "full"));
  assert.is(fib.refused(4), full);
  const golden = new ReferenceTable();
  routes.forEach((r, i) => statuses[i] === "ok" && golden.set(r.prefix, i % 1000));
  assert.is(fib.count(4), golden.count(4));
  assert.is(fib.digest(4), tableDigest(golden.routes(4)));
  for (const r of routes.slice(0, 20000)) {
    for (const a of [r.prefix.first(), r.prefix.last()]) assert.is(fib.lookup(a), golden.lookup(a), String(a));
  }
  // Freeing room lets refused routes in again.
  const accepted = routes.filter((_, i) => statuses[i] === "ok").slice(0, 20000);
  for (const r of accepted) assert.is(fib.remove(r.prefix), "ok");
  const refused = routes.filter((_, i) => statuses[i] === "full").slice(0, 100);
  for (const r of refused) assert.is(fib.set(r.prefix, 1), "ok");
}

test("the kept sketches give their memory to routes before any route is refused; small cards keep none", () => {
  assert.is(newFib({ memoryMiB: 4, keepSketch: true }).keptSketchCells(4), 0, "1 MB of sketches is too much of 4 MiB");
  assert.is(newFib({ memoryMiB: 16 }).keptSketchCells(6), 0, "kept only when asked for");
  const fib = newFib({ memoryMiB: 16, ioBytes: 64 * 1024, keepSketch: true });
  assert.equal([fib.keptSketchCells(4), fib.keptSketchCells(6)], [SKETCH_KEPT_CELLS, SKETCH_KEPT_CELLS]);
  const routes = generateRoutes({ family: 6, routes: 500000, seed: 9 });
  let gaveWay = false;
  for (let i = 0; i < routes.length && fib.refused(6) === 0; i += 10000) {
    const statuses = fib.apply(routes.slice(i, i + 10000).map((r, k) => ({ prefix: r.prefix, nh: k % 100 })));
    if (!gaveWay && fib.keptSketchCells(6) === 0) {
      gaveWay = true;
      assert.ok(statuses.every((s) => s === "ok"), "the batch that needed the sketches' memory got it");
    }
  }
  assert.ok(gaveWay && fib.refused(6) > 0, "the table outgrew 16 MiB, and the sketches went first");
  assert.is(fib.keptSketchCells(4), 0, "both families' sketches went");
  assert.equal(fib.sketch(6, 30), fib.sketch(6, 30, fib.records(6)), "a sketch is walked instead");
});

test("images that are not firmware are refused with a reason", () => {
  assert.throws(() => Fib.fromImage(new Uint8Array([1, 2, 3])), (e: unknown) => e instanceof FirmwareError && /not a usable firmware image/.test((e as Error).message));
  const empty = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
  assert.throws(() => Fib.fromImage(empty), (e: unknown) => e instanceof FirmwareError && /lacks exports: abiVersion/.test((e as Error).message));
  assert.throws(() => Fib.fromImage(firmwareImage(), { memoryMiB: 1 }), (e: unknown) => e instanceof FirmwareError && /cannot hold/.test((e as Error).message));
});

test("clear empties a family and frees its nodes", () => {
  const fib = newFib();
  const routes = generateRoutes({ family: 6, routes: 20000, seed: 4 });
  const before = fib.memoryUsed(6);
  routes.forEach((r) => fib.set(r.prefix, 1));
  fib.set(P("10.0.0.0/8"), 1);
  fib.clear(6);
  assert.is(fib.count(6), 0);
  assert.is(fib.nodes(6), 0);
  assert.is(fib.memoryUsed(6), before);
  assert.is(fib.digest(6), 0n);
  assert.is(fib.lookup(A("10.1.1.1")), 1);
});

// Blocks freed one after another in address order (a table cleared, a peer's routes all
// withdrawn) each merge with the free run left by the ones before: finding where that run
// starts must not mean scanning it. 262,144 single-route nodes side by side: a scan makes
// either job take most of a second here, the sizes at the ends of free blocks a few ms.
test("freeing a table block by block in address order takes linear time", () => {
  const n = 1 << 18;
  const sets = new Uint32Array(n * 3);
  for (let i = 0; i < n; i++) sets.set([1 | (32 << 8), (i * 16384 + 1) >>> 0, i % 7], i * 3);
  const removes = sets.map((w, k) => (k % 3 === 0 ? 2 | (32 << 8) : w));
  const fib = newFib({ memoryMiB: 64 });
  const empty = fib.allocatedBytes();
  for (const job of ["clear", "remove"]) {
    assert.is(fib.applyRecords(4, sets.slice()), n);
    const t = performance.now();
    if (job === "clear") fib.clear(4);
    else assert.is(fib.applyRecords(4, removes.slice()), n);
    const ms = performance.now() - t;
    assert.ok(ms < 250, `${job} of ${n} routes took ${Math.round(ms)} ms`);
    assert.is(fib.count(4), 0);
    assert.is(fib.allocatedBytes(), empty);
  }
});

test.run();
