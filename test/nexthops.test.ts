import { test } from "uvu";
import * as assert from "uvu/assert";
import { NextHopTable } from "../host/nexthops.ts";

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

test.run();
