// A node of the chassis: a route processor (tier 1), a line card (tier 2) or a forwarding
// engine (tier 3). Each is a server for the tier below and a client of the tier above; a
// route processor is also client and server of its peers.
//
// - Route processor: runs its route sources into the RIB; exchanges the tables of the
//   sources it runs with every peer (so every RP holds every protocol's routes); serves
//   line cards the FIB subsets they ask for.
// - Line card / forwarding engine: registers with its servers in order of preference;
//   takes its table from one (the active server) and keeps the others as standbys. When
//   the active server dies it activates the next, which brings the table held to its own:
//   by range digests (only the ranges that differ cross the link) or by a copy diffed
//   against the table held. Only the difference is applied, and only the difference goes
//   on to its own clients. With no server left it keeps its table (marked stale) and keeps
//   serving.
//
// Links are made by the process around the node (main.ts): the node gets FramedLinks.

import { Fib, concatRecords, recordWords, selectRecords, sortRecords } from "../fib.ts";
import type { Family } from "../netip.ts";
import { NEXTHOP_BLOCK, NextHopTable } from "../nexthops.ts";
import type { FramedLink } from "../links/framed.ts";
import { encodeMessage, type Message, type NextHopEntry, type ResyncMode, type Role, type SourceEntry, type Subset } from "../wire/messages.ts";
import { streamBytes } from "../wire/frame.ts";
import { nexthopsMessages, snapshotMessages, updateBytes, updateMessages, SnapshotAssembler, SnapshotError, type AssembledSnapshot } from "../wire/snapshot.ts";
import { ClientSession, type ClientHost, type ClientState } from "./client.ts";
import { ServerSession, type ServerHost, type ServerState } from "./server.ts";
import { Feed } from "./feed.ts";
import { RangeCache } from "./rangesync.ts";
import { DEFAULT_TIMERS, GIVE_UP, type Timers } from "./liveness.ts";
import { refreshWhenSettled } from "./sketchrefresh.ts";
import { Rib, deltaOf, type FibDelta } from "./rib.ts";
import { EVERYTHING, normalizeSubset } from "./subset.ts";
import { initialRecords, nexthopId, sourceName, Churn, type SourceConfig } from "./sources.ts";
import { FpmSource } from "../sources/fpm.ts";
import type { Trust, Credential } from "../auth/trust.ts";
import type { MulticastTransport } from "../links/multicast.ts";
import { ChannelServer, type ChannelStatus, type MulticastOptions } from "../multicast/server.ts";
import type { ReceiverCounters } from "../multicast/receiver.ts";
import { pieces, Slicer } from "./slices.ts";
import { PeerTables } from "./peertables.ts";
import { CopyCache } from "./copies.ts";
import type { FirmwareStatus } from "../../firmware-sim/card.ts";

export interface NodeOptions {
  id: string;
  role: Role;
  /** Index among route processors (its next-hop id block and source ids); 0 otherwise. */
  index?: number;
  subset?: Subset;
  memoryMiB?: number;
  timers?: Timers;
  /**
   * Line cards and forwarding engines: how long a server more preferred than the active one
   * must stay ready (registered, not silent) before the card moves back to it; -1: never.
   * The wait keeps a flapping server from being followed; a card whose table is empty
   * does not wait.
   */
  failbackMs?: number;
  /** How a line card or engine asks a server it activates to bring it to equality (default digest). */
  resync?: ResyncMode;
  /** Bytes of updates kept per subset for clients that come back (feed.ts). */
  backlogBytes?: number;
  sources?: SourceConfig[];
  /** Servers (or, for a route processor, peers) in order of preference. */
  servers?: string[];
  /**
   * Route processors: the other route processors of the chassis, whose tables this one
   * holds before it serves (peertables.ts). Default: the peers it dials (`servers`).
   */
  routeProcessors?: string[];
  firmware: Uint8Array;
  /** Servers: who may register (challenge–response); undefined: anyone, and no multicast. */
  trust?: Trust;
  /** Clients: what proves who this node is to a server that asks. */
  credential?: Credential;
  /**
   * Multicast: where this node joins the channels it is granted, and (serving, with a trust
   * file) the channels it multicasts its clients' updates on.
   */
  multicast?: MulticastOptions;
  log?: (line: Record<string, unknown>) => void;
}

export const DEFAULT_FAILBACK_MS = 1000;

/** Sources a route processor runs at most: the block of source ids its index gives it. */
const SOURCES_PER_RP = 256;

/**
 * How long a route processor whose own sources are loaded waits for a peer that has not
 * registered, in silence limits (heartbeat × dead after): a peer coming up at the same
 * time may still be loading a table of its own.
 */
const PEER_WAIT_LIMITS = 10;

/** Most routes of a failover's difference held back to go on as one batch (see Node.held). */
const HOLD_ROUTES = 65536;

/** What one failover or resync cost. */
export interface Resync {
  from: string | null;
  to: string;
  /** How the server brought the table to its own. */
  mode: "copy" | "digest" | "catch-up";
  /** How long the dead server had been silent when it was declared dead (0: its link closed). */
  detectMs: number;
  /** From detection (or activation) to the table equal to the new server's. */
  ms: number;
  bytesIn: number;
  /** Bytes this node sent the new server meanwhile (a digest resync's descriptions of the table). */
  bytesUp: number;
  diffEntries: number;
  /**
   * The difference as update batches on a byte stream: what passing it on costs at least,
   * per client. Measured for failovers (from a server) only: a card's first sync differs by
   * its whole table, and sorting and encoding that again, only to measure it, would slow
   * the cold start it is part of.
   */
  diffBytes: number;
  /** Bytes this node sent its own clients because of it. */
  bytesOut: number;
}

export interface NodeStatus {
  id: string;
  role: Role;
  routes: { 4: number; 6: number };
  digest: { 4: string; 6: string };
  active: string | null;
  stale: boolean;
  failovers: number;
  resyncs: Resync[];
  sessions: { server: string; state: ClientState; suspect: boolean }[];
  clients: { client: string; state: ServerState; sequence: number; suspect: boolean }[];
  counters: Record<string, number>;
  /**
   * The sketches the table keeps for digest resyncs (host/node/sketchrefresh.ts): kept up,
   * stale until the node settles, or none (memory too small for them).
   */
  sketch: "kept" | "stale" | "none";
  /** Channels this node multicasts on, and those it receives. */
  channels: { serving: ChannelStatus[]; receiving: ({ server: string; channel: number } & ReceiverCounters & ClientSession["multicastCounters"])[] };
  rib?: ReturnType<Rib["digests"]>;
  /** A card that boots flashed firmware: what it runs, and its slots (added by the card process). */
  firmware?: FirmwareStatus;
}

const hex = (d: bigint) => d.toString(16).padStart(16, "0");

/**
 * The log line of a sketch refresh. Made out here, so that the refresh timer holds the log
 * alone and not the node (a closure made in the constructor would share its scope).
 */
function refreshLog(log: (line: Record<string, unknown>) => void, node: string): (ms: number, steps: number) => void {
  return (ms, steps) => log({ node, event: "sketches refreshed", ms: Math.round(ms), steps });
}

/** What a card that runs no firmware yet reports: no table, no sessions. */
export function statusWithoutFirmware(id: string, role: Role): NodeStatus {
  return {
    id, role, routes: { 4: 0, 6: 0 }, digest: { 4: hex(0n), 6: hex(0n) }, active: null, stale: false, failovers: 0, resyncs: [],
    sessions: [], clients: [], counters: {}, sketch: "none", channels: { serving: [], receiving: [] },
  };
}

/** The link to a peer route processor, whichever side dialed. */
interface PeerLink {
  key: object;
  send(m: Message): boolean;
  open(): boolean;
}

/** A server a card may activate: registered (standby), serving a table, and not silent. */
function isReady(s: ClientSession): boolean {
  return s.state === "standby" && s.serving && !s.suspect;
}

function peerLink(s: ServerSession | ClientSession): PeerLink {
  return { key: s, send: (m) => s.link.send(m), open: () => s.state !== "closed" };
}

export class Node implements ServerHost, ClientHost {
  readonly id: string;
  readonly role: Role;
  readonly subset: Subset;
  readonly timers: Timers;
  readonly stream = BigInt.asUintN(64, BigInt(Date.now()) * 1000003n + BigInt(Math.floor(Math.random() * 1e9)));
  readonly nexthops: NextHopTable;
  readonly fib: Fib;
  readonly rangeCache: RangeCache;
  readonly copies: CopyCache;
  readonly trust: Trust | undefined;
  readonly credential: Credential | undefined;
  readonly multicast: MulticastTransport | undefined;
  readonly channels: ChannelServer | undefined;
  readonly rib?: Rib;
  readonly counters = { updatesIn: 0, routesIn: 0, refused: 0, staleSince: 0 };
  /** What the links of ended sessions carried: status counts every link this node had, not only the open ones. */
  private readonly endedLinks = { bytesIn: 0, bytesOut: 0, badFrames: 0, badMessages: 0, backpressured: 0 };
  private readonly servers: string[];
  private readonly sessions = new Map<string, ClientSession>();
  private readonly clients = new Set<ServerSession>();
  /** Update streams per subset clients asked for (feed.ts), keyed by the subset's JSON. */
  private readonly feeds = new Map<string, Feed>();
  /** The stream and sequence the table followed when its active session ended (undefined: mid-resync, or never). */
  private lastPosition: { stream: bigint; sequence: number } | undefined;
  private readonly ownSources: SourceEntry[] = [];
  private readonly sourceConfigs: SourceConfig[] = [];
  private readonly sourceRoutes = new Map<number, FibDelta>();
  private readonly fpmSources: FpmSource[] = [];
  private active: ClientSession | undefined;
  private failingOver: { from: string | null; detectMs: number; at: number; bytesOut: number } | undefined;
  private pendingResync: Resync | undefined;
  /** The difference the pending resync applied, per family: its size as one update batch is diffBytes. */
  private difference: { 4: Uint32Array[]; 6: Uint32Array[] } = { 4: [], 6: [] };
  /**
   * During a failover's resync, the changes applied here and not yet passed on: they go to
   * this card's clients as one batch in prefix order when it ends, not as the many small
   * pieces a digest resync finds them in (each piece a message, and worse compression).
   * A difference past HOLD_ROUTES goes on as it comes: clients should not wait on a large one.
   */
  private held: { 4: Uint32Array[]; 6: Uint32Array[]; routes: number } | undefined;
  /** The last next-hop announcement encoded, for the next client at the same version. */
  private announced: { from: number; to: number; frames: { m: Message; bytes: Uint8Array }[] } | undefined;
  readonly resyncs: Resync[] = [];
  private failovers = 0;
  /**
   * See ServerHost.serving: a route processor holds its peers' tables (peerTables); a line
   * card or engine has synced with a server since it started.
   */
  serving = false;
  private readonly peerTables: PeerTables | undefined;
  /** Route processors: its own sources are loaded (loadSources). */
  private loaded = false;
  private markLoaded!: () => void;
  private readonly whenLoaded = new Promise<void>((resolve) => (this.markLoaded = resolve));
  /** When each ready server (isReady) became ready: failback waits on it. */
  private readonly readySince = new Map<ClientSession, number>();
  private failbackTimer: ReturnType<typeof setTimeout> | undefined;
  /** The last digest resync ended unequal, or did not end: the next activation asks for a copy. */
  private copyNext = false;
  private readonly log: (line: Record<string, unknown>) => void;

  constructor(private readonly options: NodeOptions) {
    this.id = options.id;
    this.role = options.role;
    this.subset = normalizeSubset(options.subset ?? EVERYTHING);
    this.timers = options.timers ?? DEFAULT_TIMERS;
    this.servers = options.servers ?? [];
    this.log = options.log ?? (() => {});
    const index = options.index ?? 0;
    this.nexthops = new NextHopTable(this.role === "rp" ? { base: index * NEXTHOP_BLOCK, size: NEXTHOP_BLOCK } : {});
    // The table clients resync against keeps its sketches; a route processor's source tables need none.
    const newFib = (memoryMiB: number, keepSketch: boolean) => Fib.fromImage(options.firmware, { memoryMiB, ioBytes: 4 << 20, keepSketch });
    if (this.role === "rp") {
      this.rib = new Rib(newFib(512, true), () => newFib(512, false));
      this.fib = this.rib.fib;
      const { heartbeatMs, deadAfter } = this.timers;
      this.peerTables = new PeerTables(options.routeProcessors ?? this.servers, PEER_WAIT_LIMITS * heartbeatMs * deadAfter, (reason) => this.startServing(reason));
    } else {
      this.fib = newFib(options.memoryMiB ?? 256, true);
    }
    refreshWhenSettled(this.fib, refreshLog(this.log, this.id));
    this.rangeCache = new RangeCache(this.fib);
    this.copies = new CopyCache(this.fib, this.nexthops);
    this.trust = options.trust;
    this.credential = options.credential;
    this.multicast = options.multicast?.transport;
    // Channel keys go only to proven clients: a server multicasts when it checks who registers.
    this.channels = options.multicast && options.trust && this.role !== "npu"
      ? new ChannelServer(options.multicast, (subset) => this.feed(subset, false)?.sequence ?? 0, this.timers.heartbeatMs)
      : undefined;
  }

  /**
   * Loads the route processor's own sources into the RIB. Peers and clients may register
   * meanwhile: none may activate it before it serves (peertables.ts), and a peer's exchange
   * waits for the whole table.
   */
  async loadSources(): Promise<void> {
    for (const config of this.options.sources ?? []) await this.loadSource(config);
    this.loaded = true;
    this.markLoaded();
    this.peerTables!.start();
  }

  /**
   * Adds a route source while the route processor runs, once its configured ones are
   * loaded: its routes reach clients and peers as changes. Resolves with the source once its
   * table is in (an FPM source: once it listens).
   */
  async addSource(config: SourceConfig): Promise<SourceEntry> {
    if (this.role !== "rp" || !this.loaded) throw new Error(`${this.id}: sources are added to a route processor once its own are loaded`);
    return this.loadSource(config);
  }

  private async loadSource(config: SourceConfig): Promise<SourceEntry> {
    const i = this.sourceConfigs.length;
    if (i >= SOURCES_PER_RP) throw new Error(`${this.id}: a route processor runs at most ${SOURCES_PER_RP} sources`);
    this.sourceConfigs.push(config);
    const entry: SourceEntry = {
      id: (this.options.index ?? 0) * SOURCES_PER_RP + i, name: `${this.id}/${sourceName(this.sourceConfigs, i)}`, protocol: config.protocol,
      distance: config.distance ?? 20, metric: config.metric ?? 0, origin: this.id,
    };
    this.ownSources.push(entry);
    this.rib!.addSource(entry);
    // Peers hear of a source added at run time before its routes (behind an exchange still sending tables).
    if (this.loaded) for (const p of this.peerLinks()) this.peerSend(p, { type: "sources", entries: [entry] });
    if (config.fpm) {
      const fpm = new FpmSource(
        (changes) => this.sourceChanged(entry.id, this.rib!.update(entry.id, changes.map((c) => ({ prefix: c.prefix, nh: c.nexthop === undefined ? undefined : nexthopId(c.nexthop, this.nexthops) })))),
        (event, fields) => this.note(event, { source: entry.name, ...fields }));
      const port = await fpm.listen(config.fpm.port, config.fpm.host);
      this.fpmSources.push(fpm);
      this.note("listening for zebra (FPM)", { source: entry.name, port });
      return entry;
    }
    const started = performance.now();
    const table = initialRecords(config, this.nexthops);
    this.sourceRoutes.set(entry.id, table);
    const slicer = new Slicer();
    for (const family of [4, 6] as const) {
      for (const piece of pieces(table[family], recordWords(family), 65536)) {
        this.sourceChanged(entry.id, { delta: deltaOf(family, this.rib!.updateRecords(entry.id, family, piece)), applied: deltaOf(family, piece) });
        await slicer.turn();
      }
    }
    this.note("source loaded", { source: entry.name, routes: table[4].length / 3 + table[6].length / 6, ms: Math.round(performance.now() - started) });
    return entry;
  }

  /**
   * What a change of one of this route processor's own sources (loading, FPM, churn) did:
   * FIB changes go to clients, the source's own to peers (until the sources are loaded, a
   * peer gets them in the tables its exchange sends then).
   */
  private sourceChanged(sourceId: number, { delta, applied }: { delta: FibDelta; applied: FibDelta }): void {
    this.publish(delta);
    if (!this.loaded) return;
    for (const s of this.peerLinks()) this.sendSourceUpdates(s, sourceId, applied);
  }

  /** Churns `updates` changes over the node's first loaded source at `rate` a second; resolves when done. */
  async churn(updates: number, rate: number, seed = 1): Promise<number> {
    const source = this.ownSources.find((s) => { const t = this.sourceRoutes.get(s.id); return t !== undefined && t[4].length + t[6].length > 0; });
    if (!source) throw new Error(`${this.id} has no loaded source to churn`);
    const churn = new Churn(this.sourceRoutes.get(source.id)!, seed);
    const tickMs = 10;
    const started = performance.now();
    let sent = 0;
    while (sent < updates) {
      const due = Math.min(updates, Math.ceil(((performance.now() - started + tickMs) / 1000) * rate));
      if (due > sent) {
        this.sourceChanged(source.id, this.rib!.change(source.id, churn.next(due - sent)));
        sent = due;
      }
      await new Promise((r) => setTimeout(r, tickMs));
    }
    return sent;
  }

  // --- serving ------------------------------------------------------------------------

  /** A client's link came up (main.ts accepted it). */
  accept(link: FramedLink): ServerSession {
    const session = new ServerSession(link, this);
    this.clients.add(session);
    return session;
  }

  /** Sends the FIB changes to every active client, and to this line card's own table's clients. */
  private publish(delta: FibDelta): void {
    if (delta[4].length === 0 && delta[6].length === 0) return;
    for (const feed of this.feeds.values()) {
      for (const family of [4, 6] as const) {
        if (delta[family].length === 0) continue;
        const updates = feed.append(this.fib, family, delta[family]);
        for (const c of this.clients) c.publish(feed, updates);
        this.channels?.publish(feed.subset, updates);
      }
      feed.checkpoint(this.fib);
    }
  }

  /**
   * The next-hop entries added since `version`, encoded once for every client at that
   * version: a route processor loading a table with 84k named next hops would otherwise
   * encode each name once per line card.
   */
  nexthopAnnouncements(version: number): { m: Message; bytes: Uint8Array }[] {
    const to = this.nexthops.version;
    const cached = this.announced;
    if (cached?.from === version && cached.to === to) return cached.frames;
    const frames = [...nexthopsMessages(this.nexthops, version)].map((m) => ({ m, bytes: streamBytes(encodeMessage(m)) }));
    this.announced = { from: version, to, frames };
    return frames;
  }

  feed(subset: Subset, create: boolean): Feed | undefined {
    const key = JSON.stringify(subset);
    let feed = this.feeds.get(key);
    if (!feed && create) this.feeds.set(key, (feed = new Feed(subset, this.fib, this.options.backlogBytes, this.channels?.chunkBytes)));
    return feed;
  }

  private peerLinks(): PeerLink[] {
    const out: PeerLink[] = [];
    for (const c of this.clients) if (c.client?.role === "rp" && c.state !== "closed") out.push(peerLink(c));
    for (const s of this.sessions.values()) if (this.role === "rp" && s.state === "standby") out.push(peerLink(s));
    return out;
  }

  peerRegistered(session: ServerSession): void {
    this.peerTables!.linked(session, session.name);
    void this.startExchange(peerLink(session));
  }

  /**
   * Tells a peer route processor about our sources: descriptions, next hops, whole tables.
   * The tables are encoded at once, as they stand (as a copy is: copies.ts), and go in
   * slices, so a large one does not hold the loop (and every heartbeat) while it crosses
   * the link; their changes meanwhile wait behind them, numbered from the snapshots on.
   */
  private async startExchange(peer: PeerLink): Promise<void> {
    const queued: Message[] = [];
    this.peerQueued.set(peer.key, queued);
    this.peerSent.set(peer.key, new Map());
    // A peer that registers while our sources load gets them whole once they are.
    await this.whenLoaded;
    if (!peer.open() || this.peerQueued.get(peer.key) !== queued) return;
    peer.send({ type: "sources", entries: this.ownSources });
    for (const m of nexthopsMessages(this.nexthops, 0)) peer.send(m);
    this.peerNexthops.set(peer.key, this.nexthops.version);
    const tables = this.ownSources.flatMap((s) => [...snapshotMessages(this.rib!.table(s.id)!, undefined, { snapshot: s.id, sequence: 0 })]);
    const slicer = new Slicer();
    for (const m of tables) {
      peer.send(m);
      await slicer.turn();
      if (!peer.open() || this.peerQueued.get(peer.key) !== queued) return;
    }
    this.peerQueued.delete(peer.key);
    for (const m of queued) peer.send(m);
  }

  /** Sends to a peer, or queues behind the snapshots of an exchange still under way. */
  private peerSend(peer: PeerLink, m: Message): void {
    const queued = this.peerQueued.get(peer.key);
    if (queued) queued.push(m);
    else peer.send(m);
  }

  /** A source's changes to a peer, numbered per link and source from its snapshot (0) on. */
  private sendSourceUpdates(peer: PeerLink, sourceId: number, applied: FibDelta): void {
    this.sendPeerNexthops(peer);
    const sent = this.peerSent.get(peer.key) ?? new Map<number, number>();
    this.peerSent.set(peer.key, sent);
    for (const family of [4, 6] as const) {
      if (applied[family].length === 0) continue;
      for (const m of updateMessages(this.fib, family, applied[family], sourceId, (sent.get(sourceId) ?? 0) + 1)) {
        sent.set(sourceId, (m as { sequence: number }).sequence);
        this.peerSend(peer, m);
      }
    }
  }

  /** Next-hop entries a peer has not heard of yet. */
  private sendPeerNexthops(peer: PeerLink): void {
    for (const m of nexthopsMessages(this.nexthops, this.peerNexthops.get(peer.key) ?? 0)) this.peerSend(peer, m);
    this.peerNexthops.set(peer.key, this.nexthops.version);
  }

  private readonly peerNexthops = new WeakMap<object, number>();
  /** Per peer link whose exchange is still sending snapshots: what has waited behind them, in order. */
  private readonly peerQueued = new WeakMap<object, Message[]>();
  /** Per peer link, per source: the sequence of the last update sent, and heard. */
  private readonly peerSent = new WeakMap<object, Map<number, number>>();
  private readonly peerHeard = new WeakMap<object, Map<number, number>>();

  /** Snapshots of peers' source tables being received, per peer link, and when each last moved. */
  private readonly peerSnapshots = new Map<object, SnapshotAssembler>();
  private readonly peerSnapshotAt = new WeakMap<object, number>();

  peerMessage(from: ServerSession | ClientSession, m: Message): void | Promise<void> {
    const rib = this.rib!;
    switch (m.type) {
      case "sources":
        for (const e of m.entries) if (e.origin !== this.id) this.publish(rib.addSource(e));
        this.peerTables!.announced(from, m.entries.filter((e) => e.origin !== this.id).map((e) => e.id));
        return;
      case "nexthops":
        return this.nexthopsIn(m.entries);
      case "snapshotBegin":
      case "snapshotChunk":
      case "snapshotEnd":
        return this.peerSnapshot(from, m);
      case "heartbeat":
        return this.peerHeartbeat(from, m.sequences);
      case "update": {
        const info = rib.info(m.channel);
        if (!info || info.origin === this.id) return;
        const peer = from instanceof ServerSession ? from.name : from.server;
        const heard = this.peerHeard.get(from) ?? new Map<number, number>();
        this.peerHeard.set(from, heard);
        const due = (heard.get(m.channel) ?? 0) + 1;
        if (m.sequence !== due) {
          // A frame lost on the way (a lossy line): the table of that source is no longer the peer's.
          this.note("peer update out of sequence", { peer, source: info.name, sequence: m.sequence, due });
          return from.close(`peer update ${m.sequence} of ${info.name} where ${due} was due: registering again`);
        }
        heard.set(m.channel, m.sequence);
        const records = this.fib.decodeRoutes(m.family, m.data, m.count, true);
        if (records instanceof Error) {
          this.note("peer update refused", { peer, reason: records.message });
          return from.close(`peer update refused (${records.message}): registering again`);
        }
        this.publish(deltaOf(m.family, rib.updateRecords(m.channel, m.family, records)));
        return;
      }
    }
  }

  /** The last update sent on each of our sources to this peer (0: its snapshot only). */
  peerSequences(session: ServerSession | ClientSession): [number, number][] {
    // While the snapshots go, the updates numbered since wait: none of them is sent yet.
    const sent = this.peerQueued.has(session) ? undefined : this.peerSent.get(session);
    return this.ownSources.map((s) => [s.id, sent?.get(s.id) ?? 0]);
  }

  /**
   * A peer's heartbeat names the last update it sent of each source: one we lack was lost
   * at the tail of a burst, with no later update to show the gap. Sources whose snapshot
   * has not arrived yet are not judged.
   */
  private peerHeartbeat(from: ServerSession | ClientSession, sequences: readonly [number, number][]): void {
    // A peer snapshot whose end was lost on the way would be waited for forever.
    const stalled = performance.now() - (this.peerSnapshotAt.get(from) ?? Infinity);
    const { heartbeatMs, deadAfter } = this.timers;
    if (this.peerSnapshots.get(from)?.underWay && stalled > GIVE_UP * heartbeatMs * deadAfter) {
      this.note("peer snapshot stalled", { peer: from instanceof ServerSession ? from.name : from.server, ms: Math.round(stalled) });
      return from.close(`a peer snapshot has not moved for ${Math.round(stalled)} ms: registering again`);
    }
    const heard = this.peerHeard.get(from);
    for (const [channel, last] of sequences) {
      const got = heard?.get(channel);
      if (got === undefined || got >= last) continue;
      const source = this.rib!.info(channel)?.name ?? `source ${channel}`;
      this.note("peer update out of sequence", { peer: from instanceof ServerSession ? from.name : from.server, source, sequence: last, due: got + 1 });
      return from.close(`peer updates of ${source} up to ${last} sent, ${got} arrived: registering again`);
    }
  }

  /** A peer's source table, whole: applied as the difference from what we held of it, in slices. */
  private async peerSnapshot(from: ServerSession | ClientSession, m: Extract<Message, { type: "snapshotBegin" | "snapshotChunk" | "snapshotEnd" }>): Promise<void> {
    const rib = this.rib!;
    const info = rib.info(m.snapshot);
    if (!info || info.origin === this.id) return;
    const assembler = this.peerSnapshots.get(from) ?? new SnapshotAssembler(this.fib);
    this.peerSnapshots.set(from, assembler);
    this.peerSnapshotAt.set(from, performance.now());
    const got = assembler.feed(m);
    if (got === undefined) return;
    if (got instanceof SnapshotError) {
      // Part of it was lost on the way (a lossy line): the exchange starts over from a new registration.
      this.note("peer snapshot refused", { source: info.name, reason: got.message });
      return from.close(`peer snapshot of ${info.name} refused (${got.message}): registering again`);
    }
    // Updates of the source follow the snapshot, numbered from its sequence on.
    const heard = this.peerHeard.get(from) ?? new Map<number, number>();
    this.peerHeard.set(from, heard);
    heard.set(got.snapshot, got.sequence);
    const slicer = new Slicer();
    const steps = rib.replace(got.snapshot, got.family, got.records);
    let step = steps.next();
    for (; !step.done; step = steps.next()) {
      this.publish(deltaOf(got.family, step.value));
      await slicer.turn();
    }
    if (rib.table(got.snapshot)!.digest(got.family) !== got.digest) this.note("peer snapshot digest differs", { source: info.name, family: got.family });
    this.note("peer source synced", { source: info.name, family: got.family, differences: step.value });
    this.peerTables!.arrived(from, got.snapshot, got.family);
  }

  sessionChanged(session: ServerSession | ClientSession, from: ServerState | ClientState, reason: string): void {
    this.note("state", { ...this.who(session), from, to: session.state, reason });
    if (session.state === "closed" && from !== "closed") for (const k of Object.keys(this.endedLinks) as (keyof Node["endedLinks"])[]) this.endedLinks[k] += session.link.counters[k];
    if (session instanceof ServerSession) {
      if (session.state === "closed") {
        this.clients.delete(session);
        this.channels?.leave(session);
      }
      if (session.state === "closed" || session.state === "registering") {
        this.peerSnapshots.delete(session);
        this.peerTables?.ended(session);
      }
      return;
    }
    if (session.state === "closed" && this.sessions.get(session.server) === session) this.sessions.delete(session.server);
    if (this.role === "rp") {
      if (session.state === "standby") void this.startExchange(peerLink(session));
      if (session.state === "closed") {
        this.peerSnapshots.delete(session);
        this.peerTables!.ended(session);
      }
      return;
    }
    if (session.state === "active" && session === this.active) {
      this.finishResync(session);
      this.startServing(`synced with ${session.server}`);
    }
    if (session.state === "closed" && session === this.active) {
      this.active = undefined;
      this.lastPosition = from === "active" && session.grant ? { stream: session.grant.stream, sequence: session.sequence } : undefined;
      // A digest resync cut short (a lossy line loses one of its many small messages, the
      // server went away) is not tried again at once: a copy is fewer, larger messages.
      if (from === "syncing" && session.mode === "digest") this.copyNext = true;
      this.failovers++;
      this.failingOver = { from: session.server, detectMs: Math.round(session.silentMs), at: performance.now(), bytesOut: this.bytesToClients() };
      this.counters.staleSince = Date.now();
      this.releaseHeld();
    }
    this.reconsider();
  }

  sessionSuspect(session: ServerSession | ClientSession, reason: string): void {
    this.note("silent", { ...this.who(session), reason });
    if (session instanceof ClientSession) this.reconsider();
  }

  sessionResumed(session: ServerSession | ClientSession, silentMs: number): void {
    this.note("heard again", { ...this.who(session), afterMs: Math.round(silentMs) });
    if (session instanceof ClientSession) this.reconsider();
  }

  serverServing(session: ClientSession): void {
    this.note("server serving", { server: session.server });
    this.reconsider();
  }

  /** This node has a table to serve from now on: clients hear so, and one that activated it meanwhile gets it. */
  private startServing(reason: string): void {
    if (this.serving) return;
    this.serving = true;
    this.note("serving", { reason });
    for (const c of this.clients) c.hostServing();
  }

  channelNote(session: ClientSession, event: string, fields: Record<string, unknown>): void {
    this.note(event, { server: session.server, ...fields });
  }

  /**
   * A client is no longer trusted: its sessions end, and every channel it was on is
   * re-keyed, so it cannot read what is multicast from now on.
   */
  evict(client: string): { sessions: number; rekeyed: number[] } {
    this.trust?.revoke(client);
    // Re-keyed first, while the channels still know it was on them.
    const rekeyed = this.channels?.evict(client) ?? [];
    let sessions = 0;
    for (const c of [...this.clients]) {
      if (c.name !== client) continue;
      c.close(`${client} evicted: no longer trusted`);
      sessions++;
    }
    this.note("client evicted", { client, sessions, rekeyed });
    return { sessions, rekeyed };
  }

  private who(session: ServerSession | ClientSession): Record<string, string> {
    return session instanceof ServerSession ? { client: session.name } : { server: session.server };
  }

  // --- being a client -------------------------------------------------------------------

  /** A link to a server (or peer) came up (main.ts dialed it). */
  connect(server: string, link: FramedLink): ClientSession {
    const session = new ClientSession(server, link, this);
    this.sessions.set(server, session);
    // A peer that answered our dial is there, if busy (loading a table of its own): its tables are waited for.
    this.peerTables?.linked(session, server);
    return session;
  }

  /** Whether main.ts should (re)dial this server: not while a session with it lives. */
  wantsLink(server: string): boolean {
    return !this.sessions.has(server);
  }

  /**
   * Fails over from a silent active server when another server is ready to take over (with
   * nowhere to go, waiting for it costs nothing: the table is kept either way); otherwise
   * activates the most preferred ready server if none is active.
   */
  private reconsider(): void {
    if (this.role === "rp") return;
    const now = performance.now();
    for (const s of this.readySince.keys()) if (!isReady(s)) this.readySince.delete(s);
    for (const s of this.sessions.values()) if (isReady(s) && !this.readySince.has(s)) this.readySince.set(s, now);
    const next = this.ready()[0];
    if (this.active?.suspect && next) {
      this.active.abandon(`${this.active.server} is silent and ${next.server} is ready: failing over`);
      return;
    }
    if (this.active?.state === "active" && !this.active.suspect && next && this.prefers(next, this.active)) {
      this.failback(next, now);
      return;
    }
    this.chooseActive();
  }

  /** Whether server a comes before b in this node's order of preference. */
  private prefers(a: ClientSession, b: ClientSession): boolean {
    return this.servers.indexOf(a.server) < this.servers.indexOf(b.server);
  }

  /**
   * A server more preferred than the active one is ready: once it has stayed ready for
   * failbackMs, move back to it (the active session ends and registers again as a standby;
   * the preferred server brings the table to equality, and only the difference goes on).
   */
  private failback(preferred: ClientSession, now: number): void {
    const after = this.options.failbackMs ?? DEFAULT_FAILBACK_MS;
    if (after < 0) return;
    // The wait guards a table against a flapping server; an empty table has nothing to guard
    // (a card that came up while only an empty server was there, say a route processor
    // still loading its table).
    const empty = this.fib.count(4) + this.fib.count(6) === 0;
    const wait = empty ? 0 : this.readySince.get(preferred)! + after - now;
    if (wait <= 0) {
      this.active!.close(empty ? `${preferred.server} is preferred and our table is empty: moving to it now` : `${preferred.server} is preferred and has been ready for ${after} ms: moving back to it`);
      return;
    }
    if (this.failbackTimer === undefined) {
      this.failbackTimer = setTimeout(() => { this.failbackTimer = undefined; this.reconsider(); }, wait + 1);
      this.failbackTimer.unref?.();
    }
  }

  /** Ready servers (isReady) in order of preference. */
  private ready(): ClientSession[] {
    const out: ClientSession[] = [];
    for (const server of this.servers) {
      const s = this.sessions.get(server);
      if (s && isReady(s)) out.push(s);
    }
    return out;
  }

  /** Activates the most preferred ready server when none is active (or syncing). */
  private chooseActive(): void {
    if (this.role === "rp" || this.active) return;
    const s = this.ready()[0];
    if (!s) return;
    this.active = s;
    if (!this.failingOver) this.failingOver = { from: null, detectMs: 0, at: performance.now(), bytesOut: this.bytesToClients() };
    this.difference = { 4: [], 6: [] };
    // A first sync streams on as it comes: clients of a card that is filling up want the table soon, not all at once.
    if (this.failingOver.from !== null) this.held = { 4: [], 6: [], routes: 0 };
    this.pendingResync = { from: this.failingOver.from, to: s.server, mode: "copy", detectMs: this.failingOver.detectMs, ms: 0, bytesIn: 0, bytesUp: 0, diffEntries: 0, diffBytes: 0, bytesOut: 0 };
    s.activate();
    this.lastPosition = undefined;
  }

  /** Where the table stands on the stream it follows: a server of that stream can send only what it missed. */
  position(): { stream: bigint; sequence: number } | undefined {
    const a = this.active;
    if (a?.state === "active" && a.grant) return { stream: a.grant.stream, sequence: a.sequence };
    return this.lastPosition;
  }

  nexthopsDigest(): bigint {
    return this.nexthops.digest;
  }

  /** Digest resync unless configured otherwise, or unless the table is empty: then a copy costs no more. */
  resyncMode(): ResyncMode {
    if (this.copyNext) {
      this.copyNext = false;
      return "copy";
    }
    if (this.fib.count(4) + this.fib.count(6) === 0) return "copy";
    return this.options.resync ?? "digest";
  }

  nexthopsArrived(entries: readonly NextHopEntry[]): void {
    this.nexthopsIn(entries);
  }

  private nexthopsIn(entries: readonly NextHopEntry[]): void {
    for (const e of entries) this.nexthops.adopt(e);
    // Our clients hear of new entries before any route that uses them.
    for (const c of this.clients) if (c.state === "active") c.sendNexthops();
  }

  /** The active server's whole table of one family: apply only what differs, in slices. */
  async synced(session: ClientSession, snapshot: AssembledSnapshot): Promise<void> {
    const { family, records } = snapshot;
    const words = family === 4 ? 3 : 6;
    // Into an empty table (a first sync), the copy is its own difference: every route a set.
    const diff = this.fib.count(family) === 0 ? { changes: records } : this.fib.diff(family, this.fib.records(family), records);
    const slicer = new Slicer();
    let applied = 0;
    for (const piece of pieces(diff.changes, words)) {
      if (session !== this.active) return;
      applied += this.applyAndPublish(family, piece);
      await slicer.turn();
    }
    const digest = this.fib.digest(family);
    if (digest !== snapshot.digest) {
      this.note("table differs from the server's after resync", { server: session.server, family, have: hex(digest), want: hex(snapshot.digest), refused: diff.changes.length / words - applied });
    }
    this.countDifference(family, diff.changes);
  }

  /** Changes a digest resync found: applied and passed on like an update. */
  repaired(session: ClientSession, family: Family, changes: Uint32Array): void {
    if (session !== this.active) return;
    this.applyAndPublish(family, changes);
    this.countDifference(family, changes);
  }

  /**
   * A digest resync that ends with a table unlike the server's (pieces that differed yet
   * matched on the 32 bits exchanged, or routes this card could not hold) is not trusted:
   * the next activation asks for a copy.
   */
  rangeSynced(session: ClientSession, family: Family, serverDigest: bigint): boolean {
    const digest = this.fib.digest(family);
    if (digest === serverDigest) return true;
    this.note("table differs from the server's after resync", { server: session.server, family, have: hex(digest), want: hex(serverDigest), next: "copy" });
    this.copyNext = true;
    return false;
  }

  private countDifference(family: Family, changes: Uint32Array): void {
    if (!this.pendingResync) return;
    this.pendingResync.diffEntries += changes.length / recordWords(family);
    if (this.pendingResync.from !== null) this.difference[family].push(changes);
  }

  private finishResync(session: ClientSession): void {
    const r = this.pendingResync;
    if (!r || !this.failingOver) return;
    // The resync ends here; what follows only measures it.
    r.ms = Math.round(performance.now() - this.failingOver.at);
    for (const family of [4, 6] as const) {
      const parts = this.difference[family];
      // A copy's difference is one diff, in prefix order; a digest resync's or a catch-up's
      // comes piece by piece, and is put in order first.
      if (parts.length > 0) r.diffBytes += updateBytes(this.fib, family, parts.length === 1 ? parts[0] : sortRecords(family, concatRecords(parts)));
    }
    this.difference = { 4: [], 6: [] };
    this.releaseHeld();
    r.mode = session.mode ?? "copy";
    r.bytesIn = session.link.counters.bytesIn - session.bytesInAtActivation;
    r.bytesUp = session.link.counters.bytesOut - session.bytesOutAtActivation;
    r.bytesOut = this.bytesToClients() - this.failingOver.bytesOut;
    this.resyncs.push(r);
    this.note("resynced", { ...r });
    this.pendingResync = undefined;
    this.failingOver = undefined;
    this.counters.staleSince = 0;
  }

  update(session: ClientSession, family: Family, records: Uint32Array): void {
    if (session !== this.active) return;
    this.applyAndPublish(family, records);
    // Updates applied while a resync is under way (a catch-up's, those that flow during a
    // digest resync) count as what the resync changed; the others as updates in.
    if (session.state === "syncing") return this.countDifference(family, records);
    this.counters.updatesIn++;
    this.counters.routesIn += records.length / (family === 4 ? 3 : 6);
  }

  /** Applies change records to the table and passes on those that took; returns how many. */
  private applyAndPublish(family: Family, records: Uint32Array): number {
    if (records.length === 0) return 0;
    const words = family === 4 ? 3 : 6;
    const ok = this.fib.applyRecords(family, records);
    // Only what took goes on: a route the card could not hold goes no further (counted).
    this.counters.refused += records.length / words - ok;
    const taken = ok * words === records.length ? records : selectRecords(family, records, (w) => ((records[w] >>> 16) & 255) === 0);
    if (this.held && this.held.routes + ok <= HOLD_ROUTES) {
      this.held[family].push(taken.slice());
      this.held.routes += ok;
      return ok;
    }
    this.releaseHeld();
    this.publish(deltaOf(family, taken));
    return ok;
  }

  /** Passes on what a resync held back, in prefix order (a stable sort: a prefix changed twice ends as it was left). */
  private releaseHeld(): void {
    const held = this.held;
    if (!held) return;
    this.held = undefined;
    for (const family of [4, 6] as const) {
      if (held[family].length > 0) this.publish(deltaOf(family, sortRecords(family, concatRecords(held[family]))));
    }
  }

  private bytesToClients(): number {
    let n = 0;
    for (const c of this.clients) n += c.link.counters.bytesOut;
    return n;
  }

  // --- status ---------------------------------------------------------------------------

  status(): NodeStatus {
    const counters: Record<string, number> = { ...this.counters, nexthops: this.nexthops.size, memoryBytes: this.fib.memoryBytes(), ...this.endedLinks };
    for (const s of [...this.sessions.values(), ...this.clients]) for (const k of Object.keys(this.endedLinks) as (keyof Node["endedLinks"])[]) counters[k] += s.link.counters[k];
    for (const f of this.fpmSources) {
      counters.fpmConnections = (counters.fpmConnections ?? 0) + f.counters.connections;
      counters.fpmRoutes = (counters.fpmRoutes ?? 0) + f.counters.routes;
      counters.fpmSwept = (counters.fpmSwept ?? 0) + f.counters.swept;
    }
    return {
      id: this.id,
      role: this.role,
      routes: { 4: this.fib.count(4), 6: this.fib.count(6) },
      digest: { 4: hex(this.fib.digest(4)), 6: hex(this.fib.digest(6)) },
      active: this.active?.server ?? null,
      stale: this.role !== "rp" && this.active?.state !== "active",
      failovers: this.failovers,
      resyncs: this.resyncs,
      sessions: [...this.sessions.values()].map((s) => ({ server: s.server, state: s.state, suspect: s.suspect })),
      clients: [...this.clients].map((c) => ({ client: c.name, state: c.state, sequence: c.sequence, suspect: c.suspect })),
      counters,
      sketch: this.fib.keptSketchCells(4) === 0 ? "none" : this.fib.sketchesStale() ? "stale" : "kept",
      channels: {
        serving: this.channels?.status() ?? [],
        receiving: [...this.sessions.values()].filter((s) => s.receiver).map((s) => ({ server: s.server, channel: s.receiver!.spec.id, ...s.receiver!.counters, ...s.multicastCounters })),
      },
      ...(this.rib ? { rib: this.rib.digests() } : {}),
    };
  }

  /** The table as route-file lines, next hops as their sources wrote them. */
  *dump(): Generator<string> {
    for (const family of [4, 6] as const) for (const [p, nh] of this.fib.routes(family)) yield `${p} ${this.nexthops.name(nh)}\n`;
  }

  private note(event: string, fields: Record<string, unknown>): void {
    this.log({ node: this.id, event, ...fields });
  }
}
