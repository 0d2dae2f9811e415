// The pure parts of multicast reliability: the receiver's sequencer (order, duplicates, when
// to NAK what) and the sender's rate (token bucket, loss lowers it, quiet raises it).

import { test } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { Sequencer } from "../host/multicast/sequencer.ts";
import { RateControl } from "../host/multicast/rate.ts";
import { ChannelPlan, subsetWithin } from "../host/multicast/channels.ts";
import { Prefix } from "../host/netip.ts";
import type { Subset } from "../host/wire/messages.ts";

test("sequencer: whatever the order and duplication, updates come out once each, in sequence", () => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 1, maxLength: 200 }), (arrivals) => {
    const s = new Sequencer<number>();
    const out = s.base(0);
    for (const a of arrivals) {
      const due = s.push(a, a);
      if (due !== "duplicate") out.push(...due);
    }
    const distinct = new Set(arrivals);
    let run = 0;
    while (distinct.has(run + 1)) run++;
    assert.equal(out, Array.from({ length: run }, (_, i) => i + 1));
    assert.is(s.duplicates, arrivals.length - distinct.size);
  }));
});

test("sequencer: before its base everything is held; the base releases what follows it and drops the rest", () => {
  const s = new Sequencer<string>();
  assert.equal(s.push(5, "e"), []);
  assert.equal(s.push(3, "c"), []);
  assert.equal(s.push(4, "d"), []);
  assert.equal(s.base(3), ["d", "e"]);
  assert.is(s.push(2, "b"), "duplicate");
  assert.is(s.next, 6);
});

test("sequencer: a gap is asked for after the reorder wait, as ranges; again once answered and the re-NAK wait is over, or when the request seems lost", () => {
  const s = new Sequencer<number>({ reorderMs: 3, renakMs: 50, lostNakMs: 1000 });
  s.base(0);
  for (const x of [1, 2, 5, 6, 9]) s.push(x, x);
  assert.equal(s.requests(0), [], "too soon: it may only be overtaken");
  assert.equal(s.requests(3), [[3, 2], [7, 2]]);
  assert.equal(s.requests(60), [], "not answered yet: the repair may be on its way");
  s.push(3, 3);
  s.answered(4);
  assert.equal(s.requests(60), [[4, 1]], "answered, and still missing: the repair was lost");
  assert.is(s.wakeAt(), 1003, "7 and 8: unanswered, asked again when the request is taken for lost");
  assert.equal(s.requests(1003), [[7, 2]]);
});

test("sequencer: a repair in hand is not asked for again, however late its turn comes; the rest still is", () => {
  const s = new Sequencer<number>({ reorderMs: 3, renakMs: 50, lostNakMs: 1000 });
  s.base(0);
  for (const x of [1, 4, 7]) s.push(x, x);
  s.requests(0);
  assert.equal(s.requests(3), [[2, 2], [5, 2]]);
  s.coming(2);
  s.coming(3);
  s.coming(5);
  s.coming(9);   // never missing: nothing to note
  s.answered(6);
  assert.is(s.wakeAt(), 53, "6 was answered and did not come: asked again after renakMs");
  assert.equal(s.requests(5000), [[6, 1]], "2, 3 and 5 are in hand: not asked again, even past lostNakMs");
  s.coming(6);
  assert.is(s.wakeAt(), undefined, "everything missing is in hand: nothing to wake for");
  assert.ok(s.gapped);
  assert.equal(s.push(2, 2), [2]);
  assert.equal(s.push(3, 3), [3, 4]);
  assert.equal(s.push(6, 6), []);
  assert.equal(s.push(5, 5), [5, 6, 7]);
  assert.is(s.gapped, false);
});

test("sequencer: a loss at the tail shows only from the sender's heartbeat", () => {
  const s = new Sequencer<number>({ reorderMs: 3 });
  s.base(10);
  s.push(11, 11);
  assert.is(s.gapped, false);
  assert.is(s.wakeAt(), undefined);
  s.heard(13, true);
  assert.ok(s.gapped);
  s.requests(0);
  assert.equal(s.requests(5), [[12, 2]]);
});

test("sequencer: what only a heartbeat from another path says was sent is asked for after aheadMs, as its datagrams may still be queued", () => {
  const s = new Sequencer<number>({ reorderMs: 3, aheadMs: 50 });
  s.base(10);
  s.heard(14, false);   // the unicast link outran the channel
  assert.equal(s.requests(0), []);
  assert.equal(s.requests(10), [], "not after reorderMs");
  assert.equal(s.push(11, 11), [11]);
  assert.equal(s.push(12, 12), [12]);   // the queued datagrams arrive
  assert.is(s.wakeAt(), 50);
  assert.equal(s.requests(50), [[13, 2]], "the rest was lost: asked for after aheadMs");
  const t = new Sequencer<number>({ reorderMs: 3, aheadMs: 50 });
  t.base(10);
  t.heard(14, false);
  t.requests(0);
  t.push(14, 14);   // a datagram behind the gap: the gap is real, reorderMs applies
  assert.equal(t.requests(3), [[11, 3]]);
});

test("sequencer: requests are bounded in ranges, oldest first; overflow shows", () => {
  const s = new Sequencer<number>({ reorderMs: 0, maxRanges: 3, maxHeld: 4 });
  s.base(0);
  for (const x of [2, 4, 6, 8, 10]) s.push(x, x);
  assert.equal(s.requests(0), [[1, 1], [3, 1], [5, 1]]);
  assert.ok(s.overflowed);
});

test("rate: the bucket paces bytes at the rate; loss lowers it toward the floor, quiet raises it back to the ceiling", () => {
  const r = new RateControl({ ceiling: 1e6, burst: 10000, adjustMs: 100 }, 0);
  assert.is(r.take(10000, 0), 0);
  assert.ok(Math.abs(r.take(5000, 0) - 5) < 1e-9, "5000 bytes at 1 MB/s: 5 ms");
  assert.is(r.take(5000, 5), 0);
  let t = 5;
  for (let i = 0; i < 20; i++) { t += 100; r.loss(t); r.loss(t + 100); }
  assert.is(r.rate, r.floor);
  for (let i = 0; i < 40; i++) { t += 100; r.take(1, t); }
  assert.is(r.rate, r.ceiling);
});

const P = Prefix.mustParse;
const sub = (families: (4 | 6)[], prefixes: string[] = []): Subset => ({ families, vrfs: [0], prefixes: prefixes.map(P) });

test("channels: containment of subsets, and the plan's mapping", () => {
  assert.ok(subsetWithin(sub([4], ["10.1.0.0/16"]), sub([4], ["10.0.0.0/8"])));
  assert.ok(subsetWithin(sub([4], ["10.1.0.0/16"]), sub([4, 6])));
  assert.not.ok(subsetWithin(sub([4]), sub([4], ["10.0.0.0/8"])));
  assert.not.ok(subsetWithin(sub([4, 6]), sub([4])));
  assert.not.ok(subsetWithin(sub([4], ["11.0.0.0/8"]), sub([4], ["10.0.0.0/8"])));
  const plan = new ChannelPlan({ group: "239.1.1.1", port: 5000, maxChannels: 2 });
  const all = plan.channelFor(sub([4, 6]))!;
  const v4 = plan.channelFor(sub([4]))!;
  assert.equal([all.id, all.port, v4.id, v4.port], [1, 5000, 2, 5001]);
  assert.is(plan.channelFor(sub([4, 6]))!.id, 1, "the same subset shares its channel");
  assert.is(plan.channelFor(sub([4], ["10.0.0.0/8"]))!.id, 2, "past the budget: the smallest channel that holds it");
  assert.is(plan.channelFor(sub([6], ["2001:db8::/32"]))!.id, 1);
  const narrow = new ChannelPlan({ group: "239.1.1.1", port: 5000, maxChannels: 1 });
  narrow.channelFor(sub([4]));
  assert.is(narrow.channelFor(sub([6])), undefined, "nothing holds it: unicast");
});

test.run();
