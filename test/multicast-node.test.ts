// Multicast distribution between nodes in one process, over the simulated backplane: proven
// line cards take their updates on a sealed channel, repair what the fabric loses by
// unicast, and end with exactly the table their route processor implies — at 5% and 20%
// loss, with reordering, duplication and corruption; an unproven card gets nothing; an
// evicted one cannot read what follows the re-key.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes } from "node:crypto";
import { firmwareImage } from "../host/firmware.ts";
import { FramedLink } from "../host/links/framed.ts";
import { SimLink } from "../host/links/sim.ts";
import { SimBackplane, type MulticastImpairment } from "../host/links/multicast.ts";
import { Prefix } from "../host/netip.ts";
import { Node, type NodeOptions } from "../host/node/node.ts";
import { subsetDigest } from "../host/node/subset.ts";
import { Trust, type Credential } from "../host/auth/trust.ts";
import { Opener, SealError } from "../host/multicast/seal.ts";
import type { Message, Subset } from "../host/wire/messages.ts";
import { ClientSession } from "../host/node/client.ts";
import { GIVE_UP } from "../host/node/liveness.ts";

const firmware = firmwareImage();
const timers = { heartbeatMs: 20, deadAfter: 3 };

interface Bench {
  rp: Node;
  cards: Node[];
  backplane: SimBackplane;
  secrets: Map<string, Uint8Array>;
}

const hmac = (node: string, secret: Uint8Array): Credential => ({ node, method: "hmac-sha256", secret });

/** A route processor multicasting to `n` line cards (each proven by its own secret) over a backplane. */
interface BenchOptions {
  impairment?: MulticastImpairment;
  subsets?: (Subset | undefined)[];
  maxChannels?: number;
  backlogBytes?: number;
  /** One-way latency of the cards' links (default 1 ms). */
  latencyMs?: number;
  /** More options for the first card (a line card that serves engines). */
  first?: Partial<NodeOptions>;
}

async function bench(n: number, options: BenchOptions = {}): Promise<Bench> {
  const backplane = new SimBackplane(options.impairment ?? {}, 7);
  const secrets = new Map<string, Uint8Array>();
  const clients: Record<string, { hmac: string }> = {};
  for (let i = 0; i < n; i++) {
    const secret = new Uint8Array(randomBytes(32));
    secrets.set(`lc${i}`, secret);
    clients[`lc${i}`] = { hmac: Buffer.from(secret).toString("base64") };
  }
  const multicast = (port: number) => ({ transport: backplane.transport(), group: "239.5.0.1", port, rateBytes: 400e6, maxChannels: options.maxChannels });
  const rp = new Node({
    id: "rp0", role: "rp", index: 0, firmware, timers, memoryMiB: 64, backlogBytes: options.backlogBytes,
    sources: [{ protocol: "bgp", distance: 20, generate: { v4: 4000, v6: 1000, seed: 3 } }],
    trust: Trust.parse({ clients }, "trust"), multicast: multicast(6000), log: journaled("rp0"),
  });
  await rp.loadSources();
  const cards: Node[] = [];
  for (let i = 0; i < n; i++) {
    const id = `lc${i}`;
    const subset = options.subsets?.[i];
    cards.push(card({ id, servers: ["rp0"], credential: hmac(id, secrets.get(id)!), multicast: multicast(7000 + 16 * i), ...(subset ? { subset } : {}), ...(i === 0 ? options.first : {}) }));
  }
  for (const c of cards) wire(rp, c, options.latencyMs);
  return { rp, cards, backplane, secrets };
}

/** Each node's last log lines: a wait that times out says what the nodes went through. */
const journal = new Map<string, string[]>();
function journaled(id: string): NodeOptions["log"] {
  const lines: string[] = [];
  journal.set(id, lines);
  return (line) => { lines.push(JSON.stringify(line)); if (lines.length > 12) lines.shift(); };
}

function card(o: Omit<NodeOptions, "firmware" | "timers" | "role">): Node {
  return new Node({ firmware, timers, memoryMiB: 32, role: "lc", log: journaled(o.id), ...o });
}

/** Every link made, to cut when a test ends (sessions that end stop their heartbeats). */
const links: SimLink[] = [];

function wire(server: Node, client: Node, latencyMs = 1): SimLink {
  const link = new SimLink({ latencyMs });
  links.push(link);
  server.accept(new FramedLink(link.a, { maxQueuedBytes: 64 << 20 }));
  client.connect(server.id, new FramedLink(link.b, { maxQueuedBytes: 64 << 20 }));
  return link;
}

async function until(what: string, ok: () => boolean, ms = 10000, nodes: Node[] = []): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) {
      const states = JSON.stringify(nodes.map((n) => { const s = n.status(); return [s.id, s.active, s.stale, s.routes, s.sessions, s.clients]; }));
      throw new Error(`timed out waiting for ${what}: ${states}\n${nodes.flatMap((n) => journal.get(n.id) ?? []).join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

const holdsItsSubset = (server: Node, c: Node) => ([4, 6] as const).every((f) => c.fib.digest(f) === subsetDigest(server.fib, c.subset, f));
const allConverged = (b: Bench) => b.cards.every((c) => c.status().active === "rp0" && !c.status().stale && holdsItsSubset(b.rp, c));
const channelOf = (n: Node) => n.status().channels.serving[0];
const receiving = (c: Node) => c.status().channels.receiving[0];

function stop(b: Bench): void {
  b.rp.channels?.close();
  for (const c of b.cards) c.channels?.close();
  for (const l of links.splice(0)) l.cut();
}

test("proven cards are granted a sealed channel and take churn by multicast: the route processor sends each update once", async () => {
  const sent: number[] = [];
  for (const n of [1, 4]) {
    const b = await bench(n);
    await until("cards synced and on the channel", () => allConverged(b) && channelOf(b.rp)?.receiving === n, 10000, [b.rp, ...b.cards]);
    const before = channelOf(b.rp).counters.updateBytes;
    const unicastBefore = b.rp.status().counters.bytesOut;
    await b.rp.churn(3000, 1e9, 11); // one batch: the same updates whatever the timing
    await until("churn converged", () => allConverged(b));
    const ch = channelOf(b.rp);
    assert.is(ch.receiving, n);
    sent.push(ch.counters.updateBytes - before);
    // The unicast links carried heartbeats, not the churn.
    const unicast = b.rp.status().counters.bytesOut - unicastBefore;
    assert.ok(unicast < 0.2 * sent.at(-1)! * n, `unicast ${unicast} bytes beside ${sent.at(-1)} multicast`);
    for (const c of b.cards) {
      const r = receiving(c);
      assert.ok(r.updates > 0, `${c.id} took updates by multicast`);
      assert.is(r.badTag, 0);
    }
    stop(b);
  }
  assert.ok(sent[0] > 0);
  assert.ok(Math.abs(sent[1] - sent[0]) / sent[0] <= 0.05, `sender bytes 1 card ${sent[0]}, 4 cards ${sent[1]}`);
});

for (const loss of [0.05, 0.2]) {
  test(`at ${loss * 100}% loss, with reordering, duplication and corruption, every card converges and the counters add up`, async () => {
    const b = await bench(3, { impairment: { loss, reorder: 0.05, duplicate: 0.05, corrupt: 0.02 } });
    await until("cards synced", () => allConverged(b), 10000, [b.rp, ...b.cards]);
    await b.rp.churn(4000, 40000, 12);
    await until("churn converged", () => allConverged(b), 20000);
    const ch = channelOf(b.rp);
    assert.ok(ch.counters.repairs > 0, "losses were repaired");
    const rejected = b.cards.reduce((n, c) => { const r = receiving(c); return n + r.badTag + r.oldEpoch + r.unknownEpoch + r.malformed; }, 0);
    assert.is(rejected, b.backplane.counters.corrupted, "every corrupted datagram, and nothing else, was rejected");
    const sum = (k: "naks" | "duplicates" | "repairs") => b.cards.reduce((n, c) => n + receiving(c)[k], 0);
    assert.ok(sum("naks") > 0 && sum("repairs") > 0, "losses were asked for and repaired");
    assert.ok(sum("duplicates") > 0, "duplicates were ignored");
    stop(b);
  });
}

test("a card with no key, or the wrong one, is refused and learns nothing", async () => {
  const b = await bench(1);
  const stranger = card({ id: "lc9", servers: ["rp0"], credential: hmac("lc9", new Uint8Array(32).fill(1)), multicast: { transport: b.backplane.transport(), group: "239.5.0.1", port: 7100, rateBytes: 1e6 } });
  const impostor = card({ id: "lc0", servers: ["rp0"], credential: hmac("lc0", new Uint8Array(32).fill(2)), multicast: { transport: b.backplane.transport(), group: "239.5.0.1", port: 7200, rateBytes: 1e6 } });
  const keyless = card({ id: "lc8", servers: ["rp0"] });
  const logs: string[] = [];
  const rp = b.rp as unknown as { note: (e: string, f: Record<string, unknown>) => void };
  const note = rp.note.bind(b.rp);
  rp.note = (e, f) => { logs.push(`${e} ${JSON.stringify(f)}`); note(e, f); };
  for (const c of [stranger, impostor, keyless]) wire(b.rp, c);
  await until("cards synced", () => holdsItsSubset(b.rp, b.cards[0]), 10000, [b.rp, ...b.cards]);
  await new Promise((r) => setTimeout(r, 200));
  for (const c of [stranger, impostor, keyless]) {
    assert.is(c.fib.count(4) + c.fib.count(6), 0, `${c.id} holds nothing`);
    assert.is(c.status().channels.receiving.length, 0, `${c.id} joined no channel`);
  }
  const text = logs.join("\n");
  assert.match(text, /lc9 is not in the trust file/);
  assert.match(text, /lc0's proof does not verify/);
  stop(b);
});

test("a slow link: the hello is said again before the challenge arrives, and the same challenge and answer still register the card", async () => {
  // 80 ms each way: past the 60 ms after which an unanswered hello is said again.
  const b = await bench(1, { latencyMs: 80 });
  await until("the card synced on its channel", () => allConverged(b) && channelOf(b.rp)?.receiving === 1, 10000, [b.rp, ...b.cards]);
  stop(b);
});

test("a process on the channel's address without the key can read nothing, and what it sends is rejected", async () => {
  const b = await bench(2);
  await until("cards synced", () => allConverged(b), 10000, [b.rp, ...b.cards]);
  const spec = channelOf(b.rp);
  const intruder = b.backplane.transport();
  const captured: Uint8Array[] = [];
  const guess = new Opener(spec.id);
  guess.rekey(spec.epoch, new Uint8Array(randomBytes(32)));
  await intruder.join(spec, (d) => captured.push(d));
  await b.rp.churn(1000, 20000, 13);
  await until("churn converged", () => allConverged(b));
  assert.ok(captured.length > 0);
  assert.ok(captured.every((d) => guess.open(d) instanceof SealError), "nothing opens without the channel key");
  const before = b.cards.map((c) => ({ ...receiving(c) }));
  // Forgeries: a captured header with other bytes; a captured datagram sent again (a replay).
  const heard = captured.slice();
  for (const d of heard) {
    const forged = d.slice();
    forged[forged.length - 20] ^= 0x55;
    intruder.send(spec, forged);
    intruder.send(spec, d);
  }
  await new Promise((r) => setTimeout(r, 100));
  for (const [i, c] of b.cards.entries()) {
    const r = receiving(c);
    assert.is(r.badTag - before[i].badTag, heard.length, `${c.id} rejected every forgery`);
    assert.is(r.duplicates - before[i].duplicates, heard.filter((d) => d.length > 64).length, `${c.id} ignored every replayed update`); // heartbeats are the short ones
  }
  assert.ok(allConverged(b), "the tables are untouched");
  stop(b);
});

test("evicting a card re-keys the channel mid-stream: the others follow on the new key, the evicted card's key opens nothing after", async () => {
  const b = await bench(3);
  await until("cards synced", () => allConverged(b), 10000, [b.rp, ...b.cards]);
  const spec = channelOf(b.rp);
  const listener = b.backplane.transport();
  const after: Uint8Array[] = [];
  let evicted = false;
  await listener.join(spec, (d) => { if (evicted) after.push(d); });
  const churn = b.rp.churn(6000, 30000, 14);
  await new Promise((r) => setTimeout(r, 80));
  const oldEpoch = channelOf(b.rp).epoch;
  const { rekeyed } = b.rp.evict("lc2");
  evicted = true;
  assert.equal(rekeyed, [spec.id]);
  await churn;
  const rest = { ...b, cards: b.cards.slice(0, 2) };
  await until("the other cards converged", () => allConverged(rest));
  assert.is(channelOf(b.rp).epoch, oldEpoch + 1);
  for (const c of rest.cards) assert.ok(receiving(c).updates > 0);
  assert.not.equal(b.cards[2].status().active, "rp0");
  // The key lc2 held is of the old epoch: nothing sent after its eviction opens with it.
  const stale = new Opener(spec.id);
  const newer = after.filter((d) => new DataView(d.buffer, d.byteOffset).getUint32(5) === oldEpoch + 1);
  assert.ok(newer.length > 0, "datagrams under the new epoch went out");
  stale.rekey(oldEpoch, new Uint8Array(32));
  assert.ok(newer.every((d) => { const r = stale.open(d); return r instanceof SealError && r.kind === "unknown-epoch"; }));
  stop(b);
});

test("a gap older than the server's backlog is not repaired but resynced: the card activates again and converges", async () => {
  const b = await bench(2, { impairment: { loss: 0.3 }, backlogBytes: 2048 });
  await until("cards synced", () => allConverged(b), 10000, [b.rp, ...b.cards]);
  await b.rp.churn(6000, 60000, 15);
  await until("churn converged", () => allConverged(b), 20000);
  assert.ok(b.cards.some((c) => receiving(c).reactivations > 0), "a card went back to the server for what the backlog no longer held");
  stop(b);
});

test("a card whose inbox is held up past the lost-request wait does not ask again for the repairs waiting in it: each comes once", async () => {
  const b = await bench(1, { impairment: { loss: 0.2 } });
  await until("card synced", () => allConverged(b), 10000, [b.rp, ...b.cards]);
  // The first repair to reach the card's inbox holds it 3 s, past the 2.4 s after which an
  // unanswered request is taken for lost: the answers to every request queue behind it.
  const { heartbeatMs, deadAfter } = timers;
  const holdMs = GIVE_UP * heartbeatMs * deadAfter + 600;
  const proto = ClientSession.prototype as unknown as { receive(m: Message): void | Promise<void> };
  const receive = proto.receive;
  let held = false;
  proto.receive = function (this: ClientSession, m: Message) {
    if (m.type !== "retransmission" || held) return receive.call(this, m);
    held = true;
    return new Promise<void>((r) => setTimeout(r, holdMs)).then(() => receive.call(this, m));
  };
  try {
    await b.rp.churn(4000, 40000, 17);
    await until("churn converged", () => allConverged(b), 20000);
  } finally {
    proto.receive = receive;
  }
  assert.ok(held, "a repair was asked for and held up");
  const card = receiving(b.cards[0]);
  const ch = channelOf(b.rp);
  assert.is(card.duplicates, 0, "no repair came twice");
  assert.is(ch.counters.repairs, card.repairs, "the server sent no repair the card did not need");
  stop(b);
});

test("channel mapping: same subset, same channel; past the channel budget a narrower subset shares a wider channel and filters", async () => {
  const ten: Subset = { families: [4], vrfs: [0], prefixes: [Prefix.mustParse("10.0.0.0/8")] };
  const b = await bench(3, { maxChannels: 1, subsets: [undefined, undefined, ten] });
  await until("cards synced", () => allConverged(b), 10000, [b.rp, ...b.cards]);
  await b.rp.churn(3000, 30000, 16);
  await until("churn converged", () => allConverged(b));
  const serving = b.rp.status().channels.serving;
  assert.is(serving.length, 1);
  assert.is(serving[0].receiving, 3);
  assert.ok(b.cards[2].fib.count(6) === 0 && b.cards[2].fib.count(4) < b.cards[0].fib.count(4));
  stop(b);
});

test("cascade: a line card re-publishes to its forwarding engines on a channel of its own", async () => {
  const secret = new Uint8Array(randomBytes(32));
  // lc0 proves its engine by a trust file of its own, and multicasts to it on its own ports.
  const b = await bench(1, { first: { trust: Trust.parse({ clients: { "lc0.npu0": { hmac: Buffer.from(secret).toString("base64") } } }, "trust") } });
  const lc = b.cards[0];
  const npu = new Node({ id: "lc0.npu0", role: "npu", firmware, timers, memoryMiB: 32, servers: ["lc0"], credential: hmac("lc0.npu0", secret), multicast: { transport: b.backplane.transport(), group: "239.5.0.1", port: 7600, rateBytes: 1e6 } });
  wire(lc, npu);
  await until("synced", () => holdsItsSubset(b.rp, lc) && holdsItsSubset(lc, npu) && npu.status().active === "lc0" && !npu.status().stale);
  await b.rp.churn(2000, 20000, 17);
  await until("churn converged", () => holdsItsSubset(b.rp, lc) && holdsItsSubset(lc, npu));
  assert.ok(receiving(npu).updates > 0, "the engine took the churn on the line card's channel");
  assert.is(channelOf(lc).receiving, 1);
  stop(b);
});

test.run();
