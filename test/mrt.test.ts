// MRT TABLE_DUMP_V2 (host/sources/mrt.ts): best path per prefix, IPv4 and IPv6, and damaged
// files reported as `file: offset: reason` with every good record kept.

import { test } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { Prefix } from "../host/netip.ts";
import { parseMrt } from "../host/sources/mrt.ts";
import { mrtFile } from "./helpers/mrt.ts";

const P = Prefix.mustParse;
const table = [
  { prefix: P("10.0.0.0/8"), entries: [
    { peer: 0, nexthop: "192.0.2.1", asPath: [64500, 3356, 15169] },
    { peer: 1, nexthop: "192.0.2.2", asPath: [64501, 15169] },                  // shorter AS path
  ] },
  { prefix: P("10.1.0.0/16"), entries: [
    { peer: 0, nexthop: "192.0.2.1", asPath: [64500, 1] },
    { peer: 1, nexthop: "192.0.2.2", asPath: [64501, 2, 3, 4], localPref: 200 },  // local pref first
  ] },
  { prefix: P("192.0.2.0/24"), entries: [
    { peer: 1, nexthop: "192.0.2.9", asPath: [1], med: 50 },
    { peer: 0, nexthop: "192.0.2.8", asPath: [2], med: 10 },                    // lower MED
  ] },
  { prefix: P("0.0.0.0/0"), entries: [{ peer: 2, nexthop: "198.51.100.1", asPath: [1] }] },
  { prefix: P("2001:db8::/32"), entries: [
    { peer: 0, nexthop: "2001:db8::1", asPath: [1, 2], origin: 2 },
    { peer: 1, nexthop: "2001:db8::2", asPath: [3, 4], origin: 0, fullMpReach: true }, // lower origin
  ] },
  { prefix: P("2001:db8:1::/48"), entries: [{ peer: 0, nexthop: "fe80::1", asPath: [] }] },
];
const expected = ["0.0.0.0/0 198.51.100.1", "10.0.0.0/8 192.0.2.2", "10.1.0.0/16 192.0.2.2", "192.0.2.0/24 192.0.2.8", "2001:db8::/32 2001:db8::2", "2001:db8:1::/48 fe80::1"];
const text = (r: { prefix: Prefix; nexthop: string }) => `${r.prefix} ${r.nexthop}`;

test("the best path of every prefix, IPv4 and IPv6", () => {
  const parsed = parseMrt(mrtFile(table), "rib.mrt");
  assert.equal(parsed.errors, []);
  assert.is(parsed.records, table.length);
  assert.equal(parsed.routes.map(text), expected);
});

test("a truncated file keeps every record before the cut and says where it broke", () => {
  const bytes = mrtFile(table);
  const cut = parseMrt(bytes.subarray(0, bytes.length - 7), "rib.mrt");
  assert.equal(cut.routes.map(text), expected.filter((r) => !r.startsWith("2001:db8:1::")));
  assert.is(cut.errors.length, 1);
  assert.match(cut.errors[0].message, /^rib\.mrt: \d+: record of \d+ bytes runs 7 bytes past the end of the file$/);
  const header = parseMrt(bytes.subarray(0, bytes.length - (bytes.length - cut.errors[0].offset) + 5), "rib.mrt");
  assert.match(header.errors[0].message, /record header cut short: 5 of 12 bytes/);
});

test("a record with a damaged body is skipped with its offset, and reading goes on", () => {
  const bytes = mrtFile(table).slice();
  // The first RIB record follows the peer index table; break its prefix length.
  const first = 12 + ((bytes[8] << 24) | (bytes[9] << 16) | (bytes[10] << 8) | bytes[11]);
  bytes[first + 12 + 4] = 99;
  const parsed = parseMrt(bytes, "rib.mrt");
  assert.equal(parsed.errors.map((e) => e.message), [`rib.mrt: ${first}: prefix length 99 beyond IPv4`]);
  assert.equal(parsed.routes.map(text), expected.filter((r) => !r.startsWith("10.0.0.0/8")));
});

test("any damage or cut: no exception, and every error says file and offset", () => {
  const bytes = mrtFile(table);
  fc.assert(fc.property(fc.nat(bytes.length - 1), fc.nat(255), fc.nat(bytes.length), (at, value, end) => {
    const damaged = bytes.slice(0, end);
    if (at < damaged.length) damaged[at] = value;
    const parsed = parseMrt(damaged, "x");
    for (const e of parsed.errors) assert.match(e.message, /^x: \d+: /);
  }), { numRuns: 500 });
});

test.run();
