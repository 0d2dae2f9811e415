// fibcast bench multicast: the real IPv4 table distributed to line cards over real UDP
// multicast (loopback), each card proven and on the route processor's sealed channel.
//
// The cards register and sync first, with the route processor's table still empty; then a
// source with the table is added to it (Node.addSource), and every route goes out as
// channel updates: once, whatever the number of cards. Per run: senderBytes (sealed update
// datagrams sent), the repairs the cards asked for and their bytes, the bytes the fabric
// lost, and convergeMs (load to every card holding the table). Runs: 1 and 8 cards without loss (sender bytes against receivers),
// and 8 cards with 5% loss at every receiver (repair bytes against lost bytes). The nodes
// share this process (their unicast links are in-memory); the datagrams cross the kernel.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { asnRoutes } from "../host/asn.ts";
import { formatRoutes } from "../host/routefile.ts";
import { firmwareImage } from "../host/firmware.ts";
import { FramedLink } from "../host/links/framed.ts";
import { SimLink } from "../host/links/sim.ts";
import { udpTransport, type UdpTransport } from "../host/links/multicast.ts";
import { Node } from "../host/node/node.ts";
import { Trust } from "../host/auth/trust.ts";

export interface MulticastRun {
  receivers: number;
  lossRate: number;
  routes: number;
  /** Bytes of sealed update datagrams the route processor sent (each once, for every card). */
  senderBytes: number;
  senderBytesPerRoute: number;
  datagrams: number;
  /** Updates sent again by unicast, and their bytes; the bytes the fabric lost, over all cards. */
  repairs: number;
  repairBytes: number;
  lostBytes: number;
  /** repairBytes / lostBytes (bar ≤ 1.5 at 5% loss). */
  repairRatio: number | null;
  /** Times the channel's rate was lowered on NAKs, and where it ended, bytes/s. */
  rateDecreases: number;
  convergeMs: number;
}

export interface MulticastResult {
  runs: MulticastRun[];
  /** senderBytes with 8 cards over senderBytes with 1 (bar: within 5%). */
  senderBytesRatio: number;
}

const RATE_MBPS = 800;

export async function benchMulticast(options: { quick?: boolean; log?: (s: string) => void } = {}): Promise<MulticastResult> {
  const log = options.log ?? (() => {});
  let routes = asnRoutes(4);
  if (options.quick) routes = routes.filter((_, i) => i % 8 === 0);
  const dir = mkdtempSync(join(tmpdir(), "fibcast-bench-multicast-"));
  const file = join(dir, "ipv4.routes");
  writeFileSync(file, formatRoutes(routes));
  const many = options.quick ? 4 : 8;
  const runs: MulticastRun[] = [];
  try {
    for (const [receivers, lossRate] of [[1, 0], [many, 0], [many, 0.05]] as const) {
      const run = await distribute(file, routes.length, receivers, lossRate);
      runs.push(run);
      log(`multicast: ${receivers} card(s), ${lossRate * 100}% loss: ${run.senderBytes} B sent (${run.senderBytesPerRoute} B/route) in ${run.datagrams} datagrams, ` +
        `${run.repairs} repairs (${run.repairBytes} B) for ${run.lostBytes} B lost, converged ${run.convergeMs} ms after the load`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { runs, senderBytesRatio: Math.round((runs[1].senderBytes / runs[0].senderBytes) * 1000) / 1000 };
}

async function distribute(file: string, routes: number, receivers: number, lossRate: number): Promise<MulticastRun> {
  const firmware = firmwareImage();
  const timers = { heartbeatMs: 50, deadAfter: 3 };
  const port = 20000 + (randomBytes(2).readUInt16BE() % 20000);
  const group = "239.77.3.1";
  const secrets = Array.from({ length: receivers }, () => randomBytes(32));
  const clients = Object.fromEntries(secrets.map((s, i) => [`lc${i}`, { hmac: s.toString("base64") }]));
  const transports: UdpTransport[] = [udpTransport({ seed: 1 })];
  const rp = new Node({
    id: "rp0", role: "rp", index: 0, firmware, timers, sources: [],
    trust: Trust.parse({ clients }, "bench"), multicast: { transport: transports[0], group, port, rateBytes: (RATE_MBPS * 1e6) / 8 },
  });
  const cards = secrets.map((secret, i) => {
    const transport = udpTransport({ seed: 100 + i, impairment: { loss: lossRate } });
    transports.push(transport);
    return new Node({
      id: `lc${i}`, role: "lc", firmware, timers, memoryMiB: 128, servers: ["rp0"],
      credential: { node: `lc${i}`, method: "hmac-sha256", secret: new Uint8Array(secret) },
      multicast: { transport, group, port: port + 100, rateBytes: 1e6 },
    });
  });
  const links: SimLink[] = [];
  try {
    await rp.loadSources();
    for (const c of cards) {
      const link = new SimLink();
      links.push(link);
      rp.accept(new FramedLink(link.a, { maxQueuedBytes: 256 << 20 }));
      c.connect("rp0", new FramedLink(link.b, { maxQueuedBytes: 256 << 20 }));
    }
    const onChannel = () => cards.every((c) => c.status().channels.receiving.length === 1 && c.status().active === "rp0" && !c.status().stale) && rp.status().channels.serving[0]?.receiving === receivers;
    await until("the cards on the channel", onChannel, 30000);
    const started = performance.now();
    await rp.addSource({ protocol: "bgp", distance: 20, routes: file });
    const digest = rp.fib.digest(4);
    await until("every card holding the table", () => cards.every((c) => c.fib.digest(4) === digest), 120000);
    const convergeMs = Math.round(performance.now() - started);
    const channel = rp.status().channels.serving[0];
    const lostBytes = transports.slice(1).reduce((n, t) => n + t.counters.lostBytes, 0);
    return {
      receivers, lossRate, routes, senderBytes: channel.counters.updateBytes,
      senderBytesPerRoute: Math.round((channel.counters.updateBytes / routes) * 100) / 100, datagrams: channel.counters.datagrams,
      repairs: channel.counters.repairs, repairBytes: channel.counters.repairBytes, lostBytes,
      repairRatio: lostBytes > 0 ? Math.round((channel.counters.repairBytes / lostBytes) * 1000) / 1000 : null,
      rateDecreases: channel.rateDecreases, convergeMs,
    };
  } finally {
    for (const l of links) l.cut();
    rp.channels?.close();
    for (const t of transports) t.close();
  }
}

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (!ok()) {
    if (performance.now() > end) throw new Error(`multicast bench: no ${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
