// The node program: one card of the chassis as its own OS process (`fibcast node`). The
// runner starts it with its configuration as JSON in FIBCAST_NODE and talks to it over the
// IPC channel; without IPC it just runs. It serves the tier below on a TCP port, a Unix
// socket or serial lines (one per client), dials its servers (or peers) and keeps redialing
// the ones it has lost; a serial line is "dialed" by opening its end again.
//
// Control messages (runner → node; each answered with { reply: id, ... }):
//   status · dump { path } · cut { peer } · restore { peer } · impair { peer, ...knobs }
//   churn { updates, rate, seed } · expected { subset } (route processors: the subset's digests)
//   evict { client } (no longer trusted: its channels are re-keyed)
//   traffic { family, mode, packets, runs, seed } (forwarding: Mpps, counts, checked answers) · stop
// The node tells the runner { ready: true, address, metrics } once it serves (metrics: the
// port of its Prometheus metrics, when the configuration asks for them). A card that boots
// flashed firmware says so as soon as its console serves ({ ready, address, console }):
// until a slot boots it answers only status, which shows its slots.

import { createServer, connect, type Server } from "node:net";
import { writeFileSync, rmSync } from "node:fs";
import { FramedLink } from "../links/framed.ts";
import { socketStream, type ByteStream } from "../links/stream.ts";
import { openSerial } from "../links/serial.ts";
import { SimLink, splice, type Impairment } from "../links/sim.ts";
import { Prefix } from "../netip.ts";
import type { Subset } from "../wire/messages.ts";
import { firmwareImage } from "../firmware.ts";
import { Node, statusWithoutFirmware, type NodeOptions, type NodeStatus } from "./node.ts";
import { serveMetrics } from "./metrics.ts";
import { nodeLog } from "./log.ts";
import { CardFirmware, type CardConfig } from "../../firmware-sim/card.ts";
import { ForwardingEngine, type TrafficOptions } from "../../firmware-sim/forwarding.ts";
import { Trust, readCredential } from "../auth/trust.ts";
import { udpTransport, type MulticastImpairment } from "../links/multicast.ts";
import { subsetDigest, normalizeSubset } from "./subset.ts";

/** Where a node serves sockets: a TCP port (0: any) on a host, or a Unix socket path. */
export type SocketAddress = { tcp: number; host?: string } | { unix: string };
/** How a client reaches a server: its socket, or the client's end of the serial line between them. */
export type Address = SocketAddress | { serial: string };

export interface ProcessConfig extends Omit<NodeOptions, "firmware" | "log" | "subset" | "trust" | "credential" | "multicast"> {
  listen?: SocketAddress;
  /** Serial lines this node serves, one per client: the paths of its ends. */
  lines?: string[];
  /** How to reach each server named in `servers`. */
  addresses?: Record<string, Address>;
  /** Impairments to put on the links to these servers (the topology's `sim` links). */
  impair?: Record<string, Impairment>;
  subset?: SubsetJson;
  /** The trust file of the clients that may register with this node. */
  trustFile?: string;
  /** This node's key file, proving it to its servers. */
  keyFile?: string;
  multicast?: {
    group: string;
    /** The first port of this node's channels. */
    port: number;
    rateMbps: number;
    datagramBytes: number;
    maxChannels: number;
    interfaceAddress: string;
    impairment: MulticastImpairment;
  };
  /** Line cards and their engines: run the firmware flashed onto the card, not the build's. */
  card?: CardConfig;
  /** Serve Prometheus metrics on this port (and host; default 127.0.0.1). */
  metrics?: { port: number; host?: string };
}

/** A control message from the runner. */
interface ControlMessage {
  id: number;
  cmd: string;
  [k: string]: unknown;
}

/** A subset as JSON: prefixes as text. */
export interface SubsetJson {
  families: (4 | 6)[];
  vrfs?: number[];
  prefixes?: string[];
}

export function subsetFromJson(s: SubsetJson): Subset {
  return normalizeSubset({ families: s.families, vrfs: s.vrfs ?? [0], prefixes: (s.prefixes ?? []).map((p) => Prefix.mustParse(p)) });
}

const REDIAL_MS = 50;

export async function runNode(config: ProcessConfig): Promise<void> {
  const log = nodeLog(config.id);
  const { subset, listen: _listen, lines: _lines, addresses: _addresses, impair: _impair, trustFile, keyFile, multicast, card: cardConfig, metrics, ...rest } = config;
  const card = cardConfig && new CardFirmware(cardConfig, config.memoryMiB ?? 256, (event, fields) => log({ node: config.id, event, ...fields }));
  const consoleAt = await card?.listen();
  let node: Node | undefined;
  const status = (): NodeStatus => ({ ...(node ? node.status() : statusWithoutFirmware(config.id, config.role)), ...(card ? { firmware: card.status() } : {}) });
  const metricsAt = metrics && await serveMetrics(status, metrics);
  const control = new Map<string, (raw: ControlMessage) => unknown>();
  if (process.send) {
    process.on("message", async (raw: ControlMessage) => {
      const reply = (body: Record<string, unknown>) => process.send!({ reply: raw.id, ...body });
      try {
        if (raw.cmd === "status") return reply({ status: status() });
        const handler = control.get(raw.cmd);
        if (!handler) return reply({ error: node ? `unknown command ${raw.cmd}` : `${config.id} runs no firmware yet: flash it first` });
        return reply((await handler(raw)) as Record<string, unknown>);
      } catch (e) {
        reply({ error: (e as Error).message });
      }
    });
  }
  // Until its node runs, a card stops as a process does: there is nothing to close but the console.
  control.set("stop", () => (setImmediate(() => process.exit(0)), { ok: true }));
  process.once("SIGTERM", () => process.exit(0));
  // A card waiting for firmware is up (its console serves), but serves no client yet.
  if (card && process.send) process.send({ ready: true, address: config.listen, console: consoleAt, metrics: metricsAt?.port });
  const firmware = card ? await card.image() : firmwareImage();

  const transport = multicast && udpTransport({ interfaceAddress: multicast.interfaceAddress, impairment: multicast.impairment, seed: hash(config.id) });
  const live = new Node({
    ...rest, ...(subset ? { subset: subsetFromJson(subset) } : {}), firmware, log,
    ...(trustFile ? { trust: Trust.read(trustFile) } : {}),
    ...(keyFile ? { credential: readCredential(config.id, keyFile) } : {}),
    ...(multicast && transport ? {
      multicast: { transport, group: multicast.group, port: multicast.port, rateBytes: (multicast.rateMbps * 1e6) / 8, datagramBytes: multicast.datagramBytes, maxChannels: multicast.maxChannels },
    } : {}),
  });
  node = live;

  const cut = new Set<string>();
  const sims = new Map<string, SimLink>();
  const impairments = new Map(Object.entries(config.impair ?? {}));
  /** Links to servers, open or opening: how to drop each. */
  const links = new Map<string, () => void>();
  let stopping = false;

  let server: Server | undefined;
  let address: SocketAddress | undefined;
  if (config.listen) {
    server = createServer((socket) => live.accept(new FramedLink(socketStream(socket), { maxQueuedBytes: 256 << 20 })));
    address = await listen(server, config.listen);
  }
  // A serial line stays open: when a session on it ends, the line is opened again for the next.
  const serve = (path: string) => {
    if (stopping) return;
    openSerial({ path }).then(
      (stream) => {
        stream.onClose(() => setTimeout(() => serve(path), REDIAL_MS));
        live.accept(new FramedLink(stream, { maxQueuedBytes: 256 << 20 }));
      },
      () => setTimeout(() => serve(path), REDIAL_MS),
    );
  };
  for (const path of config.lines ?? []) serve(path);

  const linked = (peer: string, real: ByteStream) => {
    let stream = real;
    const knobs = impairments.get(peer);
    if (knobs) {
      const sim = new SimLink({ ...knobs, seed: hash(`${config.id}>${peer}`) });
      splice(stream, sim);
      sims.set(peer, sim);
      stream = sim.b;
    }
    stream.onClose(() => { links.delete(peer); sims.delete(peer); });
    live.connect(peer, new FramedLink(stream, { maxQueuedBytes: 256 << 20 }));
  };
  const dial = (peer: string) => {
    const to = config.addresses?.[peer];
    if (!to || cut.has(peer) || !live.wantsLink(peer) || links.has(peer)) return;
    if ("serial" in to) {
      let drop = false;
      links.set(peer, () => (drop = true));
      openSerial({ path: to.serial }).then(
        (stream) => {
          if (drop || stopping) return stream.close();
          links.set(peer, () => stream.close());
          linked(peer, stream);
        },
        () => links.delete(peer),
      );
      return;
    }
    const socket = "unix" in to ? connect(to.unix) : connect(to.tcp, to.host ?? "127.0.0.1");
    let stream: ByteStream | undefined;
    links.set(peer, () => (stream ? stream.close() : socket.destroy()));
    socket.once("connect", () => linked(peer, (stream = socketStream(socket))));
    socket.once("close", () => { links.delete(peer); sims.delete(peer); });
    socket.once("error", () => {});
  };
  const redial = setInterval(() => { for (const peer of config.servers ?? []) dial(peer); }, REDIAL_MS);
  for (const peer of config.servers ?? []) dial(peer);

  const stop = () => {
    stopping = true;
    clearInterval(redial);
    card?.close();
    server?.close();
    for (const drop of links.values()) drop();
    if (config.listen && "unix" in config.listen) rmSync(config.listen.unix, { force: true });
    process.exit(0);
  };
  process.removeAllListeners("SIGTERM");
  process.on("SIGTERM", stop);

  let engine: ForwardingEngine | undefined;
  const commands: Record<string, (raw: ControlMessage) => unknown> = {
    dump: (raw) => {
      let text = "";
      for (const line of live.dump()) text += line;
      writeFileSync(raw.path as string, text);
      return { ok: true };
    },
    cut: (raw) => {
      const peer = raw.peer as string;
      cut.add(peer);
      links.get(peer)?.();
      return { ok: true };
    },
    restore: (raw) => {
      cut.delete(raw.peer as string);
      dial(raw.peer as string);
      return { ok: true };
    },
    impair: (raw) => {
      const { peer, id: _id, cmd: _cmd, ...knobs } = raw as unknown as { peer: string } & Impairment & ControlMessage;
      impairments.set(peer, { ...impairments.get(peer), ...knobs });
      const sim = sims.get(peer);
      if (sim) sim.impair(knobs);
      else links.get(peer)?.();     // redialed through the impairment
      return { ok: true };
    },
    evict: (raw) => live.evict(raw.client as string),
    traffic: (raw) => {
      if (live.role === "rp") throw new Error(`${live.id} is a route processor: traffic goes through forwarding engines and line cards`);
      engine ??= new ForwardingEngine(live.fib);
      return { traffic: engine.run(raw as unknown as TrafficOptions) };
    },
    churn: async (raw) => ({ sent: await live.churn(raw.updates as number, raw.rate as number, (raw.seed as number) ?? 1) }),
    expected: (raw) => {
      const subset = subsetFromJson(raw.subset as SubsetJson);
      return { digest: { 4: hex(subsetDigest(live.fib, subset, 4)), 6: hex(subsetDigest(live.fib, subset, 6)) } };
    },
    stop: () => {
      setImmediate(stop);
      return { ok: true };
    },
  };
  for (const [name, handler] of Object.entries(commands)) control.set(name, handler);
  // Listening and dialing already: peers and cards register while the table loads, and
  // the exchange with a peer starts the moment it is loaded (no client activates a route
  // processor before it serves).
  if (live.role === "rp") await live.loadSources();
  if (!card) process.send?.({ ready: true, address, metrics: metricsAt?.port });
}

function listen(server: Server, at: SocketAddress): Promise<SocketAddress> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    if ("unix" in at) {
      rmSync(at.unix, { force: true });
      server.listen(at.unix, () => resolve(at));
    } else {
      server.listen(at.tcp, at.host ?? "127.0.0.1", () => {
        const a = server.address();
        resolve({ tcp: typeof a === "object" && a ? a.port : at.tcp, host: at.host ?? "127.0.0.1" });
      });
    }
  });
}

function hex(d: bigint): string {
  return d.toString(16).padStart(16, "0");
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
