import { test } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { encodeChanges, type Change } from "../host/fib.ts";
import { Addr, Prefix } from "../host/netip.ts";
import { newFib } from "./support.ts";

const route = fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 }), fc.integer({ min: 0, max: 5 }));

function table(raw: [number, number, number][]): Change[] {
  const m = new Map<string, Change>();
  for (const [w, len, nh] of raw) {
    const prefix = Prefix.from(Addr.v4(w), len) as Prefix;
    m.set(prefix.toString(), { prefix, nh });
  }
  return [...m.values()].sort((a, b) => a.prefix.compare(b.prefix));
}

test("the diff of two tables turns the first into the second, and counts right", () => {
  const fib = newFib({ ioBytes: 1 << 20 });
  fc.assert(fc.property(fc.array(route, { maxLength: 200 }), fc.array(route, { maxLength: 200 }), fc.array(route, { maxLength: 50 }), (shared, onlyOld, onlyNew) => {
    const older = table([...shared, ...onlyOld]);
    const newer = table([...shared, ...onlyNew]);
    const result = fib.diff(4, encodeChanges(4, older), encodeChanges(4, newer));
    const before = new Map(older.map((c) => [c.prefix.toString(), c.nh]));
    const after = new Map(newer.map((c) => [c.prefix.toString(), c.nh]));
    const adds = [...after.keys()].filter((k) => !before.has(k)).length;
    const changed = [...after.entries()].filter(([k, nh]) => before.has(k) && before.get(k) !== nh).length;
    const removes = [...before.keys()].filter((k) => !after.has(k)).length;
    assert.equal([result.adds, result.changed, result.removes], [adds, changed, removes]);
    const a = newFib({ memoryMiB: 8, ioBytes: 64 * 1024 });
    a.apply(older);
    a.applyRecords(4, result.changes);
    const b = newFib({ memoryMiB: 8, ioBytes: 64 * 1024 });
    b.apply(newer);
    assert.is(a.digest(4), b.digest(4));
    assert.is(a.count(4), b.count(4));
  }), { numRuns: 100 });
});

test("tables larger than the I/O buffer are diffed in windows, with the same result", () => {
  const big = newFib({ ioBytes: 1 << 20 });
  // Room for a window of 10 records a side.
  const small = newFib({ memoryMiB: 8, ioBytes: 16 + 16 * 3 * 10 });
  fc.assert(fc.property(fc.array(route, { maxLength: 300 }), fc.array(route, { maxLength: 120 }), fc.array(route, { maxLength: 120 }), (shared, onlyOld, onlyNew) => {
    const older = encodeChanges(4, table([...shared, ...onlyOld]));
    const newer = encodeChanges(4, table([...onlyNew, ...shared]));
    const whole = big.diff(4, older, newer);
    const windowed = small.diff(4, older, newer);
    assert.equal([...windowed.changes], [...whole.changes]);
    assert.equal([windowed.adds, windowed.changed, windowed.removes], [whole.adds, whole.changed, whole.removes]);
  }), { numRuns: 200 });
});

test("equal tables have an empty diff", () => {
  const fib = newFib();
  const t = encodeChanges(4, table([[0x0a000000, 8, 1], [0x0a010000, 16, 2]]));
  const r = fib.diff(4, t, t);
  assert.is(r.changes.length, 0);
});

test.run();
