import { test } from "uvu";
import * as assert from "uvu/assert";
import { generateRoutes, generateTable } from "../host/generate.ts";
import { Prefix } from "../host/netip.ts";

test("the same seed gives the same table, another seed another", () => {
  const a = generateRoutes({ family: 4, routes: 5000, seed: 7 });
  const b = generateRoutes({ family: 4, routes: 5000, seed: 7 });
  const c = generateRoutes({ family: 4, routes: 5000, seed: 8 });
  const text = (routes: typeof a) => routes.map((r) => `${r.prefix} ${r.nexthop}`);
  assert.equal(text(a), text(b));
  assert.not.equal(text(a), text(c));
});

test("exactly the requested number of distinct prefixes, with a real length mix and nesting", () => {
  for (const family of [4, 6] as const) {
    const routes = generateRoutes({ family, routes: 50000, seed: 1 });
    assert.is(routes.length, 50000);
    assert.is(new Set(routes.map((r) => r.prefix.toString())).size, 50000);
    const share = (len: number) => routes.filter((r) => r.prefix.len === len).length / routes.length;
    // The most common lengths of real tables: /24 for IPv4 (~39%), /48 for IPv6 (~25%).
    const [mode, least] = family === 4 ? [24, 0.35] : [48, 0.22];
    assert.ok(share(mode) > least, `/${mode} share ${share(mode)}`);
    const sorted = routes.map((r) => r.prefix).sort((x, y) => x.compare(y));
    let nested = 0;
    for (let i = 1; i < sorted.length; i++) if (sorted[i - 1].contains(sorted[i].addr) && sorted[i - 1].len < sorted[i].len) nested++;
    assert.ok(nested > 1000, `nested prefixes: ${nested}`);
  }
});

test("the compact table is the route list, masked, in global unicast space", () => {
  for (const family of [4, 6] as const) {
    const t = generateTable({ family, routes: 40000, seed: 2 });
    const routes = generateRoutes({ family, routes: 40000, seed: 2 });
    const unicast6 = Prefix.mustParse("2000::/3");
    for (let i = 0; i < t.count; i++) {
      const p = routes[i].prefix;
      const w = [p.addr.w0, p.addr.w1, p.addr.w2, p.addr.w3];
      // The words are the prefix's, host bits already clear (Prefix.from would mask them).
      assert.equal([...t.words.subarray(4 * i, 4 * i + 4)], family === 4 ? [w[0], 0, 0, 0] : w, `${p}`);
      assert.is(t.lens[i], p.len);
      assert.is(t.pool[t.nexthops[i]], routes[i].nexthop);
      if (family === 4) {
        const first = p.addr.w0 >>> 24;
        assert.ok(first >= 1 && first <= 223 && first !== 10 && first !== 127, `${p} outside the unicast /8s`);
      } else assert.ok(unicast6.contains(p.addr), `${p} outside 2000::/3`);
    }
  }
});

test.run();
