// Routes on the wire (assembly/routecodec.ts): records in prefix order encode compactly
// and decode back exactly; malformed bodies are refused with a reason.

import { test } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { encodeChanges, RouteCodecError, type Change } from "../host/fib.ts";
import { Addr, type Family, Prefix } from "../host/netip.ts";
import { asnRoutes } from "../host/asn.ts";
import { NextHopTable } from "../host/nexthops.ts";
import { newFib } from "./support.ts";

const fib = newFib({ ioBytes: 4 << 20 });
const word = fc.integer({ min: 0, max: 0xffffffff });

function changes(family: Family, raw: [number[], number, number, boolean][], allowRemove: boolean): Change[] {
  const seen = new Map<string, Change>();
  for (const [w, len, nh, remove] of raw) {
    const addr = family === 4 ? Addr.v4(w[0]) : Addr.v6(w[0], w[1], w[2], w[3]);
    const prefix = Prefix.from(addr, Math.min(len, addr.bitLen)) as Prefix;
    seen.set(prefix.toString(), allowRemove && remove ? { prefix } : { prefix, nh });
  }
  return [...seen.values()].sort((a, b) => a.prefix.compare(b.prefix));
}

for (const family of [4, 6] as const) {
  test(`IPv${family}: any sorted table encodes and decodes back exactly`, () => {
    const route = fc.tuple(fc.array(word, { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: family === 4 ? 32 : 128 }), fc.integer({ min: 0, max: 0xfffffe }), fc.boolean());
    for (const allowRemove of [false, true]) {
      fc.assert(fc.property(fc.array(route, { maxLength: 300 }), (raw) => {
        const records = encodeChanges(family, changes(family, raw, allowRemove));
        const { bytes, count } = fib.encodeRoutes(family, records, 1 << 20);
        assert.is(count * (family === 4 ? 3 : 6), records.length);
        const back = fib.decodeRoutes(family, bytes, count, allowRemove);
        assert.not.instance(back, RouteCodecError, (back as Error).message);
        assert.equal([...(back as Uint32Array)], [...records]);
      }), { numRuns: 150 });
    }
  });
}

test("nested prefixes, the default route, host routes and huge gaps", () => {
  const table = ["0.0.0.0/0", "0.0.0.0/1", "0.0.0.0/32", "10.0.0.0/8", "10.0.0.0/9", "10.128.0.0/9", "255.255.255.255/32"];
  const records = encodeChanges(4, table.map((p, i) => ({ prefix: Prefix.mustParse(p), nh: i % 2 })));
  const { bytes, count } = fib.encodeRoutes(4, records, 1024);
  assert.equal([...(fib.decodeRoutes(4, bytes, count, false) as Uint32Array)], [...records]);
  const six = ["::/0", "::/128", "2001:db8::/32", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"];
  const r6 = encodeChanges(6, six.map((p) => ({ prefix: Prefix.mustParse(p), nh: 7 })));
  const e6 = fib.encodeRoutes(6, r6, 1024);
  assert.equal([...(fib.decodeRoutes(6, e6.bytes, e6.count, false) as Uint32Array)], [...r6]);
});

test("encoding stops at the byte budget and says how many routes it took", () => {
  const table = Array.from({ length: 1000 }, (_, i) => ({ prefix: Prefix.from(Addr.v4(i * 4096), 20) as Prefix, nh: i }));
  const records = encodeChanges(4, table);
  const { bytes, count } = fib.encodeRoutes(4, records, 500);
  assert.ok(count > 0 && count < 1000 && bytes.length <= 500);
  assert.equal([...(fib.decodeRoutes(4, bytes, count, false) as Uint32Array)], [...records.subarray(0, count * 3)]);
});

test("malformed bodies are refused with a reason", () => {
  const records = encodeChanges(4, ["10.0.0.0/8", "11.0.0.0/8"].map((p) => ({ prefix: Prefix.mustParse(p), nh: 1 })));
  const { bytes } = fib.encodeRoutes(4, records, 1024);
  const reason = (b: Uint8Array, count: number, allowRemove = false) => (fib.decodeRoutes(4, b, count, allowRemove) as RouteCodecError).message;
  assert.is(reason(bytes.subarray(0, bytes.length - 1), 2), "routes end early");
  assert.is(reason(bytes, 1), "bytes after the last route");
  assert.is(reason(bytes, 3), "routes end early");
  assert.is(reason(new Uint8Array([31, 40, 0x40 | 0, 1]), 1), "prefix length beyond the family");
  assert.is(reason(new Uint8Array([0x00]), 1), "missing or invalid next hop");
  assert.is(reason(new Uint8Array([0x80]), 1), "a remove where only routes may be");
  assert.is(reason(new Uint8Array([0x40 | 0x20 | 16, 0x80, 0x80, 0x80, 0x80, 0x10, 1]), 1), "address outside the address space");
  assert.is(reason(new Uint8Array([0x40 | 0x20 | 16, 0x01, 1]), 1), "routes out of order or repeated");
  // The same prefix twice: inside the previous one, at its start, as long.
  assert.is(reason(new Uint8Array([0x40 | 16, 1, 0x20, 1]), 2), "routes out of order or repeated");
});

test("only the canonical encoding decodes: whatever decodes re-encodes to the same bytes", () => {
  const noncanonical = "not the canonical encoding (a longer form than needed)";
  const reason = (b: number[], count: number) => (fib.decodeRoutes(4, new Uint8Array(b), count, false) as RouteCodecError).message;
  assert.is(reason([31, 8, 0x20 | 0x40, 0x14, 1], 1), noncanonical);          // a length byte for a small delta
  assert.is(reason([0x40 | 0x20 | 16, 0x00, 1], 1), noncanonical);            // placement "right after" spelled out
  assert.is(reason([0x40 | 0x20 | 16, 0x94, 0x00, 1], 1), noncanonical);      // a padded varint
  assert.is(reason([0x40 | 16, 0x81, 0x00], 1), noncanonical);                // a padded next hop
  assert.is(reason([0x40 | 16, 1, 0x40, 1], 2), noncanonical);                // the same next hop again
  // After the IPv6 default route, a placement that does not say "inside" wraps round the
  // end of the space back into it: refused (found by the property below).
  const v6 = encodeChanges(6, [{ prefix: Prefix.mustParse("::/0"), nh: 128 }, { prefix: Prefix.mustParse("6644::/128"), nh: 0 }]);
  const wrapped = fib.encodeRoutes(6, v6, 1024).bytes.slice();
  assert.is(wrapped[5], 0x81, "the second route's placement starts gap 0, inside");
  wrapped[5] = 0x9c;
  assert.is((fib.decodeRoutes(6, wrapped, 2, false) as RouteCodecError).message, noncanonical);
  for (const family of [4, 6] as const) {
    const route = fc.tuple(fc.array(word, { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: family === 4 ? 32 : 128 }), fc.integer({ min: 0, max: 300 }), fc.boolean());
    fc.assert(fc.property(fc.array(route, { minLength: 1, maxLength: 40 }), fc.nat(), fc.nat(255), (raw, at, value) => {
      const records = encodeChanges(family, changes(family, raw, true));
      const { bytes, count } = fib.encodeRoutes(family, records, 1 << 20);
      const mutated = bytes.slice();
      mutated[at % mutated.length] = value;
      const back = fib.decodeRoutes(family, mutated, count, true);
      if (back instanceof RouteCodecError) return;
      const again = fib.encodeRoutes(family, back, 1 << 20);
      assert.equal([...again.bytes], [...mutated]);
    }), { numRuns: 2000 });
  }
});

test("the real IPv4 table takes at most 4 bytes a route", () => {
  const nexthops = new NextHopTable();
  for (const family of [4, 6] as const) {
    const sorted = asnRoutes(family).map((r) => ({ prefix: r.prefix, nh: nexthops.intern(r.nexthop) })).sort((a, b) => a.prefix.compare(b.prefix));
    const records = encodeChanges(family, sorted);
    const words = family === 4 ? 3 : 6;
    let bytes = 0;
    for (let at = 0; at < records.length; ) {
      const chunk = fib.encodeRoutes(family, records.subarray(at), 65000);
      const back = fib.decodeRoutes(family, chunk.bytes, chunk.count, false) as Uint32Array;
      assert.equal([...back], [...records.subarray(at, at + chunk.count * words)]);
      bytes += chunk.bytes.length;
      at += chunk.count * words;
    }
    const perRoute = bytes / sorted.length;
    if (family === 4) assert.ok(perRoute <= 4, `IPv4: ${perRoute} bytes a route`);
    else assert.ok(perRoute <= 6, `IPv6: ${perRoute} bytes a route`);
  }
});

test.run();
