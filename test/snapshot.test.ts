import { test } from "uvu";
import * as assert from "uvu/assert";
import { generateRoutes } from "../host/generate.ts";
import { loadRoutes } from "../host/load.ts";
import { NextHopTable } from "../host/nexthops.ts";
import { decodeMessage, encodeMessage, type Message } from "../host/wire/messages.ts";
import { parseFrame, type Frame } from "../host/wire/frame.ts";
import { SnapshotError, SnapshotReceiver, snapshotMessages } from "../host/wire/snapshot.ts";
import { newFib } from "./support.ts";

const nexthops = new NextHopTable();
const source = newFib();
loadRoutes(source, [...generateRoutes({ family: 4, routes: 60000, seed: 3 }), ...generateRoutes({ family: 6, routes: 20000, seed: 3 })], nexthops);
// Through the codec, as on the wire.
const messages: Message[] = [...snapshotMessages(source, nexthops, { snapshot: 9, sequence: 4 })].map(
  (m) => decodeMessage(parseFrame(encodeMessage(m)) as Frame) as Message,
);

test("a snapshot rebuilds both tables with the sender's digests", () => {
  const target = newFib();
  const receiver = new SnapshotReceiver(target);
  const done = messages.map((m) => receiver.feed(m)).filter((r) => r !== undefined);
  assert.equal(done.map((r) => (r instanceof SnapshotError ? r.message : r!.family)), [4, 6]);
  for (const family of [4, 6] as const) {
    assert.is(target.digest(family), source.digest(family));
    assert.is(target.count(family), source.count(family));
  }
  assert.ok(messages.filter((m) => m.type === "snapshotChunk").length > 2, "several chunks");
  assert.is(receiver.name(0), nexthops.name(0));
});

test("a lost chunk, a chunk out of turn or a damaged chunk is refused, with a reason", () => {
  const chunks = messages.filter((m) => m.type === "snapshotChunk" && m.family === 4);
  const withoutOne = messages.filter((m) => m !== chunks[1]);
  const errors = (list: Message[]) => {
    const receiver = new SnapshotReceiver(newFib());
    return list.map((m) => receiver.feed(m)).filter((r): r is SnapshotError => r instanceof SnapshotError).map((e) => e.message);
  };
  assert.equal(errors(withoutOne)[0], "chunk 2 where 1 was due");
  const damaged = messages.map((m) => {
    if (m !== chunks[0] || m.type !== "snapshotChunk") return m;
    const data = m.data.slice();
    data[data.length >> 1] ^= 0x20;
    return { ...m, data };
  });
  const reasons = errors(damaged);
  assert.ok(reasons.length >= 1, "a damaged chunk must not pass");
  assert.match(reasons[0], /chunk 0: |digest/);
});

test.run();
