import { test } from "uvu";
import * as assert from "uvu/assert";
import { createServer, connect, type Socket } from "node:net";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FramedLink } from "../host/links/framed.ts";
import { SimLink } from "../host/links/sim.ts";
import { socketStream } from "../host/links/stream.ts";
import type { Message } from "../host/wire/messages.ts";

const update = (i: number): Message => ({ type: "update", channel: 1, sequence: i, family: 4, count: 1, data: new Uint8Array([0x40 | 16, i & 0x7f, 0x20, 1]) });

function received(link: FramedLink, n: number, timeoutMs = 5000): Promise<Message[]> {
  const got: Message[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${n} messages in ${timeoutMs} ms`)), timeoutMs);
    link.onMessage((m) => {
      got.push(m);
      if (got.length === n) {
        clearTimeout(timer);
        resolve(got);
      }
    });
  });
}

async function socketPair(listenOn: string | number): Promise<[Socket, Socket, () => void]> {
  const server = createServer();
  const accepted = new Promise<Socket>((resolve) => server.once("connection", resolve));
  await new Promise<void>((resolve) => (typeof listenOn === "number" ? server.listen(listenOn, "127.0.0.1", resolve) : server.listen(listenOn, resolve)));
  const address = server.address();
  const client = typeof listenOn === "number" && typeof address === "object" && address ? connect(address.port, "127.0.0.1") : connect(listenOn as string);
  await new Promise<void>((resolve) => client.once("connect", () => resolve()));
  return [client, await accepted, () => server.close()];
}

for (const kind of ["tcp", "unix"] as const) {
  test(`${kind}: a thousand messages each way arrive whole and in order`, async () => {
    const [c, s, stop] = await socketPair(kind === "tcp" ? 0 : join(mkdtempSync(join(tmpdir(), "fibcast-")), "link.sock"));
    const left = new FramedLink(socketStream(c));
    const right = new FramedLink(socketStream(s));
    const toRight = received(right, 1000);
    const toLeft = received(left, 1000);
    for (let i = 0; i < 1000; i++) {
      left.send(update(i));
      right.send(update(1000 + i));
    }
    assert.equal((await toRight).map((m) => (m as { sequence: number }).sequence), [...Array(1000).keys()]);
    assert.equal((await toLeft).map((m) => (m as { sequence: number }).sequence), [...Array(1000).keys()].map((i) => 1000 + i));
    assert.is(right.counters.badFrames, 0);
    const closed = new Promise<string>((resolve) => right.onClose(resolve));
    left.close();
    assert.is(await closed, "peer closed the connection");
    stop();
  });
}

test("a reader that does not read makes the sender refuse, not buffer without bound", async () => {
  const [c, s, stop] = await socketPair(0);
  s.pause();
  const link = new FramedLink(socketStream(c), { maxQueuedBytes: 256 * 1024 });
  const big: Message = { type: "flashData", offset: 0, crc: 0, data: new Uint8Array(60000).fill(1) };
  let refused = 0;
  for (let i = 0; i < 400; i++) if (!link.send(big)) refused++;
  assert.ok(refused > 0, "sends must be refused");
  assert.is(link.counters.backpressured, refused);
  assert.ok(link.stream.buffered < 256 * 1024 + 2 * 65536, `queued ${link.stream.buffered} bytes`);
  link.close();
  s.destroy();
  stop();
});

test("sim link: corruption and loss drop frames, counted, and the rest arrive in order", async () => {
  const sim = new SimLink({ corrupt: 0.0005, loss: 0.02, latencyMs: 1, seed: 3 });
  const drops: string[] = [];
  const left = new FramedLink(sim.a);
  const right = new FramedLink(sim.b, { onDrop: (r) => drops.push(r) });
  const got: number[] = [];
  right.onMessage((m) => got.push((m as { sequence: number }).sequence));
  for (let i = 0; i < 2000; i++) left.send(update(i));
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(got.length > 1500 && got.length < 2000, `${got.length} arrived`);
  for (let i = 1; i < got.length; i++) assert.ok(got[i] > got[i - 1], "in order");
  assert.ok(sim.counters.chunksLost > 0 && sim.counters.bytesCorrupted > 0);
  assert.ok(right.counters.badFrames > 0);
  assert.is(drops.length, right.counters.badFrames + right.counters.oversized + right.counters.badMessages);
});

test("sim link: bandwidth paces delivery, and a cut closes both ends", async () => {
  const sim = new SimLink({ bandwidthBps: 1_000_000, seed: 1 });
  const left = new FramedLink(sim.a);
  const right = new FramedLink(sim.b);
  const msg: Message = { type: "flashData", offset: 0, crc: 0, data: new Uint8Array(12500).fill(7) };   // ~0.1 s at 1 Mbit/s
  const start = performance.now();
  const got = received(right, 3);
  for (let i = 0; i < 3; i++) left.send(msg);
  await got;
  const ms = performance.now() - start;
  assert.ok(ms >= 290 && ms < 1000, `3 × 100 ms of wire time took ${ms.toFixed(0)} ms`);
  const reasons = Promise.all([new Promise((r) => left.onClose(r)), new Promise((r) => right.onClose(r))]);
  sim.cut();
  assert.equal(await reasons, ["link cut", "link cut"]);
  assert.is(left.send(msg), false, "a closed link sends nothing, and says so");
});

test.run();
