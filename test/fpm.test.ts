// The FPM decoder (host/fpm/decode.ts): what zebra's dplane_fpm_nl writes comes back as
// route events, across any chunking; noise is skipped and counted, never thrown.

import { test } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { Addr, Prefix } from "../host/netip.ts";
import { fpmNewRoute } from "../host/fpm/netlink.ts";
import { FpmDecoder, type FpmEvent } from "../host/fpm/decode.ts";

const routes = [
  fpmNewRoute(Prefix.mustParse("10.0.0.0/8"), Addr.mustParse("192.0.2.1"), 2, 20),
  fpmNewRoute(Prefix.mustParse("2001:db8::/32"), Addr.mustParse("2001:db8::1"), 3, 20),
];
const stream = Uint8Array.from([...routes[0], ...routes[1]]);
const text = (e: FpmEvent) => (e.kind === "route" ? `${e.addr}/${e.len} via ${e.hops.map((h) => `${h.gateway}@${h.ifindex}`).join(",")} table ${e.table}` : e.kind);

test("routes come back with their gateway, interface and table, however the stream is cut", () => {
  fc.assert(fc.property(fc.array(fc.nat(stream.length), { maxLength: 6 }), (cuts) => {
    const points = [...new Set([0, ...cuts, stream.length])].sort((a, b) => a - b);
    const d = new FpmDecoder();
    const events: FpmEvent[] = [];
    for (let i = 1; i < points.length; i++) events.push(...d.push(stream.subarray(points[i - 1], points[i])));
    assert.equal(events.map(text), ["10.0.0.0/8 via 192.0.2.1@2 table 254", "2001:db8::/32 via 2001:db8::1@3 table 254"]);
  }), { numRuns: 100 });
});

test("noise before a frame is skipped and counted; random bytes never throw", () => {
  const d = new FpmDecoder();
  const events = d.push(Uint8Array.from([7, 7, 7, ...routes[0]]));
  assert.equal(events.map(text), ["10.0.0.0/8 via 192.0.2.1@2 table 254"]);
  assert.ok(Object.values(d.counters.skipped).reduce((a, b) => a + b, 0) >= 3);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => void new FpmDecoder().push(bytes)), { numRuns: 300 });
});

test.run();
