import { test } from "uvu";
import * as assert from "uvu/assert";
import { Addr, ParseError, Prefix } from "../host/netip.ts";

const reason = (v: unknown) => (v instanceof ParseError ? v.reason : `parsed as ${v}`);

test("IPv4 addresses parse and format canonically", () => {
  for (const s of ["0.0.0.0", "10.1.2.3", "255.255.255.255", "192.0.2.1"]) assert.is(Addr.mustParse(s).toString(), s);
  assert.is(Addr.mustParse("10.1.2.3").w0, 0x0a010203);
});

test("malformed IPv4 gets a clear reason", () => {
  assert.is(reason(Addr.parse("1.2.3")), "IPv4 address too short");
  assert.is(reason(Addr.parse("1.2.3.4.5")), "IPv4 address too long");
  assert.is(reason(Addr.parse("1.2.3.256")), "IPv4 field has value >255");
  assert.is(reason(Addr.parse("01.2.3.4")), "IPv4 field has octet with leading zero");
  assert.is(reason(Addr.parse("1..3.4")), "IPv4 field must have at least one digit");
  assert.is(reason(Addr.parse("1.2.3.x")), 'unexpected character "x"');
  assert.is(reason(Addr.parse("")), "empty address");
});

test("IPv6 addresses parse and format per RFC 5952", () => {
  const cases: [string, string][] = [
    ["::", "::"],
    ["::1", "::1"],
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:0db8:0000:0000:0000:0000:0002:0001", "2001:db8::2:1"],
    ["1:0:0:0:0:0:0:0", "1::"],
    ["1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"],
    ["1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"],
    ["::ffff:10.0.0.1", "::ffff:10.0.0.1"],
    ["64:ff9b::192.0.2.33", "64:ff9b::c000:221"],
    ["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
  ];
  for (const [input, canonical] of cases) {
    const a = Addr.mustParse(input);
    assert.is(a.family, 6);
    assert.is(a.toString(), canonical, input);
    assert.ok(Addr.mustParse(canonical).equals(a));
  }
});

test("malformed IPv6 gets a clear reason", () => {
  assert.is(reason(Addr.parse("::g")), 'unexpected character "g"');
  assert.is(reason(Addr.parse("1::2::3")), "multiple ::");
  assert.is(reason(Addr.parse("1:2:3:4:5:6:7")), "IPv6 address too short");
  assert.is(reason(Addr.parse("1:2:3:4:5:6:7:8:9")), "too many fields");
  assert.is(reason(Addr.parse("12345::")), "IPv6 field has more than 4 hex digits");
  assert.is(reason(Addr.parse("fe80::1%eth0")), "IPv6 zones are not supported");
  assert.is(reason(Addr.parse(":1::")), "leading single colon");
  assert.is(reason(Addr.parse("1:")), "trailing colon");
  assert.is(reason(Addr.parse("1:2:3:4:5:6:7:8::")), ":: expands to nothing");
});

test("mustParse throws the ParseError", () => {
  assert.throws(() => Addr.mustParse("1.2.3"), (e: unknown) => e instanceof ParseError && e.message === '"1.2.3": IPv4 address too short');
});

test("prefixes parse, mask host bits, and reject bad lengths", () => {
  assert.is(Prefix.mustParse("10.1.2.3/8").toString(), "10.0.0.0/8");
  assert.is(Prefix.mustParse("2001:db8::ffff/32").toString(), "2001:db8::/32");
  assert.is(Prefix.mustParse("0.0.0.0/0").toString(), "0.0.0.0/0");
  assert.is(Prefix.mustParse("::/0").toString(), "::/0");
  assert.is(Prefix.mustParse("1.2.3.4/32").toString(), "1.2.3.4/32");
  assert.is(reason(Prefix.parse("10.0.0.0/33")), "prefix length out of range 0..32");
  assert.is(reason(Prefix.parse("::/129")), "prefix length out of range 0..128");
  assert.is(reason(Prefix.parse("10.0.0.0")), "missing /length");
  assert.is(reason(Prefix.parse("10.0.0.0/08")), "bad prefix length");
  assert.is(reason(Prefix.parse("10.0.0.0/-1")), "bad prefix length");
  assert.is(reason(Prefix.parse("1.2.3/8")), "IPv4 address too short");
  assert.is(reason(Prefix.parse("")), "empty prefix");
});

test("containment, overlap, first and last", () => {
  const p = Prefix.mustParse("10.0.0.0/8");
  assert.ok(p.contains(Addr.mustParse("10.255.255.255")));
  assert.not.ok(p.contains(Addr.mustParse("11.0.0.0")));
  assert.not.ok(p.contains(Addr.mustParse("::a00:0")));
  assert.ok(p.overlaps(Prefix.mustParse("10.1.0.0/16")));
  assert.not.ok(p.overlaps(Prefix.mustParse("11.0.0.0/8")));
  assert.is(p.last().toString(), "10.255.255.255");
  assert.is(Prefix.mustParse("2001:db8::/33").last().toString(), "2001:db8:7fff:ffff:ffff:ffff:ffff:ffff");
  assert.is(Prefix.mustParse("0.0.0.0/0").last().toString(), "255.255.255.255");
  assert.is(Prefix.mustParse("::/0").last().toString(), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
});

test("next and prev step across words and stop at the ends", () => {
  assert.is(Addr.mustParse("10.0.0.255").next()!.toString(), "10.0.1.0");
  assert.is(Addr.mustParse("10.0.1.0").prev()!.toString(), "10.0.0.255");
  assert.is(Addr.mustParse("255.255.255.255").next(), undefined);
  assert.is(Addr.mustParse("0.0.0.0").prev(), undefined);
  assert.is(Addr.mustParse("::ffff:ffff").next()!.toString(), "::1:0:0");
  assert.is(Addr.mustParse("::2:0:0:0:0").prev()!.toString(), "::1:ffff:ffff:ffff:ffff");
  assert.is(Addr.mustParse("::1:0:0:0").prev()!.toString(), "::ffff:255.255.255.255");
  assert.is(Addr.mustParse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").next(), undefined);
});

test("ordering: IPv4 before IPv6, then by value, shorter prefix first", () => {
  const sorted = ["2001:db8::/32", "10.0.0.0/16", "10.0.0.0/8", "9.0.0.0/8", "::/0"]
    .map((s) => Prefix.mustParse(s))
    .sort((a, b) => a.compare(b))
    .map(String);
  assert.equal(sorted, ["9.0.0.0/8", "10.0.0.0/8", "10.0.0.0/16", "::/0", "2001:db8::/32"]);
});

test.run();
