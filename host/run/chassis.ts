// A chassis of node processes started from a topology: one `fibcast node` process per card,
// each with its configuration in FIBCAST_NODE and an IPC channel for control. Addresses are
// fixed before anything starts (free TCP ports, Unix socket paths, or a serial line per
// link: a PTY pair whose ends the two nodes open), so every node starts at once and a
// restarted node comes back where its clients look for it.

import { fork, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { existsSync, mkdtempSync, mkdirSync, openSync, closeSync, readFileSync, writeFileSync } from "node:fs";
import { yaml } from "../lazy.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { builtPath, firmwareImage } from "../firmware.ts";
import { FramedLink } from "../links/framed.ts";
import { dialConsole, type ConsoleAddress } from "../../firmware-sim/console.ts";
import { flashImage, FlashError, type FlashOutcome } from "../../firmware-sim/flasher.ts";
import { generateBuildKey, parseImage, signImage, ImageError } from "../../firmware-sim/image.ts";
import { createPrivateKey } from "node:crypto";
import type { Address, ProcessConfig, SocketAddress, SubsetJson } from "../node/main.ts";
import type { NodeStatus } from "../node/node.ts";
import type { Impairment } from "../links/sim.ts";
import { ptyPair, type PtyPair } from "../links/pty.ts";
import type { AuthSpec, NodeSpec, Topology } from "./topology.ts";
import { generateCredential } from "../auth/trust.ts";

interface Running {
  spec: NodeSpec;
  child: ChildProcess;
  pending: Map<number, (reply: Record<string, unknown>) => void>;
  exited: boolean;
  /** Stopped by SIGSTOP: alive, links open, saying nothing (a hung card). */
  frozen: boolean;
}

export class Chassis {
  readonly logDir: string;
  private readonly addresses = new Map<string, SocketAddress>();
  /** Serial links: one line per client and server, the client's end a, the server's b. */
  private readonly lines: { client: string; server: string; pair: PtyPair }[] = [];
  private readonly running = new Map<string, Running>();
  private nextId = 1;
  /** Trust file and key folder the nodes prove themselves with (multicast needs proven clients). */
  private readonly auth: AuthSpec | undefined;
  /** Line cards' consoles, where their bootloaders listen (a topology with firmware). */
  private readonly consoles = new Map<string, { card: ConsoleAddress; flasher: ConsoleAddress }>();
  private readonly consolePairs: PtyPair[] = [];
  /** The image flash steps send by default, and the public keys cards trust. */
  private readonly firmware: { image: string; keys: string[] } | undefined;

  private constructor(readonly topology: Topology) {
    this.logDir = mkdtempSync(join(tmpdir(), "fibcast-run-"));
    this.auth = topology.auth ?? (topology.multicast.via === "off" ? undefined : runCredentials(topology, this.logDir));
    const f = topology.firmware;
    this.firmware = f && (f.image ? { image: f.image, keys: f.keys } : runImage(this.logDir, f.keys));
  }

  /** Starts every node of the topology; resolves when all serve. */
  static async start(topology: Topology): Promise<Chassis> {
    const c = new Chassis(topology);
    try {
      if (topology.links.stream === "serial") {
        for (const n of topology.nodes) {
          for (const server of upstream(n)) {
            const pair = await ptyPair(join(c.logDir, `${n.id}-${server}.tty`), join(c.logDir, `${server}-${n.id}.tty`));
            c.lines.push({ client: n.id, server, pair });
          }
        }
      } else {
        for (const n of topology.nodes) {
          if (n.role === "npu") continue;
          c.addresses.set(n.id, topology.links.stream === "unix" ? { unix: join(c.logDir, `${n.id}.sock`) } : { tcp: await freePort(), host: "127.0.0.1" });
        }
      }
      for (const n of topology.firmware ? topology.nodes.filter((x) => x.role === "lc") : []) {
        if (topology.firmware!.console === "serial") {
          const pair = await ptyPair(join(c.logDir, `${n.id}.console`), join(c.logDir, `${n.id}.console-card`));
          c.consolePairs.push(pair);
          c.consoles.set(n.id, { card: { serial: pair.b }, flasher: { serial: pair.a } });
        } else {
          const port = await freePort();
          c.consoles.set(n.id, { card: { tcp: port, host: "127.0.0.1" }, flasher: { tcp: port, host: "127.0.0.1" } });
        }
      }
      await Promise.all(topology.nodes.map((n) => c.spawn(n)));
    } catch (e) {
      await c.stop();
      throw e;
    }
    return c;
  }

  get nodes(): NodeSpec[] {
    return this.topology.nodes;
  }

  /** Running and not frozen: it answers. */
  isUp(id: string): boolean {
    const r = this.running.get(id);
    return r !== undefined && !r.exited && !r.frozen;
  }

  private config(n: NodeSpec): ProcessConfig {
    const servers = upstream(n);
    const impairment = this.topology.links.impairment;
    const address = (s: string): Address =>
      this.addresses.get(s) ?? { serial: this.lines.find((l) => l.client === n.id && l.server === s)!.pair.a };
    const lines = this.lines.filter((l) => l.server === n.id).map((l) => l.pair.b);
    const m = this.topology.multicast;
    const serving = this.topology.nodes.filter((x) => x.role !== "npu");
    return {
      id: n.id, role: n.role, index: n.index, servers, sources: n.sources, timers: this.topology.timers, failbackMs: this.topology.failbackMs, resync: this.topology.resync, backlogBytes: this.topology.backlogBytes,
      ...(m.via === "off" ? {} : {
        // Each server's channels take 16 ports of their own: a line card's never collide with a route processor's.
        multicast: { group: m.group, port: m.port + 16 * Math.max(0, serving.indexOf(n)), rateMbps: m.rateMbps, datagramBytes: m.datagramBytes, maxChannels: m.channels, interfaceAddress: m.interface, impairment: m.impairment },
        ...(this.auth && existsSync(join(this.auth.keys, `${n.id}.key`)) ? { keyFile: join(this.auth.keys, `${n.id}.key`) } : {}),
        ...(this.auth && n.role !== "npu" ? { trustFile: this.auth.trust } : {}),
      }),
      ...(n.role === "rp" ? { routeProcessors: this.topology.nodes.filter((x) => x.role === "rp" && x !== n).map((x) => x.id) } : {}),
      ...(n.subset ? { subset: n.subset } : {}),
      ...(n.memoryMiB ? { memoryMiB: n.memoryMiB } : {}),
      ...(this.addresses.has(n.id) ? { listen: this.addresses.get(n.id)! } : {}),
      ...(lines.length > 0 ? { lines } : {}),
      addresses: Object.fromEntries(servers.map((s) => [s, address(s)])),
      ...(this.topology.links.stream === "sim" ? { impair: Object.fromEntries(servers.map((s) => [s, impairment])) } : {}),
      ...(this.firmware ? { card: this.cardConfig(n) } : {}),
      ...(this.topology.metrics ? { metrics: { port: this.topology.metrics.port + this.topology.nodes.indexOf(n), host: this.topology.metrics.host } } : {}),
    };
  }

  /** Where a line card keeps its slots and serves its console; an engine boots its card's image. */
  private cardConfig(n: NodeSpec): ProcessConfig["card"] {
    const slots = (id: string) => join(this.logDir, `${id}.slots`);
    if (n.role === "npu") return { slots: slots(n.servers[0]) };
    if (n.role !== "lc") return undefined;
    return { slots: slots(n.id), trustedKeys: this.firmware!.keys, console: this.consoles.get(n.id)!.card, slotBytes: this.topology.firmware!.slotBytes };
  }

  /**
   * Flashes a line card through its console with a signed image (default: the topology's).
   * Rejects with FlashError (the card's reason when it refused) or ImageError (the file).
   */
  async flash(id: string, imageFile?: string, onProgress?: (acked: number, total: number) => void): Promise<FlashOutcome> {
    const console = this.consoles.get(id);
    if (!console) throw new FlashError("refused", `${id} is not a line card that boots flashed firmware (the topology needs a firmware section)`);
    const file = imageFile ?? this.firmware!.image;
    const image = parseImage(new Uint8Array(readFileSync(file)));
    if (image instanceof ImageError) throw new ImageError(image.kind, `${file}: ${image.message}`);
    const link = new FramedLink(await dialConsole(console.flasher, this.topology.firmware!.baud));
    try {
      return await flashImage(link, image, { ...(onProgress ? { onProgress } : {}) });
    } finally {
      link.close();
    }
  }

  private spawn(n: NodeSpec): Promise<void> {
    const log = openSync(join(this.logDir, `${n.id}.log`), "a");
    const child = fork(builtPath("fibcast.mjs"), ["node"], {
      env: { ...process.env, FIBCAST_NODE: JSON.stringify(this.config(n)) },
      stdio: ["ignore", log, log, "ipc"],
      execArgv: ["--max-old-space-size=4096", ...(process.env.FIBCAST_NODE_ARGS ? process.env.FIBCAST_NODE_ARGS.split(" ") : [])],
    });
    closeSync(log);
    const r: Running = { spec: n, child, pending: new Map(), exited: false, frozen: false };
    this.running.set(n.id, r);
    return new Promise((resolve, reject) => {
      child.on("message", (m: Record<string, unknown>) => {
        if (m.ready) return resolve();
        const done = r.pending.get(m.reply as number);
        if (done) { r.pending.delete(m.reply as number); done(m); }
      });
      child.on("exit", (code, signal) => {
        r.exited = true;
        for (const done of r.pending.values()) done({ error: `${n.id} exited (${signal ?? code})` });
        r.pending.clear();
        reject(new Error(`${n.id} exited before it was ready (${signal ?? `code ${code}`}); see ${join(this.logDir, `${n.id}.log`)}`));
      });
    });
  }

  /** Sends a control command to a node and waits for its reply. */
  request(id: string, cmd: string, args: Record<string, unknown> = {}, timeoutMs = 30000): Promise<Record<string, unknown>> {
    const r = this.running.get(id);
    if (!r || r.exited) return Promise.resolve({ error: `${id} is not running` });
    if (r.frozen) return Promise.resolve({ error: `${id} is frozen` });
    const rid = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => { r.pending.delete(rid); resolve({ error: `${id} did not answer ${cmd} within ${timeoutMs} ms` }); }, timeoutMs);
      r.pending.set(rid, (reply) => { clearTimeout(timer); resolve(reply); });
      r.child.send({ id: rid, cmd, ...args });
    });
  }

  async status(id: string): Promise<NodeStatus | undefined> {
    const reply = await this.request(id, "status");
    return reply.status as NodeStatus | undefined;
  }

  /** SIGKILL; resolves once the process is gone. */
  async kill(id: string): Promise<void> {
    const r = this.running.get(id);
    if (!r || r.exited) throw new Error(`${id} is not running`);
    const gone = new Promise<void>((resolve) => r.child.once("exit", () => resolve()));
    r.child.kill("SIGKILL");
    await gone;
  }

  /**
   * Stops a node where it is (SIGSTOP): its streams stay open and it says nothing, so the
   * others can only tell it from silence. thaw() lets it go on (SIGCONT).
   */
  freeze(id: string): void {
    const r = this.running.get(id);
    if (!r || r.exited || r.frozen) throw new Error(`${id} is not running`);
    r.child.kill("SIGSTOP");
    r.frozen = true;
  }

  thaw(id: string): void {
    const r = this.running.get(id);
    if (!r || r.exited || !r.frozen) throw new Error(`${id} is not frozen`);
    r.child.kill("SIGCONT");
    r.frozen = false;
  }

  async restart(id: string): Promise<void> {
    const r = this.running.get(id);
    if (r && !r.exited) throw new Error(`${id} is running`);
    const spec = this.topology.nodes.find((n) => n.id === id);
    if (!spec) throw new Error(`no node ${id}`);
    await this.spawn(spec);
  }

  /** The side of a link that dials (a client, or the peer that names the other), and the other. */
  dialer(a: string, b: string): { client: string; server: string } {
    const spec = (id: string) => this.topology.nodes.find((n) => n.id === id);
    const A = spec(a), B = spec(b);
    if (!A || !B) throw new Error(`no link between ${a} and ${b}: no such node`);
    if (A.servers.includes(b) || A.peers.includes(b)) return { client: a, server: b };
    if (B.servers.includes(a) || B.peers.includes(a)) return { client: b, server: a };
    throw new Error(`${a} and ${b} are not linked`);
  }

  async cut(a: string, b: string, restore: boolean): Promise<void> {
    const { client, server } = this.dialer(a, b);
    const reply = await this.request(client, restore ? "restore" : "cut", { peer: server });
    if (reply.error) throw new Error(String(reply.error));
  }

  async impair(a: string, b: string, impairment: Impairment): Promise<void> {
    const { client, server } = this.dialer(a, b);
    const reply = await this.request(client, "impair", { peer: server, ...impairment });
    if (reply.error) throw new Error(String(reply.error));
  }

  /** The digests a node should hold: its subset of a live route processor's FIB. */
  async expectedDigest(id: string): Promise<{ 4: string; 6: string } | undefined> {
    const spec = this.topology.nodes.find((n) => n.id === id)!;
    const rp = this.topology.nodes.find((n) => n.role === "rp" && this.isUp(n.id));
    if (!rp) return undefined;
    if (spec.role === "rp") return ((await this.status(rp.id))?.digest);
    const reply = await this.request(rp.id, "expected", { subset: this.effectiveSubset(spec) });
    return reply.digest as { 4: string; 6: string } | undefined;
  }

  /** What a card holds: its own subset within its servers' (a forwarding engine gets what its line card has). */
  effectiveSubset(spec: NodeSpec): SubsetJson {
    const own = spec.subset ?? { families: [4, 6] };
    if (spec.role !== "npu") return own;
    const lc = this.topology.nodes.find((n) => n.id === spec.servers[0])!;
    const above = this.effectiveSubset(lc);
    return { families: own.families.filter((f) => above.families.includes(f)), prefixes: own.prefixes?.length ? own.prefixes : above.prefixes ?? [] };
  }

  async stop(): Promise<void> {
    await Promise.all([...this.running.values()].filter((r) => !r.exited).map((r) => new Promise<void>((resolve) => {
      r.child.once("exit", () => resolve());
      if (r.frozen) r.child.kill("SIGCONT");
      r.child.kill("SIGTERM");
      setTimeout(() => r.child.kill("SIGKILL"), 2000).unref();
    })));
    for (const l of this.lines) l.pair.close();
    for (const pair of this.consolePairs) pair.close();
  }
}

/** The nodes a node dials: its servers, or for a route processor its peers. */
function upstream(n: NodeSpec): string[] {
  return n.role === "rp" ? n.peers : n.servers;
}

/**
 * A free TCP port below the kernel's ephemeral range. A node that restarts listens on its
 * port again; a port from the ephemeral range may meanwhile have become the local end of
 * some client's outgoing connection, and the restart would fail with EADDRINUSE.
 */
async function freePort(): Promise<number> {
  const first = ephemeralStart();
  for (let tries = 0; tries < 200; tries++) {
    const port = PORTS_FROM + Math.floor(Math.random() * (first - PORTS_FROM));
    if (handedOut.has(port)) continue;
    if (await canListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port between ${PORTS_FROM} and ${first}`);
}

const PORTS_FROM = 20000;
const handedOut = new Set<number>();

/** The first port the kernel hands out for outgoing connections (32768 when it does not say). */
function ephemeralStart(): number {
  try {
    const first = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    if (first > PORTS_FROM + 1000) return first;
  } catch {
    // not Linux: the usual range
  }
  return 32768;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

/**
 * A build key for the run and the release image signed with it: a topology that boots flashed
 * firmware but brings no image of its own flashes the build's.
 */
function runImage(dir: string, keys: string[]): { image: string; keys: string[] } {
  const made = generateBuildKey();
  writeFileSync(join(dir, "build.key"), made.privatePem, { mode: 0o600 });
  writeFileSync(join(dir, "build.pub"), made.publicPem);
  const image = join(dir, "fib.fw");
  writeFileSync(image, signImage(firmwareImage(), { id: made.id, privateKey: createPrivateKey(made.privatePem) }));
  return { image, keys: [...keys, join(dir, "build.pub")] };
}

/**
 * A key for every node of a topology that gives none, and the trust file that lists them:
 * a chassis that multicasts proves its cards, and a run without keys of its own gets them
 * made for it (HMAC secrets, in the run's folder).
 */
function runCredentials(topology: Topology, dir: string): AuthSpec {
  const keys = join(dir, "keys");
  mkdirSync(keys, { mode: 0o700 });
  const clients: Record<string, unknown> = {};
  for (const n of topology.nodes) {
    const made = generateCredential("hmac-sha256");
    writeFileSync(join(keys, `${n.id}.key`), made.keyFile, { mode: 0o600 });
    clients[n.id] = made.trustEntry;
  }
  const trust = join(dir, "trust.yaml");
  writeFileSync(trust, yaml().stringify({ clients }));
  return { trust, keys };
}
