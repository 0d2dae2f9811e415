// The real table (@ip-location-db/asn: ~565k IPv4 and ~168k IPv6 prefixes) in a card-sized
// FIB: every prefix's first and last address and the addresses just outside, plus a
// million random addresses, answer as the golden table does.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { asnRoutes } from "../host/asn.ts";
import { NO_ROUTE } from "../host/fib.ts";
import { NextHopTable } from "../host/nexthops.ts";
import { loadRoutes } from "../host/load.ts";
import type { Family } from "../host/netip.ts";
import { ReferenceTable } from "../host/reference.ts";
import { tableDigest } from "../host/digest.ts";
import { addressBatch, batchAddress } from "../host/traffic.ts";
import { newFib } from "./support.ts";

const nexthops = new NextHopTable();
const fib = newFib({ memoryMiB: 32 });
const golden = new ReferenceTable();
const tables = { 4: asnRoutes(4), 6: asnRoutes(6) };

test("the real tables load into a 32 MiB card with the expected prefix counts", () => {
  for (const family of [4, 6] as const) {
    const routes = tables[family];
    const result = loadRoutes(fib, routes, nexthops);
    assert.equal(result, { loaded: routes.length, full: 0, invalid: 0 });
    for (const r of routes) golden.set(r.prefix, nexthops.intern(r.nexthop));
  }
  assert.ok(tables[4].length > 500000 && tables[4].length < 700000, `IPv4 prefixes: ${tables[4].length}`);
  assert.ok(tables[6].length > 140000 && tables[6].length < 220000, `IPv6 prefixes: ${tables[6].length}`);
});

function check(family: Family, addrs: Uint32Array, what: string): void {
  const out = new Uint32Array(family === 4 ? addrs.length : addrs.length / 4);
  fib.lookupBatch(family, addrs, out);
  let wrong = 0;
  let first = "";
  for (let i = 0; i < out.length; i++) {
    const a = batchAddress(addrs, family, i);
    const expected = golden.lookup(a) ?? NO_ROUTE;
    if (out[i] !== expected) {
      if (wrong++ === 0) first = `${a}: fib ${nexthops.name(out[i])}, golden ${nexthops.name(expected)}`;
    }
  }
  assert.is(wrong, 0, `${what}: ${wrong} wrong answers, first ${first}`);
}

for (const family of [4, 6] as const) {
  test(`IPv${family}: every prefix's edges, inside and just outside`, () => {
    const edges: number[] = [];
    for (const { prefix } of tables[family]) {
      for (const a of [prefix.first(), prefix.last(), prefix.first().prev(), prefix.last().next()]) {
        if (!a) continue;
        if (family === 4) edges.push(a.w0);
        else edges.push(a.w0, a.w1, a.w2, a.w3);
      }
    }
    check(family, new Uint32Array(edges), "edges");
  });

  test(`IPv${family}: a million random addresses`, () => {
    const prefixes = tables[family].map((r) => r.prefix);
    check(family, addressBatch(prefixes, family, 500000, "space", 11), "uniform over the routed space");
    check(family, addressBatch(prefixes, family, 500000, "route", 12), "route by route");
  });

  test(`IPv${family}: digest and walk equal the golden table's`, () => {
    const expected = golden.routes(family);
    assert.is(fib.digest(family), tableDigest(expected));
    let i = 0;
    for (const [p, nh] of fib.routes(family)) {
      const [ep, enh] = expected[i++];
      if (!p.equals(ep) || nh !== enh) assert.unreachable(`walk differs at ${i}: ${p}=${nh}, expected ${ep}=${enh}`);
    }
    assert.is(i, expected.length);
  });
}

test.run();
