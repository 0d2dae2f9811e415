import { test } from "uvu";
import * as assert from "uvu/assert";
import { NEXTHOP_BLOCK, NextHopTable, NextHopTableFullError } from "../host/nexthops.ts";

test("next hops are interned by how they are written", () => {
  const t = new NextHopTable();
  const a = t.intern("192.0.2.1");
  assert.is(t.intern("192.0.2.1"), a);
  const b = t.intern("upstream");
  assert.is.not(a, b);
  assert.is(t.get(a)!.address!.toString(), "192.0.2.1");
  assert.is(t.get(b)!.address, undefined);
  assert.is(t.name(b), "upstream");
  assert.is(t.name(undefined), "-");
  const c = t.intern("192.0.2.1", "eth0");
  assert.is.not(c, a);
  assert.is(t.get(c)!.interface, "eth0");
  assert.is(t.size, 3);
});

test("ECMP groups are one id per member set, in any order", () => {
  const t = new NextHopTable();
  const x = t.intern("10.0.0.1");
  const y = t.intern("10.0.0.2");
  const g = t.group([y, x]);
  assert.is(t.group([x, y, x]), g);
  assert.equal(t.get(g)!.members, [x, y]);
  assert.is(t.name(g), "10.0.0.1,10.0.0.2");
  assert.is(t.group([x]), x);
});

test("a route processor's block: ids from its base, and a clear error when it runs out", () => {
  const t = new NextHopTable({ base: 2 * NEXTHOP_BLOCK, size: 2 });
  assert.is(t.intern("a"), 2 * NEXTHOP_BLOCK);
  assert.is(t.intern("b"), 2 * NEXTHOP_BLOCK + 1);
  assert.throws(() => t.intern("c"), (e: Error) => e instanceof NextHopTableFullError && /2 distinct next hops/.test(e.message));
});

test("entries from other tables are adopted; the log gives each client only what it has not seen", () => {
  const server = new NextHopTable({ base: NEXTHOP_BLOCK });
  const x = server.intern("192.0.2.1");
  const g = server.group([x, server.intern("192.0.2.2", "eth1")]);
  const client = new NextHopTable({ base: 0, size: NEXTHOP_BLOCK });      // the peer route processor
  const seen = client.version;
  for (const h of server.since(0)) assert.ok(client.adopt({ ...h }));
  assert.equal([...client.since(seen)].map((h) => h.id), [x, x + 1, g]);
  assert.is(client.get(x)!.address!.toString(), "192.0.2.1");
  assert.equal(client.get(g)!.members, [x, x + 1]);
  assert.is(client.name(g), "192.0.2.1,192.0.2.2");
  // The same definition again changes nothing; a new one under the same id replaces it.
  const v = client.version;
  assert.not.ok(client.adopt({ id: x, name: "192.0.2.1" }));
  assert.ok(client.adopt({ id: x, name: "198.51.100.7" }));
  assert.equal([...client.since(v)].map((h) => h.name), ["198.51.100.7"]);
  // Adopted ids stay their owner's: interning the name here makes an id of our own.
  assert.is(client.intern("198.51.100.7"), 0);
});

test("the digest depends on the entries, not on the order they came in", () => {
  const a = new NextHopTable({ base: 0, size: 100 });
  const x = a.intern("192.0.2.1");
  const y = a.intern("upstream", "eth1");
  const g = a.group([x, y]);
  const b = new NextHopTable({ base: 500, size: 100 });
  for (const id of [g, y, x]) b.adopt({ id, name: a.get(id)!.name, interface: a.get(id)!.interface, members: a.get(id)!.members });
  assert.is(b.digest, a.digest);
  assert.is.not(a.digest, 0n);
  b.adopt({ id: y, name: "upstream", interface: "eth2" });
  assert.is.not(b.digest, a.digest, "a redefined id changes it");
  b.adopt({ id: y, name: "upstream", interface: "eth1" });
  assert.is(b.digest, a.digest, "and defining it back restores it");
  b.adopt({ id: 7, name: "extra" });
  assert.is.not(b.digest, a.digest);
});

test.run();
