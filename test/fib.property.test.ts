// Property tests: the WASM FIB against the golden table on random tables with deep nesting,
// default routes, host routes, and random insert / replace / delete sequences. After every
// change, every address at a touched prefix's edges (first, last, one below, one above)
// answers as the golden table does; at the end counts, digests, exact gets and the ordered
// walk agree too, and the table takes exactly the memory a fresh build of the same routes
// takes (no leak, no node left behind by removals).

import { test } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { Addr, type Family, Prefix } from "../host/netip.ts";
import { ReferenceTable } from "../host/reference.ts";
import { tableDigest } from "../host/digest.ts";
import { encodeChanges, sortRecords, NO_ROUTE, type Change } from "../host/fib.ts";
import { newFib } from "./support.ts";

interface Op {
  remove: boolean;
  anchor: number;
  len: number;
  nh: number;
}

const word = fc.integer({ min: 0, max: 0xffffffff });
// A few anchors, with the extremes of the address space among them; every prefix is an
// anchor cut at some length, so prefixes nest deeply.
const anchors4 = fc.array(word, { minLength: 1, maxLength: 4 }).map((ws) => [0, 0xffffffff, ...ws].map((w) => Addr.v4(w)));
const anchors6 = fc
  .array(fc.tuple(word, word, word, word), { minLength: 1, maxLength: 4 })
  .map((ws) => [[0, 0, 0, 0], [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], ...ws].map(([a, b, c, d]) => Addr.v6(a, b, c, d)));

function ops(maxLen: number) {
  return fc.array(
    fc.record({
      remove: fc.boolean(),
      anchor: fc.nat(),
      len: fc.oneof(fc.integer({ min: 0, max: maxLen }), fc.constantFrom(0, maxLen, maxLen - 1, 8, 16, 24, 32, 64)),
      nh: fc.integer({ min: 0, max: 0xfffffe }),
    }),
    { minLength: 1, maxLength: 60 },
  );
}

function edges(p: Prefix): Addr[] {
  return [p.first(), p.last(), p.first().prev(), p.last().next()].filter((a): a is Addr => a !== undefined);
}

function run(family: Family, anchors: Addr[], sequence: Op[]): void {
  const fib = newFib({ memoryMiB: 8, ioBytes: 64 * 1024 });
  const golden = new ReferenceTable();
  const touched: Prefix[] = [];
  for (const op of sequence) {
    const a = anchors[op.anchor % anchors.length];
    const len = Math.min(op.len, a.bitLen);
    const p = Prefix.from(a, len) as Prefix;
    touched.push(p);
    if (op.remove) {
      const had = golden.remove(p);
      assert.is(fib.remove(p), had ? "ok" : "not-found", `remove ${p}`);
    } else {
      golden.set(p, op.nh);
      assert.is(fib.set(p, op.nh), "ok", `set ${p}`);
    }
    for (const addr of edges(p)) assert.is(fib.lookup(addr), golden.lookup(addr), `after ${op.remove ? "remove" : "set"} ${p}: lookup ${addr}`);
  }
  // The batch exact match answers as get() does, record by record.
  const asked = encodeChanges(family, touched.map((prefix) => ({ prefix })));
  assert.equal([...fib.getRecords(family, asked)], touched.map((p) => golden.get(p) ?? NO_ROUTE));
  for (const p of touched) {
    assert.is(fib.get(p), golden.get(p), `get ${p}`);
    for (const addr of edges(p)) assert.is(fib.lookup(addr), golden.lookup(addr), `lookup ${addr}`);
  }
  assert.is(fib.count(family), golden.count(family));
  const walked = [...fib.routes(family)].map(([p, nh]) => `${p}=${nh}`);
  const expected = golden.routes(family);
  assert.equal(walked, expected.map(([p, nh]) => `${p}=${nh}`));
  assert.is(fib.digest(family), tableDigest(expected));
  const fresh = newFib({ memoryMiB: 8, ioBytes: 64 * 1024 });
  for (const [p, nh] of expected) fresh.set(p, nh);
  assert.is(fib.memoryUsed(family), fresh.memoryUsed(family), "memory of the table against a fresh build");
  assert.is(fib.allocatedBytes(), fresh.allocatedBytes(), "allocated bytes against a fresh build");
  // Removing everything leaves an empty table with no nodes.
  for (const [p] of expected) assert.is(fib.remove(p), "ok");
  assert.is(fib.count(family), 0);
  assert.is(fib.nodes(family), 0);
  assert.is(fib.digest(family), 0n);
}

test("IPv4: random nested tables and change sequences agree with the golden table", () => {
  fc.assert(fc.property(anchors4, ops(32), (anchors, sequence) => run(4, anchors, sequence)), { numRuns: 300 });
});

test("IPv6: random nested tables and change sequences agree with the golden table", () => {
  fc.assert(fc.property(anchors6, ops(128), (anchors, sequence) => run(6, anchors, sequence)), { numRuns: 300 });
});

// A sorted batch into an empty part of the table is built a subtree at a time (build.ts),
// everything else change by change: either way the table must be the one single sets in
// the same order leave, to the byte. Part of the table exists before the batch, some
// records carry host bits, and the batch is applied in pieces cut anywhere (a snapshot's
// messages cut a bucket's routes apart; the rest goes on below the nodes built), so runs
// start, stop and fall back in every way.
function runBatch(family: Family, anchors: Addr[], before: Op[], batch: Op[], hostBits: number[], cuts: number[]): void {
  const prefixOf = (op: Op) => {
    const a = anchors[op.anchor % anchors.length];
    return Prefix.from(a, Math.min(op.len, a.bitLen)) as Prefix;
  };
  const changes = (ops: Op[]): Change[] => ops.map((op) => (op.remove ? { prefix: prefixOf(op) } : { prefix: prefixOf(op), nh: op.nh }));
  const batched = newFib({ memoryMiB: 8, ioBytes: 64 * 1024 });
  const single = newFib({ memoryMiB: 8, ioBytes: 64 * 1024 });
  for (const fib of [batched, single]) fib.apply(changes(before));
  const records = sortRecords(family, encodeChanges(family, changes(batch)));
  const words = family === 4 ? 3 : 6;
  const n = records.length / words;
  // Host bits are ignored by a set; put some in the last address word of a few records.
  for (const k of hostBits) {
    const i = k % Math.max(n, 1);
    const len = (records[i * words] >>> 8) & 255;
    if (i >= n || len >= family * 8 || len < family * 8 - 32) continue;
    records[i * words + words - 2] |= 1 << (k % (family * 8 - len));
  }
  const one = records.slice();
  for (let i = 0; i < n; i++) single.applyRecords(family, one.subarray(i * words, (i + 1) * words));
  const at = [...new Set([0, ...cuts.map((c) => c % (n + 1)), n])].sort((a, b) => a - b);
  for (let k = 1; k < at.length; k++) batched.applyRecords(family, records.subarray(at[k - 1] * words, at[k] * words));
  for (let i = 0; i < n; i++) assert.is(records[i * words] >>> 16, one[i * words] >>> 16, `status of record ${i}`);
  assert.equal([...batched.routes(family)].map(([p, nh]) => `${p}=${nh}`), [...single.routes(family)].map(([p, nh]) => `${p}=${nh}`));
  assert.is(batched.digest(family), single.digest(family));
  assert.equal(batched.stats(family), single.stats(family));
  assert.is(batched.allocatedBytes(), single.allocatedBytes());
  for (const op of [...before, ...batch]) {
    for (const addr of edges(prefixOf(op))) assert.is(batched.lookup(addr), single.lookup(addr), `lookup ${addr}`);
  }
}

test("a sorted batch leaves the table single sets leave, byte for byte", () => {
  const sets = (maxLen: number) => ops(maxLen).map((os) => os.map((op) => ({ ...op, remove: op.remove && op.nh % 4 === 0 })));
  const hostBits = fc.array(fc.nat(), { maxLength: 6 });
  const cuts = fc.array(fc.nat(), { maxLength: 4 });
  fc.assert(fc.property(anchors4, ops(32), sets(32), hostBits, cuts, (a, before, batch, bits, at) => runBatch(4, a, before, batch, bits, at)), { numRuns: 300 });
  fc.assert(fc.property(anchors6, ops(128), sets(128), hostBits, cuts, (a, before, batch, bits, at) => runBatch(6, a, before, batch, bits, at)), { numRuns: 300 });
});

test("sortRecords orders by prefix and keeps the last change of each, as applying in order would", () => {
  for (const [family, anchors, maxLen] of [[4, anchors4, 32], [6, anchors6, 128]] as const) {
    fc.assert(
      fc.property(anchors, ops(maxLen), (as, sequence) => {
        const changes: Change[] = sequence.map((op) => {
          const a = as[op.anchor % as.length];
          const prefix = Prefix.from(a, Math.min(op.len, a.bitLen)) as Prefix;
          return op.remove ? { prefix } : { prefix, nh: op.nh };
        });
        const last = new Map(changes.map((c) => [c.prefix.toString(), c]));
        const expected = [...last.values()].sort((x, y) => x.prefix.compare(y.prefix));
        assert.equal([...sortRecords(family, encodeChanges(family, changes))], [...encodeChanges(family, expected)]);
      }),
      { numRuns: 200 },
    );
  }
});

test("batch lookups answer as single lookups on random tables", () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(word, fc.integer({ min: 0, max: 32 })), { maxLength: 200 }), fc.array(word, { maxLength: 500 }), (routes, addrs) => {
      const fib = newFib({ memoryMiB: 8, ioBytes: 64 * 1024 });
      routes.forEach(([w, len], i) => fib.set(Prefix.from(Addr.v4(w), len) as Prefix, i));
      const input = new Uint32Array(addrs);
      const out = new Uint32Array(addrs.length);
      fib.lookupBatch(4, input, out);
      addrs.forEach((a, i) => assert.is(out[i], fib.lookup4(a)));
    }),
    { numRuns: 100 },
  );
});

test.run();
