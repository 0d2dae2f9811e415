// Table sketches (assembly/sketch.ts): two tables' sketches give back exactly the routes
// only one of them holds, and which one, whatever the tables' size; a sketch too small for
// the difference, or damaged, gives nothing rather than a wrong answer.

import { test } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { generateRoutes } from "../host/generate.ts";
import { encodeChanges, foldableCells, recordWords, SKETCH_K, SKETCH_KEPT_CELLS, type Change } from "../host/fib.ts";
import type { Family } from "../host/netip.ts";
import { refreshWhenSettled } from "../host/node/sketchrefresh.ts";
import { newFib } from "./support.ts";

const base = { 4: generateRoutes({ family: 4, routes: 30000, seed: 3 }), 6: generateRoutes({ family: 6, routes: 10000, seed: 3 }) };
const fib = newFib({ ioBytes: 4 << 20 });
for (const family of [4, 6] as const) base[family].forEach((r, i) => fib.set(r.prefix, i % 200));

/** Each route of the table as a key: op, prefix and next hop. */
function keys(family: Family, records: Uint32Array): string[] {
  const words = recordWords(family);
  const out: string[] = [];
  for (let w = 0; w < records.length; w += words) out.push([...records.subarray(w, w + words)].join(","));
  return out.sort();
}

/** The base table with `changed` of its routes given another next hop, `removed` gone and `added` new /32s (or /128s). */
function variant(family: Family, changed: number, removed: number, added: number, seed: number): { records: Uint32Array; mine: string[]; theirs: string[] } {
  const routes: Change[] = base[family].map((r, i) => ({ prefix: r.prefix, nh: i % 200 }));
  const words = recordWords(family);
  const set = (c: Change) => [...encodeChanges(family, [c])].join(",");
  const mine: string[] = [];
  const theirs: string[] = [];
  let at = seed % 97;
  const step = Math.max(1, Math.floor(routes.length / (changed + removed + 1)));
  for (let k = 0; k < changed; k++, at = (at + step) % routes.length) {
    theirs.push(set(routes[at]));
    routes[at] = { prefix: routes[at].prefix, nh: 200 + k % 50 };
    mine.push(set(routes[at]));
  }
  const gone = new Set<number>();
  for (let k = 0; k < removed; k++, at = (at + step) % routes.length) {
    if (gone.has(at) || mine.includes(set(routes[at]))) continue;
    gone.add(at);
    theirs.push(set(routes[at]));
  }
  const fresh = generateRoutes({ family, routes: added, seed: 1000 + seed }).map((r, k) => ({ prefix: r.prefix, nh: 7 + k % 3 }));
  const held = new Set(routes.map((r) => r.prefix.toString()));
  const kept = routes.filter((_, i) => !gone.has(i));
  for (const r of fresh) {
    if (held.has(r.prefix.toString())) continue;
    held.add(r.prefix.toString());
    kept.push(r);
    mine.push(set(r));
  }
  const records = encodeChanges(family, kept);
  assert.is(records.length % words, 0);
  // Sets for what only the variant holds, removes for what only the table holds.
  const op = (key: string, o: number) => key.replace(/^\d+/, (w) => String((Number(w) & ~255) | o));
  return { records, mine: mine.map((k) => op(k, 1)).sort(), theirs: theirs.map((k) => op(k, 2)).sort() };
}

function cellsFor(entries: number): number {
  return Math.ceil((2 * entries + 30) / SKETCH_K) * SKETCH_K;
}

test("a sketch of the table and a sketch of its routes as records are the same", () => {
  for (const family of [4, 6] as const) {
    for (const cells of [3, 96, 3000]) assert.equal(fib.sketch(family, cells), fib.sketch(family, cells, fib.records(family)), `IPv${family}, ${cells} cells`);
  }
});

test("a sketch folded out of the one a table keeps is the sketch of its routes, through builds, sets, replaces, removes and clears", () => {
  const sizes = [SKETCH_K, 3 * 7, foldableCells(3000)!, SKETCH_KEPT_CELLS];
  fc.assert(
    fc.property(fc.constantFrom<Family>(4, 6), fc.array(fc.tuple(fc.nat(2999), fc.integer({ min: -1, max: 5 })), { maxLength: 400 }), fc.boolean(), (family, ops, clear) => {
      const table = newFib({ ioBytes: 4 << 20, keepSketch: true });
      assert.is(table.keptSketchCells(family), SKETCH_KEPT_CELLS);
      const pool = base[family].slice(0, 3000);
      // In prefix order into an empty table: whole subtrees built at once.
      table.apply(pool.slice(0, 2000).map((r, i) => ({ prefix: r.prefix, nh: i % 7 })));
      if (clear) table.clear(family);
      table.apply(ops.map(([at, nh]) => (nh < 0 ? { prefix: pool[at].prefix } : { prefix: pool[at].prefix, nh })));
      for (const cells of sizes) {
        assert.equal(table.sketch(family, cells), table.sketch(family, cells, table.records(family)), `IPv${family}, ${cells} cells`);
      }
    }),
    { numRuns: 40, seed: 5 },
  );
});

test("a batch about as large as the table leaves the kept sketch stale; the next sketch, or a settled moment, brings it up to date", async () => {
  const table = newFib({ ioBytes: 4 << 20, keepSketch: true });
  const cells = foldableCells(3000)!;
  table.apply(base[4].map((r, i) => ({ prefix: r.prefix, nh: i % 5 })));
  assert.ok(table.sketchesStale(), "a snapshot into an empty table");
  assert.equal(table.sketch(4, cells), table.sketch(4, cells, table.records(4)));
  assert.not.ok(table.sketchesStale(), "the sketch asked for walked the table once");
  table.apply(base[4].slice(0, 100).map((r) => ({ prefix: r.prefix, nh: 9 })));
  assert.not.ok(table.sketchesStale(), "a small batch is kept up change by change");
  table.apply(base[6].map((r, i) => ({ prefix: r.prefix, nh: i % 5 })));
  assert.ok(table.sketchesStale());
  // A walk a step at a time that the table changes under is cut short, and leaves it stale.
  const steps = table.refreshSketches(1000);
  steps.next();
  table.set(base[6][0].prefix, 9);
  let step = steps.next();
  while (!step.done) step = steps.next();
  assert.is(step.value, false);
  assert.ok(table.sketchesStale());
  const quiet = refreshWhenSettled(table, () => {}, 10);
  try {
    const end = performance.now() + 2000;
    while (table.sketchesStale() && performance.now() < end) await new Promise((r) => setTimeout(r, 5));
  } finally {
    quiet.stop();
  }
  assert.not.ok(table.sketchesStale(), "refreshed once the table went quiet");
  for (const family of [4, 6] as const) assert.equal(table.sketch(family, cells), table.sketch(family, cells, table.records(family)));
});

test("foldable sizes: the fewest cells at least those asked for whose parts divide the kept sketch's", () => {
  const part = SKETCH_KEPT_CELLS / SKETCH_K;
  for (const cells of [1, 3, 4, 100, 3000, 17000, 18000, SKETCH_KEPT_CELLS]) {
    const got = foldableCells(cells)!;
    assert.ok(got >= cells && got % SKETCH_K === 0 && part % (got / SKETCH_K) === 0, `${cells} → ${got}`);
    for (let smaller = got - SKETCH_K; smaller >= cells; smaller -= SKETCH_K) assert.ok(part % (smaller / SKETCH_K) !== 0, `${cells}: ${smaller} folds too`);
  }
  assert.is(foldableCells(18000), 18900, "1% of the real IPv4 table: 5% more cells, no walk");
  assert.is(foldableCells(SKETCH_KEPT_CELLS + 1), undefined, "more than the kept sketch holds");
});

test("the difference of two sketches is exactly the routes only one table holds, marked by side", () => {
  // A sketch of twice the difference comes apart but for bad luck (about 1 in 100 for a
  // hundred routes, less for more); when it does not, it says so.
  let runs = 0;
  let apart = 0;
  fc.assert(
    fc.property(fc.constantFrom<Family>(4, 6), fc.nat(400), fc.nat(200), fc.nat(200), fc.nat(1000), (family, changed, removed, added, seed) => {
      const v = variant(family, changed, removed, added, seed);
      const cells = cellsFor(v.mine.length + v.theirs.length);
      const diff = fib.sketchDifference(family, fib.sketch(family, cells, v.records), fib.sketch(family, cells));
      runs++;
      if (!diff) return;
      apart++;
      const found = keys(family, diff);
      assert.equal(found.filter((k) => (Number(k.split(",")[0]) & 255) === 1), v.mine);
      assert.equal(found.filter((k) => (Number(k.split(",")[0]) & 255) === 2), v.theirs);
    }),
    { numRuns: 60, seed: 11 },
  );
  assert.ok(apart >= runs - 3, `${runs - apart} of ${runs} sketch differences did not come apart`);
});

test("equal tables: an empty difference, at any size", () => {
  for (const family of [4, 6] as const) {
    const mine = fib.sketch(family, 30);
    assert.is(fib.sketchDifference(family, mine, fib.sketch(family, 30, fib.records(family)))?.length, 0);
  }
});

test("a sketch too small for the difference gives nothing", () => {
  const v = variant(4, 3000, 0, 0, 1);
  assert.is(fib.sketchDifference(4, fib.sketch(4, 300, v.records), fib.sketch(4, 300)), undefined);
});

test("a damaged sketch gives nothing rather than a wrong difference", () => {
  for (const family of [4, 6] as const) {
    const v = variant(family, 40, 10, 10, 2);
    const cells = cellsFor(120);
    const theirs = fib.sketch(family, cells);
    const clean = fib.sketch(family, cells, v.records);
    for (let word = 0; word < clean.length; word += 7) {
      const mine = clean.slice();
      mine[word] ^= 1 << (word % 32);
      assert.is(fib.sketchDifference(family, mine, theirs), undefined, `IPv${family}: word ${word} flipped`);
    }
  }
});

test("sketch sizes the I/O buffer cannot hold, or not a multiple of K, are refused", () => {
  assert.throws(() => fib.sketch(4, 100), /multiple of 3/);
  assert.throws(() => fib.sketch(6, 0), /positive multiple/);
  assert.throws(() => fib.sketch(6, fib.maxSketchCells(6) + SKETCH_K), /at most/);
  assert.throws(() => fib.sketchDifference(4, fib.sketch(4, 30), fib.sketch(4, 33)), /sketches of 30 and 33 cells/);
});

test.run();
