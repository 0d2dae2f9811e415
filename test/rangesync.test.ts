// Digest resync in one process: a client's table brought to a server's by range digests,
// against tables that differ by next hops, missing and extra routes, in dense and empty
// ranges; the bytes the client receives against a full snapshot; repairs that do not
// answer the request are refused.

import { test } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { generateRoutes } from "../host/generate.ts";
import type { Route } from "../host/routefile.ts";
import { Prefix, type Family } from "../host/netip.ts";
import type { Fib } from "../host/fib.ts";
import { RangeAnswers, RangeCache, RangeSync, RangeSyncError, pieceOf, rangeRepairs } from "../host/node/rangesync.ts";
import { EVERYTHING, normalizeSubset, subsetDigest } from "../host/node/subset.ts";
import { TOP_PIECES, encodeMessage, type Message, type Subset } from "../host/wire/messages.ts";
import { snapshotMessages } from "../host/wire/snapshot.ts";
import { newFib } from "./support.ts";

const EVERY_PIECE = { from: 0, to: TOP_PIECES };
const base = { 4: generateRoutes({ family: 4, routes: 40000, seed: 3 }), 6: generateRoutes({ family: 6, routes: 8000, seed: 3 }) };

/**
 * Runs the exchange for one family, or for several against one server session, the
 * server's side as a server session runs it; returns the bytes each way, the changes
 * applied, the sketches sent and the cells asked for in each, and the round trips: waves of
 * messages from the client, each sent in answer to the last wave's. `tamper` may change
 * what the client sends on its way.
 */
function exchange(client: Fib, server: Fib, families: Family | Family[], subset: Subset = EVERYTHING, tamper = (m: Message) => m) {
  const queue: Message[] = [];
  let up = 0, down = 0, applied = 0, rounds = 0;
  const asked: { family: Family; cells: number }[] = [];
  const syncs = new Map<Family, RangeSync>();
  const states = new Map<Family, string>();
  for (const family of [families].flat()) {
    syncs.set(family, new RangeSync(client, family, (m) => { up += encodeMessage(m).length; queue.push(tamper(m)); return true; }, (changes) => {
      applied += changes.length / (family === 4 ? 3 : 6);
      client.applyRecords(family, changes);
    }));
  }
  const answers = new RangeAnswers(server, new RangeCache(server), subset, (m) => {
    down += encodeMessage(m).length;
    const { family } = m as { family: Family };
    if (m.type === "sketchAsk") asked.push({ family, cells: m.cells });
    states.set(family, syncs.get(family)!.take(m as never));
    return true;
  });
  for (const sync of syncs.values()) sync.start();
  for (; queue.length > 0; rounds++) {
    for (const m of queue.splice(0)) {
      if (m.type === "rangeDigests") answers.request(m);
      else answers.sketch(m as Extract<Message, { type: "rangeSketch" }>);
    }
  }
  for (const family of syncs.keys()) assert.is(states.get(family), "done", `IPv${family} done`);
  const sketches = [...syncs.values()].reduce((n, sync) => n + sync.stats.sketches, 0);
  return { down, up, applied, rounds, sketches, asked };
}

/**
 * Sets the same routes on `server` and `client`, but one in `every` of them (spread by a
 * stride) with another next hop on the client; returns how many differ.
 */
function nextHopsDiffer(server: Fib, client: Fib, routes: readonly Route[], every: number): number {
  let differ = 0;
  routes.forEach((r, i) => {
    const other = (i * 7919) % every === 0;
    if (other) differ++;
    server.set(r.prefix, i % 97);
    client.set(r.prefix, other ? (i % 97) + 1 : i % 97);
  });
  return differ;
}

function snapshotBytes(fib: Fib): number {
  let n = 0;
  for (const m of snapshotMessages(fib, undefined, { snapshot: 1, sequence: 0 })) n += encodeMessage(m).length;
  return n;
}

test("1% of the routes differ: the client ends with the server's table, having received under 5% of a snapshot", () => {
  const server = newFib({ memoryMiB: 64 });
  const client = newFib({ memoryMiB: 64 });
  let differ = 0;
  for (const family of [4, 6] as const) {
    base[family].forEach((r, i) => {
      server.set(r.prefix, i % 97);
      const k = (i * 7919) % 200;
      if (k === 0) { client.set(r.prefix, (i % 97) + 1); differ++; } // another next hop
      else if (k === 1) differ++; // missing on the client
      else client.set(r.prefix, i % 97);
    });
  }
  client.set(Prefix.mustParse("198.51.100.0/24"), 5); // extra on the client
  differ++;
  let down = 0, applied = 0;
  for (const family of [4, 6] as const) {
    const r = exchange(client, server, family);
    assert.is(client.digest(family), server.digest(family), `IPv${family} equal`);
    assert.is(r.sketches, 1, `IPv${family}: a difference this wide is found by one sketch`);
    assert.is(r.rounds, 2, `IPv${family}: the first request, then the sketch`);
    down += r.down;
    applied += r.applied;
  }
  assert.is(applied, differ, "exactly the difference was applied");
  const full = snapshotBytes(server);
  assert.ok(down < 0.05 * full, `${down} B received, against ${full} B of snapshot`);
});

test("a family whose pieces tell little (IPv6 fills a handful) is sketched for the share the card's other family showed", () => {
  const tables = () => {
    const server = newFib({ memoryMiB: 64 });
    const client = newFib({ memoryMiB: 64 });
    for (const family of [4, 6] as const) nextHopsDiffer(server, client, base[family], 140); // 0.7%
    return { server, client };
  };
  const alone = tables();
  const blind = exchange(alone.client, alone.server, 6).asked;
  const both = tables();
  const r = exchange(both.client, both.server, [4, 6]);
  for (const family of [4, 6] as const) assert.is(both.client.digest(family), both.server.digest(family), `IPv${family} equal`);
  assert.is(r.sketches, 2, "one sketch a family, each came apart");
  assert.is(r.rounds, 2);
  const told = r.asked.find((a) => a.family === 6)!.cells;
  assert.is(blind.length, 1);
  // Alone, the 2% floor; with IPv4's estimate, about 1.5 × 0.7%.
  assert.ok(told < 0.75 * blind[0].cells, `IPv6: ${told} cells with IPv4's estimate, ${blind[0].cells} without`);
});

test("a difference too wide for one sketch is found by several, each of a range of pieces, one round trip each", () => {
  // A 256 KiB I/O buffer holds a sketch of about 3800 IPv4 cells (1250 prefixes that
  // differ): 4% of 40k is 1600, under the 8% past which pieces go whole.
  const server = newFib({ memoryMiB: 64, ioBytes: 1 << 18 });
  const client = newFib({ memoryMiB: 64, ioBytes: 1 << 18 });
  const differ = nextHopsDiffer(server, client, base[4], 25);
  const r = exchange(client, server, 4);
  assert.is(client.digest(4), server.digest(4));
  assert.ok(r.sketches >= 2, `${r.sketches} sketches`);
  assert.is(r.rounds, 1 + r.sketches, "the first request, then one round per sketch: no descent");
  assert.is(r.applied, differ, "exactly the difference was applied");
  assert.ok(r.down < 0.5 * snapshotBytes(server), `${r.down} B received, against ${snapshotBytes(server)} B of snapshot`);
});

test("a difference past 8% is answered with the routes of every piece that differs: no sketch to send up, no descent", () => {
  const server = newFib({ memoryMiB: 64 });
  const client = newFib({ memoryMiB: 64 });
  const differ = nextHopsDiffer(server, client, base[4], 10);
  const r = exchange(client, server, 4);
  assert.is(client.digest(4), server.digest(4));
  assert.is(r.sketches, 0);
  assert.is(r.rounds, 1, "the first request, answered whole");
  assert.is(r.applied, differ, "exactly the difference was applied");
  const snapshot = snapshotBytes(server);
  assert.ok(r.down < 1.05 * snapshot, `${r.down} B received, against ${snapshot} B of snapshot`);
  assert.ok(r.up < 5 * TOP_PIECES, `${r.up} B sent up: the first request only (a digest of 4 B a piece)`);
  // IPv6 fills a handful of pieces, so its own pieces tell little: IPv4's share, 10%, is
  // taken. Each holds more routes than one repair carries: those are described further, and
  // their pieces then go whole.
  const six = { server: newFib({ memoryMiB: 64 }), client: newFib({ memoryMiB: 64 }) };
  nextHopsDiffer(six.server, six.client, base[4], 10);
  const differ6 = nextHopsDiffer(six.server, six.client, generateRoutes({ family: 6, routes: 30000, seed: 8 }), 10);
  const r6 = exchange(six.client, six.server, [4, 6]);
  for (const f of [4, 6] as const) assert.is(six.client.digest(f), six.server.digest(f));
  assert.is(r6.sketches, 0);
  assert.is(r6.rounds, 2, "the first requests, then one describing the IPv6 pieces too large for a repair");
  assert.is(r6.applied, differ + differ6);
  assert.ok(r6.down < 1.05 * snapshotBytes(six.server), `${r6.down} B received, against ${snapshotBytes(six.server)} B of snapshot`);
});

test("tables that differ anywhere, by anything, end equal; equal tables cost one request and one repair", () => {
  const prefixes = base[4].slice(0, 3000).map((r) => r.prefix).concat([Prefix.mustParse("0.0.0.0/0"), Prefix.mustParse("10.0.0.0/7"), Prefix.mustParse("255.255.255.255/32")]);
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(prefixes.length - 1), fc.nat(3), fc.nat(3))), (edits) => {
    const server = newFib();
    const client = newFib();
    prefixes.forEach((p, i) => { server.set(p, i % 5); client.set(p, i % 5); });
    for (const [i, side, nh] of edits) {
      const fib = side % 2 === 0 ? server : client;
      if (nh === 0) fib.remove(prefixes[i]); else fib.set(prefixes[i], nh + 10);
    }
    exchange(client, server, 4);
    assert.is(client.digest(4), server.digest(4));
  }), { numRuns: 40 });
  const a = newFib();
  const b = newFib();
  for (const p of prefixes) { a.set(p, 1); b.set(p, 1); }
  const r = exchange(a, b, 4);
  assert.is(r.applied, 0);
  assert.ok(r.down < 40, `an equal table: ${r.down} B back`);
});

test("a client missing a whole region gets it whole; a client of a subset gets only the subset", () => {
  const server = newFib({ memoryMiB: 64 });
  const client = newFib({ memoryMiB: 64 });
  base[6].forEach((r, i) => { server.set(r.prefix, i % 7); if (!Prefix.mustParse("2a00::/8").contains(r.prefix.addr)) client.set(r.prefix, i % 7); });
  exchange(client, server, 6);
  assert.is(client.digest(6), server.digest(6));

  const subset = normalizeSubset({ families: [4], vrfs: [0], prefixes: [Prefix.mustParse("64.0.0.0/2")] });
  const card = newFib({ memoryMiB: 64 });
  exchange(card, server, 4, subset); // from nothing
  base[4].forEach((r, i) => server.set(r.prefix, i % 11));
  exchange(card, server, 4, subset);
  assert.is(card.digest(4), subsetDigest(server, subset, 4));
  for (const [p] of card.routes(4)) assert.ok(p.overlaps(Prefix.mustParse("64.0.0.0/2")), `${p} is outside the subset`);
});

test("a range split into a run of small prefixes is sent whole, not parted a few prefixes a round trip", () => {
  // 2001:db8:0:1::1 to the end of its /64 as prefixes: ::1/128, ::2/127, ::4/126 … 8000::/65.
  const run = Array.from({ length: 64 }, (_, k) => Prefix.mustParse(`2001:db8:0:1:${(BigInt(1) << BigInt(k)).toString(16).padStart(16, "0").replace(/(.{4})(?!$)/g, "$1:")}/${128 - k}`));
  const server = newFib();
  const client = newFib();
  base[6].slice(0, 2000).forEach((r) => { server.set(r.prefix, 1); client.set(r.prefix, 1); });
  run.forEach((p, i) => { server.set(p, 2); if (i !== 40) client.set(p, i === 3 ? 3 : 2); });
  const r = exchange(client, server, 6);
  assert.is(client.digest(6), server.digest(6));
  assert.is(r.applied, 2);
  assert.ok(r.rounds <= 6, `${r.rounds} round trips`);
});

test("cards that hold the same table ask the same: the server answers each request once while its table does not change", () => {
  const server = newFib();
  base[4].slice(0, 5000).forEach((r, i) => server.set(r.prefix, i % 9));
  const cards = [newFib(), newFib()];
  for (const card of cards) base[4].slice(0, 5000).forEach((r, i) => { if (i % 40) card.set(r.prefix, i % 9); });
  const cache = new RangeCache(server);
  const asked = cards.map((card) => {
    const sent: Extract<Message, { type: "rangeDigests" }>[] = [];
    new RangeSync(card, 4, (m) => { sent.push(m as never); return true; }, () => {}).start();
    return sent[0];
  });
  const first = cache.repairs(EVERYTHING, asked[0], server.digest(4));
  assert.is(cache.repairs(EVERYTHING, asked[1], server.digest(4)), first, "the second card's answer is the first's");
  assert.equal([...rangeRepairs(server, EVERYTHING, asked[1], server.digest(4))], [...first], "and it is what the request asks");
  assert.is.not(cache.repairs(EVERYTHING, { ...asked[1], request: 1 }, server.digest(4)), first, "another request is answered anew");
  server.set(Prefix.mustParse("198.51.100.0/24"), 1);
  assert.is.not(cache.repairs(EVERYTHING, asked[1], server.digest(4)), first, "a changed table answers anew");
});

test("a sketch that does not come apart is asked for again, twice the size, and then the request is answered by descent", () => {
  const server = newFib();
  const client = newFib();
  base[4].forEach((r, i) => {
    server.set(r.prefix, i % 97);
    if (i % 100 !== 0) client.set(r.prefix, i % 97);
  });
  const sizes: number[] = [];
  // A line that damages every sketch: no sketch comes apart.
  const r = exchange(client, server, 4, EVERYTHING, (m) => {
    if (m.type !== "rangeSketch") return m;
    if (m.first === 0) sizes.push(m.cells);
    const data = m.data.slice();
    data[9] ^= 0x40;
    return { ...m, data };
  });
  assert.is(client.digest(4), server.digest(4));
  assert.is(r.sketches, 2);
  assert.equal(sizes, [sizes[0], 2 * sizes[0]]);
  assert.ok(r.rounds > 3, `${r.rounds} rounds: the descent followed`);
});

test("cards that send the same sketch get the same answer, computed once while the table does not change", () => {
  const server = newFib();
  base[4].forEach((r, i) => server.set(r.prefix, i % 97));
  const cache = new RangeCache(server);
  const theirs = server.sketch(4, 3000, server.records(4).filter((_, w) => Math.floor(w / 3) % 50 !== 0));
  const first = cache.sketchAnswer(4, EVERYTHING, 0, EVERY_PIECE, theirs, server.digest(4));
  assert.ok(first && first.length > 0);
  assert.is(cache.sketchAnswer(4, EVERYTHING, 0, EVERY_PIECE, theirs.slice(), server.digest(4)), first, "the second card's answer is the first's");
  const other = theirs.slice();
  other[5] ^= 1;
  assert.is.not(cache.sketchAnswer(4, EVERYTHING, 0, EVERY_PIECE, other, server.digest(4)), first, "another sketch is answered anew");
  server.set(Prefix.mustParse("198.51.100.0/24"), 1);
  assert.is.not(cache.sketchAnswer(4, EVERYTHING, 0, EVERY_PIECE, theirs, server.digest(4)), first, "a changed table answers anew");
});

test("a sketch the server did not ask for, or cells out of order, end the exchange", () => {
  const server = newFib();
  base[4].slice(0, 3000).forEach((r, i) => server.set(r.prefix, i % 7));
  const sent: Message[] = [];
  const answers = new RangeAnswers(server, new RangeCache(server), EVERYTHING, (m) => { sent.push(m); return true; });
  const cells = server.sketch(4, 300);
  const data = new Uint8Array(cells.buffer, 0, 20 * 150);
  const refused = (m: Extract<Message, { type: "rangeSketch" }>, why: RegExp) => assert.throws(() => answers.sketch(m), (e: Error) => e instanceof RangeSyncError && why.test(e.message));
  refused({ type: "rangeSketch", family: 4, request: 0, cells: 300, first: 0, data }, /not asked for/);
  const client = newFib();
  base[4].slice(0, 3000).forEach((r, i) => { if (i % 30) client.set(r.prefix, i % 7); }); // 3% missing: a sketch
  const sync = new RangeSync(client, 4, (m) => { sent.push(m); return true; }, () => {});
  sync.start();
  answers.request(sent.shift() as Extract<Message, { type: "rangeDigests" }>);
  const ask = sent.shift() as Extract<Message, { type: "sketchAsk" }>;
  assert.is(ask.type, "sketchAsk");
  refused({ type: "rangeSketch", family: 4, request: 0, cells: ask.cells, first: 3, data: data.subarray(0, 20) }, /from 3, where 0 were expected/);
  refused({ type: "rangeSketch", family: 4, request: 0, cells: ask.cells + 3, first: 0, data: data.subarray(0, 20) }, /not asked for/);
});

test("a repair that does not answer the request is refused", () => {
  const server = newFib();
  const client = newFib();
  base[4].slice(0, 500).forEach((r, i) => { server.set(r.prefix, 1); if (i % 50) client.set(r.prefix, 1); });
  const sent: Message[] = [];
  const sync = new RangeSync(client, 4, (m) => { sent.push(m); return true; }, () => {});
  sync.start();
  const request = sent[0] as Extract<Message, { type: "rangeDigests" }>;
  const [good] = [...rangeRepairs(server, EVERYTHING, request, server.digest(4))];
  const refused = (m: Message, why: RegExp) => assert.throws(() => sync.take(m as never), (e: Error) => e instanceof RangeSyncError && why.test(e.message));
  refused({ ...good, request: 9 }, /not outstanding/);
  refused({ ...good, nodes: [[{ piece: 4096, descend: false }]] }, /no piece 4096/);
  // A descent within a prefix that is not inside its piece (piece 1 of 0/0 split 12 is 0.16.0.0/12).
  refused({ ...good, nodes: [[{ piece: 1, descend: true, within: Prefix.mustParse("10.0.0.0/16") }]] }, /cannot split within 10\.0\.0\.0\/16/);
  refused({ ...good, first: 1 }, /nodes 1\+1 of 1/);
  // Routes in a piece the repair does not replace.
  const other = newFib();
  other.set(pieceOf(Prefix.mustParse("0.0.0.0/0"), 12, 4000), 3);
  const stray = other.encodeRoutes(4, other.records(4), 1000);
  refused({ ...good, nodes: [[{ piece: 1, descend: false }]], count: stray.count, data: stray.bytes }, /outside the pieces replaced/);
  refused({ ...good, nodes: [[{ piece: 1, descend: false }]], count: 1, data: new Uint8Array([0xff]) }, /repair of request 0/);
  assert.is(sync.take(good), "more", "the good one still answers");
});

test.run();
