// Copies shared by the clients that ask for the same one: encoded once, a table of the
// moment they were asked for, and a new one once the table changes.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { CopyCache } from "../host/node/copies.ts";
import { NextHopTable } from "../host/nexthops.ts";
import { Prefix } from "../host/netip.ts";
import { generateRoutes } from "../host/generate.ts";
import { StreamDecoder } from "../host/wire/frame.ts";
import { decodeMessage, type Subset } from "../host/wire/messages.ts";
import { SnapshotReceiver } from "../host/wire/snapshot.ts";
import { newFib } from "./support.ts";

const everything: Subset = { families: [4, 6], vrfs: [0], prefixes: [] };

function chassisTable() {
  const fib = newFib();
  const nexthops = new NextHopTable();
  for (const family of [4, 6] as const) {
    for (const r of generateRoutes({ family, routes: family === 4 ? 20000 : 4000, seed: 3 })) fib.set(r.prefix, nexthops.intern(r.nexthop));
  }
  return { fib, nexthops };
}

/** The table a client rebuilds from a copy's frames, as both families' digests. */
function rebuilt(frames: readonly Uint8Array[]): { 4: bigint; 6: bigint } {
  const receiver = new SnapshotReceiver(newFib());
  const decoder = new StreamDecoder();
  const digests = { 4: 0n, 6: 0n };
  for (const frame of frames.flatMap((f) => decoder.push(f))) {
    const m = decodeMessage(frame);
    if (m instanceof Error) throw m;
    const got = receiver.feed(m);
    if (got instanceof Error) throw got;
    if (got) digests[got.family] = got.digest;
  }
  return digests;
}

test("clients asking for the same copy at once share one, and rebuild the table from it", () => {
  const { fib, nexthops } = chassisTable();
  const cache = new CopyCache(fib, nexthops);
  const a = cache.copy(everything, 7);
  const b = cache.copy({ families: [4, 6], vrfs: [0], prefixes: [] }, 7);
  assert.is(a, b, "the same subset at the same moment is one copy, encoded once");
  assert.ok(a.length > 6, `${a.length} frames`);
  assert.equal(rebuilt(a), { 4: fib.digest(4), 6: fib.digest(6) });
});

test("a copy is of the moment it was asked for: a change starts a new one, and the old one is sent to the end as it was", () => {
  const { fib, nexthops } = chassisTable();
  const cache = new CopyCache(fib, nexthops);
  const before = { 4: fib.digest(4), 6: fib.digest(6) };
  const old = cache.copy(everything, 7);
  fib.set(Prefix.mustParse("198.51.100.0/24"), nexthops.intern("192.0.2.99"));
  const fresh = cache.copy(everything, 7);
  assert.is.not(fresh, old);
  assert.equal(rebuilt(old), before);
  assert.equal(rebuilt(fresh), { 4: fib.digest(4), 6: fib.digest(6) });
  assert.is.not(cache.copy(everything, 8), fresh, "another sequence is another snapshot");
  assert.is.not(cache.copy({ families: [4], vrfs: [0], prefixes: [] }, 8), cache.copy(everything, 8), "another subset is another copy");
});

test.run();
