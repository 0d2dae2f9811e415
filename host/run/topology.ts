// Topology files (YAML): the nodes of a chassis, how they link, and the timers. See the
// README for the format. Parsing checks everything it can before a process starts: roles,
// that servers and peers exist and sit in the right tier, that source files exist (paths
// relative to the topology file), and the link kind. Errors name the node and the field.

import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { yaml } from "../lazy.ts";
import { Prefix, ParseError } from "../netip.ts";
import type { ResyncMode, Role } from "../wire/messages.ts";
import type { SourceConfig } from "../node/sources.ts";
import type { SubsetJson } from "../node/main.ts";
import type { Impairment } from "../links/sim.ts";
import type { MulticastImpairment } from "../links/multicast.ts";
import type { Timers } from "../node/liveness.ts";
import { DEFAULT_FAILBACK_MS } from "../node/node.ts";
import { DEFAULT_BACKLOG_BYTES } from "../node/feed.ts";

export class TopologyError extends Error {
  override name = "TopologyError";
}

export interface NodeSpec {
  id: string;
  role: Role;
  /** Line cards and forwarding engines: servers in order of preference. */
  servers: string[];
  /** Route processors: the peers this one dials. */
  peers: string[];
  sources: SourceConfig[];
  subset?: SubsetJson;
  memoryMiB?: number;
  /** Route processors: their index (next-hop id block, source ids). */
  index: number;
}

export type StreamKind = "tcp" | "unix" | "serial" | "sim";

/**
 * Multicast distribution: `udp` real multicast on an interface; `sim` the simulated
 * backplane, which is UDP on loopback with impairments at every receiver; `off` none.
 */
export interface MulticastSpec {
  via: "udp" | "sim" | "off";
  group: string;
  /** The first port: each server node's channels take 16 ports from here on, in node order. */
  port: number;
  rateMbps: number;
  datagramBytes: number;
  /** Channels each server may open. */
  channels: number;
  /** Interface address to send and join on. */
  interface: string;
  impairment: MulticastImpairment;
}

/** Who may register: a trust file, and a folder of key files (<node>.key); generated for the run when absent. */
export interface AuthSpec {
  trust: string;
  keys: string;
}

/**
 * Line cards that boot flashed firmware: each starts blank (its bootloader on its console)
 * until a `flash` step writes a signed image; its engines run the image it boots.
 * Absent: every card runs the build's image from the start.
 */
export interface FirmwareSpec {
  /** Public-key files of the build keys cards trust; none: the runner makes a build key for the run. */
  keys: string[];
  /** The image `flash` steps send when they name none; none: the release build, signed with the run's key. */
  image: string | undefined;
  /** How the flasher reaches a card's bootloader: a serial line (a PTY pair) or a TCP socket. */
  console: "serial" | "tcp";
  /** Bits a second on a serial console. */
  baud: number;
  /** Largest image a slot holds. */
  slotBytes: number;
}

export interface Topology {
  file: string;
  nodes: NodeSpec[];
  links: { stream: StreamKind; impairment: Impairment };
  timers: Timers;
  /** How long a more preferred server must stay ready before a card moves back to it; -1: never. */
  failbackMs: number;
  /** How a server brings a card that activates it to equality. */
  resync: ResyncMode;
  /** Bytes of updates each server keeps per subset for cards to catch up from (0: none). */
  backlogBytes: number;
  multicast: MulticastSpec;
  auth: AuthSpec | undefined;
  firmware: FirmwareSpec | undefined;
  /** Prometheus metrics: node i (in topology order) serves them on port + i. */
  metrics: { port: number; host: string } | undefined;
}

const ROLES: readonly Role[] = ["rp", "lc", "npu"];
const SERVER_ROLE: Record<Role, Role | undefined> = { rp: undefined, lc: "rp", npu: "lc" };

export function readTopology(file: string): Topology {
  let doc: unknown;
  try {
    doc = yaml().parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new TopologyError(`${file}: ${(e as Error).message}`);
  }
  return parseTopology(doc, file);
}

export function parseTopology(doc: unknown, file: string): Topology {
  const fail = (where: string, reason: string): never => { throw new TopologyError(`${file}: ${where}: ${reason}`); };
  const root = record(doc, file, "the file");
  const nodesDoc = record(root.nodes, file, "nodes");
  const base = dirname(resolve(file));
  let rpIndex = 0;
  const nodes: NodeSpec[] = Object.entries(nodesDoc).map(([id, raw]) => {
    const n = record(raw, file, `nodes.${id}`);
    const role = n.role as Role;
    if (!ROLES.includes(role)) fail(`nodes.${id}.role`, `must be one of ${ROLES.join(", ")}, not ${JSON.stringify(n.role)}`);
    const list = (key: string): string[] => {
      const v = n[key] ?? [];
      if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) fail(`nodes.${id}.${key}`, "must be a list of node names");
      return v as string[];
    };
    const sources = (n.sources ?? []) as SourceConfig[];
    if (!Array.isArray(sources)) fail(`nodes.${id}.sources`, "must be a list");
    if (role !== "rp" && sources.length > 0) fail(`nodes.${id}.sources`, "only route processors run route sources");
    const resolved = sources.map((s, i) => source(s, `nodes.${id}.sources[${i}]`));
    const spec: NodeSpec = {
      id, role, servers: list("servers"), peers: list("peers"), sources: resolved, index: role === "rp" ? rpIndex++ : 0,
      ...(n.subset === undefined ? {} : { subset: subset(n.subset, `nodes.${id}.subset`) }),
      ...(n.memoryMiB === undefined ? {} : { memoryMiB: number(n.memoryMiB, `nodes.${id}.memoryMiB`, 1, 512) }),
    };
    if (role === "rp" && spec.servers.length > 0) fail(`nodes.${id}.servers`, "a route processor has peers, not servers");
    if (role !== "rp" && spec.peers.length > 0) fail(`nodes.${id}.peers`, "only route processors have peers");
    if (role !== "rp" && spec.servers.length === 0) fail(`nodes.${id}.servers`, `a ${role} needs at least one server`);
    return spec;
  });
  if (nodes.length === 0) fail("nodes", "no nodes");
  if (rpIndex > 16) fail("nodes", "at most 16 route processors");
  const byId = new Map(nodes.map((n) => [n.id, n]));
  for (const n of nodes) {
    for (const s of n.servers) {
      const server = byId.get(s);
      if (!server) fail(`nodes.${n.id}.servers`, `no node ${s}`);
      if (server!.role !== SERVER_ROLE[n.role]) fail(`nodes.${n.id}.servers`, `${s} is a ${server!.role}; a ${n.role} registers with a ${SERVER_ROLE[n.role]}`);
    }
    for (const p of n.peers) {
      if (byId.get(p)?.role !== "rp") fail(`nodes.${n.id}.peers`, `${p} is not a route processor`);
      if (p === n.id) fail(`nodes.${n.id}.peers`, "a route processor does not peer with itself");
    }
  }
  // Every pair of route processors must be peers (one side dials), so every RP holds every protocol.
  const rps = nodes.filter((n) => n.role === "rp");
  for (const a of rps) for (const b of rps) {
    if (a.id < b.id && !a.peers.includes(b.id) && !b.peers.includes(a.id)) fail("nodes", `route processors ${a.id} and ${b.id} are not peers: name one in the other's peers`);
  }
  const linksDoc = root.links === undefined ? {} : record(root.links, file, "links");
  const stream = (linksDoc.stream ?? "tcp") as StreamKind;
  if (!["tcp", "unix", "serial", "sim"].includes(stream)) fail("links.stream", `must be tcp, unix, serial or sim, not ${JSON.stringify(linksDoc.stream)}`);
  const impairment: Impairment = {};
  if (stream === "sim") {
    if (linksDoc.bandwidth !== undefined) impairment.bandwidthBps = number(linksDoc.bandwidth, "links.bandwidth", 1, Infinity);
    if (linksDoc.latency !== undefined) impairment.latencyMs = number(linksDoc.latency, "links.latency", 0, 60000);
    if (linksDoc.loss !== undefined) impairment.loss = number(linksDoc.loss, "links.loss", 0, 1);
    if (linksDoc.corrupt !== undefined) impairment.corrupt = number(linksDoc.corrupt, "links.corrupt", 0, 1);
  }
  const timersDoc = root.timers === undefined ? {} : record(root.timers, file, "timers");
  const timers: Timers = {
    heartbeatMs: timersDoc.heartbeatMs === undefined ? 50 : number(timersDoc.heartbeatMs, "timers.heartbeatMs", 1, 60000),
    deadAfter: timersDoc.deadAfter === undefined ? 3 : number(timersDoc.deadAfter, "timers.deadAfter", 1, 100),
  };
  const failback = timersDoc.failbackMs ?? DEFAULT_FAILBACK_MS;
  const failbackMs = failback === "never" ? -1 : number(failback, "timers.failbackMs (or never)", 0, 3600000);
  const resync = (root.resync ?? "digest") as ResyncMode;
  if (resync !== "digest" && resync !== "copy") fail("resync", `must be digest or copy, not ${JSON.stringify(root.resync)}`);
  const backlogBytes = Math.round((root.backlogMiB === undefined ? DEFAULT_BACKLOG_BYTES / 2 ** 20 : number(root.backlogMiB, "backlogMiB", 0, 1024)) * 2 ** 20);
  return { file, nodes, links: { stream, impairment }, timers, failbackMs, resync, backlogBytes, multicast: multicastSpec(), auth: authSpec(), firmware: firmwareSpec(), metrics: metricsSpec() };

  function multicastSpec(): MulticastSpec {
    const m = root.multicast === undefined ? {} : record(root.multicast, file, "multicast");
    const via = (m.via ?? "off") as MulticastSpec["via"];
    if (!["udp", "sim", "off"].includes(via)) fail("multicast.via", `must be udp, sim or off, not ${JSON.stringify(m.via)}`);
    const group = String(m.group ?? "239.77.0.1");
    const octets = group.split(".").map(Number);
    if (octets.length !== 4 || octets.some((o) => !(o >= 0 && o <= 255)) || octets[0] < 224 || octets[0] > 239) fail("multicast.group", `${group} is not an IPv4 multicast group`);
    const impairment: MulticastImpairment = {};
    for (const k of ["loss", "reorder", "duplicate", "corrupt"] as const) if (m[k] !== undefined) impairment[k] = number(m[k], `multicast.${k}`, 0, 1);
    return {
      via, group,
      port: m.port === undefined ? 5400 : number(m.port, "multicast.port", 1024, 65000),
      rateMbps: m.rateMbps === undefined ? 800 : number(m.rateMbps, "multicast.rateMbps", 0.01, 100000),
      datagramBytes: m.datagramBytes === undefined ? 8192 : number(m.datagramBytes, "multicast.datagramBytes", 512, 65000),
      channels: m.channels === undefined ? 16 : number(m.channels, "multicast.channels", 1, 16),
      interface: String(m.interface ?? "127.0.0.1"),
      impairment,
    };
  }

  function authSpec(): AuthSpec | undefined {
    if (root.auth === undefined) return undefined;
    const a = record(root.auth, file, "auth");
    if (typeof a.trust !== "string" || typeof a.keys !== "string") fail("auth", "needs trust (a trust file) and keys (a folder of <node>.key files)");
    const trust = resolve(base, a.trust as string);
    if (!existsSync(trust)) fail("auth.trust", `no file ${trust}`);
    return { trust, keys: resolve(base, a.keys as string) };
  }

  function metricsSpec(): Topology["metrics"] {
    if (root.metrics === undefined) return undefined;
    const m = record(root.metrics, file, "metrics");
    const port = number(m.port, "metrics.port", 1024, 65535 - nodes.length);
    return { port, host: String(m.host ?? "127.0.0.1") };
  }

  function firmwareSpec(): FirmwareSpec | undefined {
    if (root.firmware === undefined) return undefined;
    const f = record(root.firmware, file, "firmware");
    const keys = (f.keys === undefined ? [] : Array.isArray(f.keys) ? f.keys : [f.keys]).map((k) => {
      const path = resolve(base, String(k));
      if (!existsSync(path)) fail("firmware.keys", `no file ${path}`);
      return path;
    });
    const image = f.image === undefined ? undefined : resolve(base, String(f.image));
    if (image !== undefined && !existsSync(image)) fail("firmware.image", `no file ${image}`);
    if (image !== undefined && keys.length === 0) fail("firmware.keys", "an image of your own needs the public key it is signed with");
    const console = (f.console ?? "serial") as FirmwareSpec["console"];
    if (console !== "serial" && console !== "tcp") fail("firmware.console", `must be serial or tcp, not ${JSON.stringify(f.console)}`);
    return {
      keys, image, console,
      baud: f.baud === undefined ? 1_000_000 : number(f.baud, "firmware.baud", 300, 100_000_000),
      slotBytes: Math.round((f.slotKiB === undefined ? 1024 : number(f.slotKiB, "firmware.slotKiB", 1, 65536)) * 1024),
    };
  }

  function number(v: unknown, where: string, min: number, max: number): number {
    if (typeof v !== "number" || !(v >= min && v <= max)) fail(where, `must be a number from ${min} to ${max}`);
    return v as number;
  }

  function source(raw: unknown, where: string): SourceConfig {
    const s = record(raw, file, where) as unknown as SourceConfig;
    if (typeof s.protocol !== "string") fail(`${where}.protocol`, "must be a name");
    const kinds = ["routes", "mrt", "generate", "fpm"].filter((k) => (s as unknown as Record<string, unknown>)[k] !== undefined);
    if (kinds.length !== 1) fail(where, "must have exactly one of routes, mrt, generate, fpm");
    if (s.distance !== undefined) number(s.distance, `${where}.distance`, 0, 255);
    if (s.metric !== undefined) number(s.metric, `${where}.metric`, 0, 2 ** 32 - 1);
    const out = { ...s };
    for (const k of ["routes", "mrt"] as const) {
      if (s[k] === undefined) continue;
      const path = resolve(base, s[k]!);
      if (!existsSync(path)) fail(`${where}.${k}`, `no file ${path}`);
      out[k] = path;
    }
    return out;
  }

  function subset(raw: unknown, where: string): SubsetJson {
    const s = record(raw, file, where);
    const families = (s.families ?? [4, 6]) as (4 | 6)[];
    if (!Array.isArray(families) || families.some((f) => f !== 4 && f !== 6)) fail(`${where}.families`, "must be a list of 4 and 6");
    const vrfs = (s.vrfs ?? [0]) as number[];
    if (!Array.isArray(vrfs) || vrfs.some((v) => v !== 0)) fail(`${where}.vrfs`, "only VRF 0 is routed in this chassis");
    const prefixes = (s.prefixes ?? []) as string[];
    if (!Array.isArray(prefixes)) fail(`${where}.prefixes`, "must be a list of prefixes");
    for (const p of prefixes) if (Prefix.parse(String(p)) instanceof ParseError) fail(`${where}.prefixes`, `${p} is not a prefix`);
    return { families, vrfs, prefixes: prefixes.map(String) };
  }
}

function record(v: unknown, file: string, where: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new TopologyError(`${file}: ${where}: must be a mapping`);
  return v as Record<string, unknown>;
}
