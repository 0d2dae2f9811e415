import { test } from "uvu";
import * as assert from "uvu/assert";
import { generateRoutes } from "../host/generate.ts";
import { tableDigest } from "../host/digest.ts";
import { Addr, Prefix, type Family } from "../host/netip.ts";
import type { Fib } from "../host/fib.ts";
import { newFib } from "./support.ts";

const tables = { 4: generateRoutes({ family: 4, routes: 30000, seed: 8 }), 6: generateRoutes({ family: 6, routes: 10000, seed: 8 }) };
const fib = newFib();
for (const family of [4, 6] as const) tables[family].forEach((r, i) => fib.set(r.prefix, i % 300));

function golden(family: Family, p: Prefix): bigint {
  return tableDigest(tables[family].map((r, i) => [r.prefix, i % 300] as const).filter(([q]) => q.len >= p.len && p.contains(q.addr)));
}

test("head and pieces add up to the digest of the range, at every depth", () => {
  const M = (1n << 64n) - 1n;
  for (const family of [4, 6] as const) {
    const ranges = family === 4 ? ["0.0.0.0/0", "64.0.0.0/2", "100.64.0.0/10", tables[4][7].prefix.toString()] : ["::/0", "2000::/3", "2a00::/12"];
    for (const text of ranges) {
      const p = Prefix.mustParse(text);
      for (const depth of [0, 1, 5, 12]) {
        if (p.len + depth > p.addr.bitLen) continue;
        const { head, pieces } = fib.rangeDigests(p, depth);
        assert.is(pieces.length, 2 ** depth);
        const sum = pieces.reduce((a, b) => (a + b) & M, head);
        assert.is(sum, golden(family, p), `${text} at depth ${depth}`);
      }
    }
    const all = fib.rangeDigests(Prefix.mustParse(family === 4 ? "0.0.0.0/0" : "::/0"), 4);
    assert.is(all.pieces.reduce((a, b) => (a + b) & M, all.head), fib.digest(family), "the whole space is the table's digest");
  }
});

/** The ranges, down to `leafLen`, where two tables differ: descend where the pieces differ. */
function differences(a: Fib, b: Fib, p: Prefix, leafLen: number, found: string[]): void {
  const depth = Math.min(8, leafLen - p.len);
  const x = a.rangeDigests(p, depth);
  const y = b.rangeDigests(p, depth);
  if (x.head !== y.head) found.push(`head ${p} /${p.len + depth}`);
  x.pieces.forEach((d, i) => {
    if (d === y.pieces[i]) return;
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
    assert.ok(found.some((f) => f.startsWith("head") || Prefix.mustParse(f).contains(c.prefix.addr)), `${c.prefix} located in ${found}`);
  }
  assert.ok(found.length <= 4, `only the differing ranges: ${found}`);
});

test("a depth beyond the address is refused", () => {
  assert.throws(() => fib.rangeDigests(Prefix.mustParse("10.0.0.0/30"), 5), /beyond the address/);
  assert.throws(() => fib.rangeDigests(Prefix.mustParse("10.0.0.0/8"), 13), /do not fit/);
});

test.run();
