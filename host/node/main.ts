// The node program: one card of the chassis as its own OS process (`fibcast node`). The
// runner starts it with its configuration as JSON in FIBCAST_NODE and talks to it over the
// IPC channel; without IPC it just runs. It serves the tier below on a TCP port, a Unix
// socket or serial lines (one per client), dials its servers (or peers) and keeps redialing
// the ones it has lost; a serial line is "dialed" by opening its end again.
//
// Control messages (runner → node; each answered with { reply: id, ... }):
//   status · dump { path } · cut { peer } · restore { peer } · impair { peer, ...knobs }
//   churn { updates, rate, seed } · expected { subset } (route processors: the subset's digests)
//   evict { client } (no longer trusted: its channels are re-keyed) · stop
// The node tells the runner { ready: true, address } once it serves.

import { createServer, connect, type Server } from "node:net";
import { writeFileSync, rmSync } from "node:fs";
import { FramedLink } from "../links/framed.ts";
import { socketStream, type ByteStream } from "../links/stream.ts";
import { openSerial } from "../links/serial.ts";
import { SimLink, type Impairment } from "../links/sim.ts";
import { Prefix } from "../netip.ts";
import type { Subset } from "../wire/messages.ts";
import { firmwareImage } from "../firmware.ts";
import { Node, type NodeOptions } from "./node.ts";
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
  const log = (line: Record<string, unknown>) => process.stderr.write(`${JSON.stringify({ t: new Date().toISOString(), ...line })}\n`);
  const { subset, listen: _listen, lines: _lines, addresses: _addresses, impair: _impair, trustFile, keyFile, multicast, ...rest } = config;
  const transport = multicast && udpTransport({ interfaceAddress: multicast.interfaceAddress, impairment: multicast.impairment, seed: hash(config.id) });
  const node = new Node({
    ...rest, ...(subset ? { subset: subsetFromJson(subset) } : {}), firmware: firmwareImage(), log,
    ...(trustFile ? { trust: Trust.read(trustFile) } : {}),
    ...(keyFile ? { credential: readCredential(config.id, keyFile) } : {}),
    ...(multicast && transport ? {
      multicast: { transport, group: multicast.group, port: multicast.port, rateBytes: (multicast.rateMbps * 1e6) / 8, datagramBytes: multicast.datagramBytes, maxChannels: multicast.maxChannels },
    } : {}),
  });
  if (node.role === "rp") await node.loadSources();

  const cut = new Set<string>();
  const sims = new Map<string, SimLink>();
  const impairments = new Map(Object.entries(config.impair ?? {}));
  /** Links to servers, open or opening: how to drop each. */
  const links = new Map<string, () => void>();
  let stopping = false;

  let server: Server | undefined;
  let address: SocketAddress | undefined;
  if (config.listen) {
    server = createServer((socket) => node.accept(new FramedLink(socketStream(socket), { maxQueuedBytes: 256 << 20 })));
    address = await listen(server, config.listen);
  }
  // A serial line stays open: when a session on it ends, the line is opened again for the next.
  const serve = (path: string) => {
    if (stopping) return;
    openSerial({ path }).then(
      (stream) => {
        stream.onClose(() => setTimeout(() => serve(path), REDIAL_MS));
        node.accept(new FramedLink(stream, { maxQueuedBytes: 256 << 20 }));
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
    node.connect(peer, new FramedLink(stream, { maxQueuedBytes: 256 << 20 }));
  };
  const dial = (peer: string) => {
    const to = config.addresses?.[peer];
    if (!to || cut.has(peer) || !node.wantsLink(peer) || links.has(peer)) return;
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
    server?.close();
    for (const drop of links.values()) drop();
    if (config.listen && "unix" in config.listen) rmSync(config.listen.unix, { force: true });
    process.exit(0);
  };
  process.on("SIGTERM", stop);

  if (!process.send) return;
  process.on("message", async (raw: { id: number; cmd: string; [k: string]: unknown }) => {
    const reply = (body: Record<string, unknown>) => process.send!({ reply: raw.id, ...body });
    try {
      switch (raw.cmd) {
        case "status": return reply({ status: node.status() });
        case "dump": {
          let text = "";
          for (const line of node.dump()) text += line;
          writeFileSync(raw.path as string, text);
          return reply({ ok: true });
        }
        case "cut": {
          const peer = raw.peer as string;
          cut.add(peer);
          links.get(peer)?.();
          return reply({ ok: true });
        }
        case "restore":
          cut.delete(raw.peer as string);
          dial(raw.peer as string);
          return reply({ ok: true });
        case "impair": {
          const { peer, ...knobs } = raw as unknown as { peer: string } & Impairment;
          delete (knobs as Record<string, unknown>).id;
          delete (knobs as Record<string, unknown>).cmd;
          impairments.set(peer, { ...impairments.get(peer), ...knobs });
          const sim = sims.get(peer);
          if (sim) sim.impair(knobs);
          else links.get(peer)?.();     // redialed through the impairment
          return reply({ ok: true });
        }
        case "evict":
          return reply(node.evict(raw.client as string));
        case "churn":
          return reply({ sent: await node.churn(raw.updates as number, raw.rate as number, (raw.seed as number) ?? 1) });
        case "expected": {
          const subset = subsetFromJson(raw.subset as SubsetJson);
          return reply({ digest: { 4: hex(subsetDigest(node.fib, subset, 4)), 6: hex(subsetDigest(node.fib, subset, 6)) } });
        }
        case "stop":
          reply({ ok: true });
          return stop();
        default:
          return reply({ error: `unknown command ${raw.cmd}` });
      }
    } catch (e) {
      reply({ error: (e as Error).message });
    }
  });
  process.send({ ready: true, address });
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

/** Joins a real stream to side a of a simulated link: what goes through is impaired both ways. */
function splice(real: ByteStream, sim: SimLink): void {
  real.onData((chunk) => sim.a.write(chunk));
  sim.a.onData((chunk) => real.write(chunk));
  real.onClose(() => sim.cut());
  sim.a.onClose(() => real.close());
}

function hex(d: bigint): string {
  return d.toString(16).padStart(16, "0");
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
