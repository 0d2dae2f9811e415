// Forwarding engines: packets looked up and counted per next hop in one WASM call must give
// exactly the answers, and the counts, the golden table gives for the same addresses —
// uniform and Zipf traffic, both families, next hops of two route processors' blocks,
// no-route packets, and next hops the counter layout did not foresee (overflow, never lost).

import { test } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import type { Fib } from "../host/fib.ts";
import { Addr, Prefix, type Family } from "../host/netip.ts";
import { ReferenceTable } from "../host/reference.ts";
import { addressBatch, batchAddress, zipfBatch } from "../host/traffic.ts";
import { ForwardingEngine, longestMatches } from "../firmware-sim/forwarding.ts";
import { NO_ROUTE } from "../host/fib.ts";
import { newFib } from "./support.ts";

const BLOCK = 1 << 20;

/** A table whose next hops come from two blocks (two route processors' next-hop tables). */
function table(family: Family, routes: number, seed: number): { fib: Fib; golden: ReferenceTable; prefixes: Prefix[] } {
  const fib = newFib({ memoryMiB: 64, ioBytes: 4 << 20 });
  const golden = new ReferenceTable();
  const prefixes: Prefix[] = [];
  let x = seed;
  const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
  for (let i = 0; i < routes; i++) {
    const len = family === 4 ? 8 + (next() % 25) : 16 + (next() % 49);
    const addr = family === 4 ? Addr.v4(next()) : Addr.v6(0x20010db8, next(), next(), next());
    const p = Prefix.from(addr, len) as Prefix;
    const nh = (next() % 2) * BLOCK + (next() % 50);
    fib.set(p, nh);
    golden.set(p, nh);
    prefixes.push(p);
  }
  return { fib, golden, prefixes };
}

function goldenCounts(golden: ReferenceTable, family: Family, addrs: Uint32Array): { perNexthop: Map<number, number>; noRoute: number } {
  const perNexthop = new Map<number, number>();
  let noRoute = 0;
  const n = addrs.length / (family === 4 ? 1 : 4);
  for (let i = 0; i < n; i++) {
    const nh = golden.lookup(batchAddress(addrs, family, i));
    if (nh === undefined) noRoute++;
    else perNexthop.set(nh, (perNexthop.get(nh) ?? 0) + 1);
  }
  return { perNexthop, noRoute };
}

function forward(fib: Fib, family: Family, addrs: Uint32Array, nexthops: Iterable<number>) {
  const words = family === 4 ? 1 : 4;
  const n = addrs.length / words;
  const fwd = fib.forwarder(family, n, nexthops);
  fwd.input.set(addrs);
  fwd.run(n);
  return fwd;
}

const sortedEntries = (m: Map<number, number>) => [...m].sort((a, b) => a[0] - b[0]);

for (const family of [4, 6] as const) {
  test(`IPv${family}: counts per next hop equal the golden table's, uniform and Zipf`, () => {
    const { fib, golden, prefixes } = table(family, 3000, 7 + family);
    const nexthops = new Set([...fib.routes(family)].map(([, nh]) => nh));
    for (const addrs of [addressBatch(prefixes, family, 20000, "space", 3), zipfBatch(prefixes, family, 20000, { flows: 500, seed: 3 })]) {
      const fwd = forward(fib, family, addrs, nexthops);
      const got = fwd.counts();
      const want = goldenCounts(golden, family, addrs);
      const n = addrs.length / (family === 4 ? 1 : 4);
      assert.equal([...fwd.answers.subarray(0, n)], Array.from({ length: n }, (_, i) => golden.lookup(batchAddress(addrs, family, i)) ?? NO_ROUTE));
      assert.equal(sortedEntries(got.perNexthop), sortedEntries(want.perNexthop));
      assert.is(got.noRoute, want.noRoute);
      assert.is(got.overflow, 0);
    }
  });
}

test("packets that match no route are counted as such; clear() starts the counts over", () => {
  const fib = newFib({ ioBytes: 1 << 20 });
  fib.set(Prefix.mustParse("10.0.0.0/8"), 3);
  fib.set(Prefix.mustParse("10.1.0.0/16"), BLOCK + 4);
  const addrs = Uint32Array.from(["10.1.2.3", "10.2.0.1", "11.0.0.1", "192.0.2.1", "10.1.0.0"], (a) => Addr.mustParse(a).w0);
  const fwd = forward(fib, 4, addrs, [3, BLOCK + 4]);
  const c = fwd.counts();
  assert.equal(sortedEntries(c.perNexthop), [[3, 1], [BLOCK + 4, 2]]);
  assert.is(c.noRoute, 2);
  fwd.clear();
  assert.equal(fwd.counts(), { perNexthop: new Map(), noRoute: 0, overflow: 0 });
});

test("a next hop the counter layout did not foresee is counted as overflow, not lost", () => {
  const fib = newFib({ ioBytes: 1 << 20 });
  fib.set(Prefix.mustParse("10.0.0.0/8"), 3);
  fib.set(Prefix.mustParse("11.0.0.0/8"), 9);
  fib.set(Prefix.mustParse("12.0.0.0/8"), 2 * BLOCK);
  const addrs = Uint32Array.from(["10.0.0.1", "11.0.0.1", "11.0.0.2", "12.0.0.1"], (a) => Addr.mustParse(a).w0);
  const c = forward(fib, 4, addrs, [3]).counts();   // laid out for next hop 3 only
  assert.equal(sortedEntries(c.perNexthop), [[3, 1]]);
  assert.is(c.overflow, 3);
});

test("Zipf traffic is skewed: the busiest destination carries far more than under uniform traffic", () => {
  const { prefixes } = table(4, 3000, 11);
  const busiest = (addrs: Uint32Array) => {
    const seen = new Map<number, number>();
    for (const a of addrs) seen.set(a, (seen.get(a) ?? 0) + 1);
    return Math.max(...seen.values()) / addrs.length;
  };
  const zipf = busiest(zipfBatch(prefixes, 4, 100000, { flows: 10000, seed: 5 }));
  const uniform = busiest(addressBatch(prefixes, 4, 100000, "space", 5));
  assert.ok(zipf > 0.05, `the busiest flow carries ${zipf}`);
  assert.ok(zipf > 100 * uniform, `zipf ${zipf}, uniform ${uniform}`);
});

test("uniform traffic falls on routed space only, each block in proportion to its size, the same for the same seed", () => {
  const prefixes = ["10.0.0.0/8", "10.1.0.0/16", "192.0.2.0/24"].map((p) => Prefix.mustParse(p));
  const addrs = addressBatch(prefixes, 4, 200000, "space", 4);
  assert.equal(addrs, addressBatch(prefixes, 4, 200000, "space", 4));
  assert.not.equal(addrs, addressBatch(prefixes, 4, 200000, "space", 5));
  const in24 = addrs.filter((a) => a >>> 8 === 0xc00002).length;
  const in8 = addrs.filter((a) => a >>> 24 === 10).length;
  assert.is(in8 + in24, addrs.length);
  // The /24 is 1/65537 of the space: about 3 of 200,000.
  assert.ok(in24 < 20, `${in24} in the /24`);
  const six = addressBatch([Prefix.mustParse("2001:db8::/32"), Prefix.mustParse("2001:db8:1::/48")], 6, 1000, "space", 4);
  for (let i = 0; i < 1000; i++) assert.ok(Prefix.mustParse("2001:db8::/32").contains(batchAddress(six, 6, i)));
});

test("a larger Zipf exponent skews harder; the same seed gives the same traffic", () => {
  const { prefixes } = table(6, 500, 17);
  const top = (addrs: Uint32Array) => {
    const seen = new Map<string, number>();
    for (let i = 0; i < addrs.length / 4; i++) {
      const k = batchAddress(addrs, 6, i).toString();
      seen.set(k, (seen.get(k) ?? 0) + 1);
    }
    return Math.max(...seen.values()) / (addrs.length / 4);
  };
  const mild = zipfBatch(prefixes, 6, 50000, { flows: 1000, exponent: 0.8, seed: 2 });
  const steep = zipfBatch(prefixes, 6, 50000, { flows: 1000, exponent: 1.5, seed: 2 });
  assert.equal(mild, zipfBatch(prefixes, 6, 50000, { flows: 1000, exponent: 0.8, seed: 2 }));
  assert.ok(top(steep) > 2 * top(mild), `steep ${top(steep)}, mild ${top(mild)}`);
});

test("the engine forwards, rates and checks itself: no wrong answer, every packet counted", () => {
  const { fib } = table(4, 5000, 13);
  const r = new ForwardingEngine(fib).run({ family: 4, mode: "uniform", packets: 200000, runs: 4 });
  assert.is(r.packets, 200000);
  assert.is(r.wrong, 0);
  assert.is(r.checked, 20000);
  assert.is(r.overflow, 0);
  assert.ok(r.pps > 1e6 && r.ppsSpread[0] <= r.pps && r.pps <= r.ppsSpread[1]);
  assert.ok(r.nexthops > 10 && r.top[0][1] >= r.top[4][1], `${r.nexthops} next hops carried packets`);
  const six = new ForwardingEngine(table(6, 3000, 19).fib).run({ family: 6, mode: "zipf", packets: 100000, runs: 2, check: 50000 });
  assert.equal([six.wrong, six.checked, six.packets], [0, 50000, 100000]);
  assert.throws(() => new ForwardingEngine(newFib()).run({ family: 6, mode: "zipf", packets: 10 }), /no IPv6 routes/);
});

test("property: any table, any addresses: forwarded counts equal the golden table's", () => {
  const route = fc.record({ addr: fc.integer({ min: 0, max: 0xffffffff }), len: fc.integer({ min: 0, max: 32 }), nh: fc.integer({ min: 0, max: 3 * BLOCK + 99 }).filter((n) => (n & (BLOCK - 1)) < 100) });
  fc.assert(fc.property(fc.array(route, { maxLength: 60 }), fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 1, maxLength: 300 }), (routes, addresses) => {
    const fib = newFib({ ioBytes: 1 << 20 });
    const golden = new ReferenceTable();
    for (const r of routes) {
      const p = Prefix.from(Addr.v4(r.addr), r.len) as Prefix;
      fib.set(p, r.nh);
      golden.set(p, r.nh);
    }
    const addrs = Uint32Array.from(addresses);
    const got = forward(fib, 4, addrs, routes.map((r) => r.nh)).counts();
    const want = goldenCounts(golden, 4, addrs);
    assert.equal(sortedEntries(got.perNexthop), sortedEntries(want.perNexthop));
    assert.is(got.noRoute, want.noRoute);
    assert.is(got.overflow, 0);
  }), { numRuns: 150 });
});

test("the check's longest matches, by sweep, are the golden table's", () => {
  for (const family of [4, 6] as const) {
    const { fib, golden, prefixes } = table(family, 2000, 21 + family);
    const addrs = addressBatch(prefixes, family, 3000, "route", 9);
    const list = Array.from({ length: 3000 }, (_, i) => batchAddress(addrs, family, i));
    if (family === 4) list.push(Addr.mustParse("0.0.0.1"));
    const got = longestMatches([...fib.routes(family)], list);
    assert.equal(got, list.map((a) => golden.lookup(a) ?? NO_ROUTE));
  }
});

test.run();
