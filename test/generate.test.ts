import { test } from "uvu";
import * as assert from "uvu/assert";
import { generateRoutes } from "../host/generate.ts";

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

test.run();
