// The RIB (host/node/rib.ts) against a plain best-path oracle: random sources, random
// changes and replacements; the FIB is always the best path of every prefix, and only the
// entries that changed are reported.

import { test } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { decodeRecords, encodeChanges } from "../host/fib.ts";
import { Addr, Prefix } from "../host/netip.ts";
import { Rib, type SourceInfo } from "../host/node/rib.ts";
import { subsetDigest, subsetHolds, subsetRecords, normalizeSubset } from "../host/node/subset.ts";
import { tableDigest } from "../host/digest.ts";
import { newFib } from "./support.ts";

const P = Prefix.mustParse;
const sources: SourceInfo[] = [
  { id: 1, name: "bgp", protocol: "bgp", distance: 20, metric: 0, origin: "rp0" },
  { id: 257, name: "ospf", protocol: "ospf", distance: 110, metric: 10, origin: "rp1" },
  { id: 2, name: "static", protocol: "static", distance: 1, metric: 0, origin: "rp0" },
  { id: 258, name: "ospf-b", protocol: "ospf", distance: 110, metric: 5, origin: "rp1" },
];

/** The oracle: per prefix, the best source's next hop. */
function bestPaths(tables: Map<number, Map<string, number>>): Map<string, number> {
  const ranked = [...sources].sort((a, b) => a.distance - b.distance || a.metric - b.metric || (a.name < b.name ? -1 : 1));
  const out = new Map<string, number>();
  for (const s of ranked) for (const [p, nh] of tables.get(s.id)!) if (!out.has(p)) out.set(p, nh);
  return out;
}

const change = fc.tuple(fc.nat(3), fc.nat(15), fc.integer({ min: 4, max: 8 }), fc.option(fc.nat(3)));

test("the FIB is the best path of every prefix, by distance, then metric, after any changes", () => {
  fc.assert(fc.property(fc.array(fc.array(change, { maxLength: 30 }), { minLength: 1, maxLength: 8 }), (batches) => {
    const rib = new Rib(newFib({ memoryMiB: 4, ioBytes: 1 << 16 }), () => newFib({ memoryMiB: 4, ioBytes: 1 << 16 }));
    for (const s of sources) rib.addSource(s);
    const tables = new Map(sources.map((s) => [s.id, new Map<string, number>()]));
    let fib = new Map<string, number>();
    for (const batch of batches) {
      const bySource = new Map<number, { prefix: Prefix; nh?: number }[]>();
      for (const [s, slot, len, nh] of batch) {
        const prefix = Prefix.from(Addr.v4((slot * 0x11000000) >>> 0), len) as Prefix;      // nested and disjoint
        const list = bySource.get(sources[s].id) ?? [];
        list.push(nh === null ? { prefix } : { prefix, nh });
        bySource.set(sources[s].id, list);
      }
      for (const [id, changes] of bySource) {
        const { delta } = rib.update(id, changes);
        for (const c of changes) {
          if (c.nh === undefined) tables.get(id)!.delete(c.prefix.toString());
          else tables.get(id)!.set(c.prefix.toString(), c.nh);
        }
        const want = bestPaths(tables);
        // Reported: exactly the prefixes whose best path changed, sorted.
        const reported = decodeRecords(4, delta[4]);
        const changed = new Set([...want.keys(), ...fib.keys()].filter((k) => want.get(k) !== fib.get(k)));
        assert.equal(new Set(reported.map((c) => c.prefix.toString())), changed);
        assert.equal(reported.map((c) => c.prefix.toString()), [...reported].sort((a, b) => a.prefix.compare(b.prefix)).map((c) => c.prefix.toString()));
        fib = want;
      }
      assert.equal(new Map([...rib.fib.routes(4)].map(([p, nh]) => [p.toString(), nh])), fib);
    }
  }), { numRuns: 60 });
});

test("replacing a source's table changes only the difference", () => {
  const rib = new Rib(newFib({ memoryMiB: 4, ioBytes: 1 << 16 }), () => newFib({ memoryMiB: 4, ioBytes: 1 << 16 }));
  rib.addSource(sources[0]);
  const routes = ["10.0.0.0/8", "10.1.0.0/16", "192.0.2.0/24"].map((p, i) => ({ prefix: P(p), nh: i }));
  rib.update(1, routes);
  const again = encodeChanges(4, [routes[0], { prefix: routes[1].prefix, nh: 9 }, routes[2], { prefix: P("198.51.100.0/24"), nh: 1 }]);
  const steps = rib.replace(1, 4, again, 1);
  const changed: string[] = [];
  let step = steps.next();
  for (; !step.done; step = steps.next()) changed.push(...decodeRecords(4, step.value).map((c) => `${c.prefix} ${c.nh}`));
  assert.is(step.value, 2);
  assert.equal(changed, ["10.1.0.0/16 9", "198.51.100.0/24 1"]);
});

test("a source alone in its family passes its changes straight to the FIB, removes and replaces too, until another source holds routes", () => {
  const rib = new Rib(newFib({ memoryMiB: 4, ioBytes: 1 << 16 }), () => newFib({ memoryMiB: 4, ioBytes: 1 << 16 }));
  rib.addSource(sources[1]);
  rib.addSource(sources[0]);
  const fib = () => [...rib.fib.routes(4)].map(([p, nh]) => `${p} ${nh}`);
  rib.update(257, ["10.0.0.0/8", "10.1.0.0/16", "192.0.2.0/24"].map((p, i) => ({ prefix: P(p), nh: i + 1 })));
  assert.equal(fib(), ["10.0.0.0/8 1", "10.1.0.0/16 2", "192.0.2.0/24 3"]);
  const { delta } = rib.update(257, [{ prefix: P("10.1.0.0/16") }, { prefix: P("192.0.2.0/24"), nh: 7 }]);
  assert.equal(decodeRecords(4, delta[4]).map((c) => `${c.prefix} ${c.nh}`), ["10.1.0.0/16 undefined", "192.0.2.0/24 7"]);
  assert.equal(fib(), ["10.0.0.0/8 1", "192.0.2.0/24 7"]);
  // bgp (distance 20) now holds a route: ospf's changes are ranked again.
  rib.update(1, [{ prefix: P("192.0.2.0/24"), nh: 4 }]);
  rib.update(257, [{ prefix: P("192.0.2.0/24"), nh: 8 }, { prefix: P("10.0.0.0/8"), nh: 9 }]);
  assert.equal(fib(), ["10.0.0.0/8 9", "192.0.2.0/24 4"]);
});

test("a subset holds what lies in its ranges and what covers them; its digest says the same", () => {
  const fib = newFib({ memoryMiB: 4 });
  const table = ["0.0.0.0/0", "10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.2.0.0/16", "11.0.0.0/8", "2001:db8::/32"].map((p, i) => ({ prefix: P(p), nh: i }));
  fib.apply(table);
  const s = normalizeSubset({ families: [4], vrfs: [0], prefixes: [P("10.1.0.0/16"), P("10.1.2.0/24"), P("11.0.0.0/8")] });
  assert.equal(s.prefixes.map(String), ["10.1.0.0/16", "11.0.0.0/8"]);
  const held = table.filter((r) => subsetHolds(s, r.prefix));
  assert.equal(held.map((r) => String(r.prefix)), ["0.0.0.0/0", "10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "11.0.0.0/8"]);
  assert.equal(decodeRecords(4, subsetRecords(fib, s, 4)).map((c) => String(c.prefix)), held.map((r) => String(r.prefix)));
  assert.is(subsetDigest(fib, s, 4), tableDigest(held.map((r) => [r.prefix, r.nh] as const)));
  assert.is(subsetDigest(fib, s, 6), 0n);
});

test.run();
