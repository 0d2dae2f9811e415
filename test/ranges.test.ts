import { test } from "uvu";
import * as assert from "uvu/assert";
import { generateRoutes } from "../host/generate.ts";
import { tableDigest } from "../host/digest.ts";
import { Addr, Prefix, type Family } from "../host/netip.ts";
import { decodeRecords, type Fib } from "../host/fib.ts";
import { RangeIndex } from "../host/rangeindex.ts";
import { newFib } from "./support.ts";

const tables = { 4: generateRoutes({ family: 4, routes: 30000, seed: 8 }), 6: generateRoutes({ family: 6, routes: 10000, seed: 8 }) };
const fib = newFib();
for (const family of [4, 6] as const) tables[family].forEach((r, i) => fib.set(r.prefix, i % 300));

/** The routes of the range: address in p, at least minLen long. */
function inRange(family: Family, p: Prefix, minLen: number): (readonly [Prefix, number])[] {
  return tables[family].map((r, i) => [r.prefix, i % 300] as const).filter(([q]) => q.len >= minLen && p.contains(q.addr));
}

test("the pieces add up to the digest and count of the range, at every depth, from the table and from its index", () => {
  const M = (1n << 64n) - 1n;
  for (const family of [4, 6] as const) {
    const index = RangeIndex.of(fib, family, fib.records(family));
    const ranges = family === 4 ? ["0.0.0.0/0", "64.0.0.0/2", "100.64.0.0/10", tables[4][7].prefix.toString()] : ["::/0", "2000::/3", "2a00::/12", tables[6][9].prefix.toString()];
    for (const text of ranges) {
      const p = Prefix.mustParse(text);
      for (const minLen of [0, p.len]) {
        const routes = inRange(family, p, minLen);
        for (const depth of [0, 1, 5, 12]) {
          if (p.len + depth > p.addr.bitLen) continue;
          const { digests, counts } = fib.rangeDigests(p, depth, minLen);
          assert.is(digests.length, 2 ** depth);
          assert.is(digests.reduce((a, b) => (a + b) & M, 0n), tableDigest(routes), `${text} from /${minLen} at depth ${depth}`);
          assert.is(counts.reduce((a, b) => a + b, 0), routes.length, `${text} from /${minLen} at depth ${depth}: counts`);
          if (minLen > 0) continue;
          // The index: the low 32 bits of each piece's digest, and its routes.
          const bounds = index.split(p, depth);
          assert.equal([...digests].map((_, i) => index.digest(bounds[i], bounds[i + 1])), [...digests].map((d) => Number(d & 0xffffffffn)), `${text} at depth ${depth}: from the index`);
          assert.equal([...counts], [...counts].map((_, i) => bounds[i + 1] - bounds[i]));
          assert.equal(decodeRecords(family, index.routes(bounds[0], bounds[bounds.length - 1])).map((c) => c.prefix.toString()), routes.map(([q]) => q).sort((x, y) => x.compare(y)).map(String), `${text}: the routes`);
        }
      }
    }
    const all = fib.rangeDigests(Prefix.mustParse(family === 4 ? "0.0.0.0/0" : "::/0"), 4, 0);
    assert.is(all.digests.reduce((a, b) => (a + b) & M, 0n), fib.digest(family), "the whole space is the table's digest");
  }
});

test("the table keeps its top pieces as it changes: as a walk finds them, through sets, replaces, removes, batches and clears", () => {
  const f = newFib();
  const roots = { 4: Prefix.mustParse("0.0.0.0/0"), 6: Prefix.mustParse("::/0") };
  const same = (why: string) => {
    for (const family of [4, 6] as const) assert.equal(f.topPieces(family), f.rangeDigests(roots[family], 12, 0), `IPv${family}: ${why}`);
  };
  same("empty");
  for (const family of [4, 6] as const) tables[family].forEach((r, i) => f.set(r.prefix, i % 300));
  same("loaded");
  for (const family of [4, 6] as const) {
    tables[family].forEach((r, i) => {
      if (i % 3 === 0) f.set(r.prefix, (i % 300) + 1);
      else if (i % 3 === 1) f.remove(r.prefix);
    });
  }
  same("after replaces and removes");
  f.set(Prefix.mustParse("0.0.0.0/0"), 9);
  f.set(Prefix.mustParse("255.255.255.255/32"), 9);
  f.set(Prefix.mustParse("ffff::/16"), 9);
  same("with the first and last addresses");
  for (const family of [4, 6] as const) f.clear(family);
  same("cleared");
  for (const family of [4, 6] as const) f.applyRecords(family, fib.records(family));
  same("a batch");
});

test("a route belongs to the piece it starts in, however far it reaches", () => {
  const f = newFib();
  f.set(Prefix.mustParse("10.0.0.0/7"), 1);
  f.set(Prefix.mustParse("11.128.0.0/9"), 2);
  const { counts } = f.rangeDigests(Prefix.mustParse("10.0.0.0/7"), 2, 0);
  assert.equal([...counts], [1, 0, 0, 1]);
  assert.equal([...f.rangeDigests(Prefix.mustParse("10.0.0.0/7"), 2, 8).counts], [0, 0, 0, 1], "a minimum length leaves the covering route out");
  // Down to single addresses: a /126 lies in the piece of its first address only.
  f.set(Prefix.mustParse("2001:db8::1000/126"), 3);
  f.set(Prefix.mustParse("2001:db8::1002/128"), 4);
  assert.equal([...f.rangeDigests(Prefix.mustParse("2001:db8::1000/126"), 2, 0).counts], [1, 0, 1, 0]);
  const index = RangeIndex.of(f, 6, f.records(6));
  const bounds = index.split(Prefix.mustParse("2001:db8::1002/128"), 0);
  assert.equal(decodeRecords(6, index.routes(bounds[0], bounds[1])).map((c) => String(c.prefix)), ["2001:db8::1002/128"]);
});

/** The ranges, down to `leafLen`, where two tables differ: descend where the pieces differ. */
function differences(a: Fib, b: Fib, p: Prefix, leafLen: number, found: string[]): void {
  const depth = Math.min(8, leafLen - p.len);
  const x = a.rangeDigests(p, depth, 0).digests;
  const y = b.rangeDigests(p, depth, 0).digests;
  x.forEach((d, i) => {
    if (d === y[i]) return;
    const piece = pieceOf(p, depth, i);
    if (piece.len >= leafLen) found.push(piece.toString());
    else differences(a, b, piece, leafLen, found);
  });
}

/** The i-th of the 2^depth pieces of an IPv4 prefix. */
function pieceOf(p: Prefix, depth: number, i: number): Prefix {
  return Prefix.from(Addr.v4(p.addr.w0 + i * 2 ** (32 - p.len - depth)), p.len + depth) as Prefix;
}

test("two tables find where they differ by exchanging digests, not tables", () => {
  const a = newFib();
  const b = newFib();
  tables[4].forEach((r, i) => { a.set(r.prefix, i % 300); b.set(r.prefix, i % 300); });
  const changed = [tables[4][100], tables[4][20000]];
  b.set(changed[0].prefix, 299 - (100 % 300) + 1);
  b.remove(changed[1].prefix);
  const found: string[] = [];
  differences(a, b, Prefix.mustParse("0.0.0.0/0"), 24, found);
  for (const c of changed) {
    assert.ok(found.some((f) => Prefix.mustParse(f).contains(c.prefix.addr)), `${c.prefix} located in ${found}`);
  }
  assert.is(found.length, 2, `only the differing ranges: ${found}`);
});

test("a depth beyond the address is refused", () => {
  assert.throws(() => fib.rangeDigests(Prefix.mustParse("10.0.0.0/30"), 5, 0), /beyond the address/);
  assert.throws(() => fib.rangeDigests(Prefix.mustParse("10.0.0.0/8"), 13, 0), /do not fit/);
});

test.run();
