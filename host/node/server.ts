// The server side of one registration: a client of this node (a line card of a route
// processor, a forwarding engine of a line card, or a peer route processor).
//
// States, in order:
//   registering  the link is up; waiting for the client's hello (and, where the server
//                keeps a trust file, its proof of who it is: challenge, auth)
//   standby      granted: the client is known and authorized, and hears only heartbeats
//   active       the client chose this server and is brought to equality with it, by a copy
//                of its subset or by range digests (rangesync.ts); every change of that
//                subset follows as update batches, numbered per subset: on this link, or on
//                the subset's multicast channel when the client joined it (then this link
//                carries only the repairs it asks for). A client may activate again while
//                active: it lost updates the channel no longer holds
//   closed       the link is gone (or was dropped for a reason, logged)
// A hello in any state but closed starts the session over: on a serial line the link
// outlives the client process behind it, so a card that restarted (or dropped its session)
// says hello on the line its old session used.
// A peer route processor skips standby and active: after the grant both sides exchange the
// tables of the sources they run (the node's peer exchange handles those messages).

import type { Fib } from "../fib.ts";
import type { NextHopTable } from "../nexthops.ts";
import type { FramedLink } from "../links/framed.ts";
import { randomBytes, type KeyObject } from "node:crypto";
import { CAP_MULTICAST, ERROR_BEYOND_BACKLOG, ERROR_NOT_REGISTERED, encodeMessage, type Channel, type Message, type Role, type Subset } from "../wire/messages.ts";
import { authTranscript, type Trust } from "../auth/trust.ts";
import { newKeyShare, sessionKek } from "../auth/keys.ts";
import type { ChannelServer } from "../multicast/server.ts";
import { nexthopsMessages } from "../wire/snapshot.ts";
import { streamBytes } from "../wire/frame.ts";
import type { Feed } from "./feed.ts";
import { RangeAnswers, RangeSyncError, type RangeCache } from "./rangesync.ts";
import type { CopyCache } from "./copies.ts";
import type { Timers } from "./liveness.ts";
import { Session } from "./session.ts";
import { Slicer } from "./slices.ts";
import { normalizeSubset, subsetDigest, wholeFamily } from "./subset.ts";

export type ServerState = "registering" | "standby" | "active" | "closed";

type Activate = Extract<Message, { type: "activate" }>;
type Hello = Extract<Message, { type: "hello" }>;

/** What a node offers the sessions it serves. */
export interface ServerHost {
  readonly id: string;
  readonly role: Role;
  readonly fib: Fib;
  readonly nexthops: NextHopTable;
  /** This server's stream identity: new every time the node starts. */
  readonly stream: bigint;
  /**
   * Whether this node has a table to serve: a route processor once it holds its peers'
   * tables (Node.serving); a line card once it has synced with a server since it started.
   * A server still filling its table must not hand its clients a part of it to converge
   * to. Said in every grant and heartbeat; it only ever turns true.
   */
  readonly serving: boolean;
  readonly timers: Timers;
  /** The node's range digests, kept for every client's digest resync. */
  readonly rangeCache: RangeCache;
  /** Copies of subsets of the table, shared by the clients that ask for the same one. */
  readonly copies: CopyCache;
  /** Who may register; undefined: anyone (and no multicast, whose keys need a proven client). */
  readonly trust: Trust | undefined;
  /** The node's multicast channels, if it multicasts. */
  readonly channels: ChannelServer | undefined;
  /** The update stream of a subset, made when a client first activates this server for it. */
  feed(subset: Subset, create: boolean): Feed | undefined;
  /** The next-hop entries added since `version`, as messages and their stream encoding (shared by every client at that version). */
  nexthopAnnouncements(version: number): { m: Message; bytes: Uint8Array }[];
  /** A peer route processor registered: start the exchange. */
  peerRegistered(session: ServerSession): void;
  /** A message of the peer exchange arrived. */
  peerMessage(session: ServerSession, m: Message): void | Promise<void>;
  /** The last update sent on each source channel of a peer link, for its heartbeats. */
  peerSequences(session: ServerSession): [number, number][];
  /** A session changed state (for logs and status). */
  sessionChanged(session: ServerSession, from: ServerState, reason: string): void;
  /** The client has been silent past the limit (suspect), or spoke again. */
  sessionSuspect(session: ServerSession, reason: string): void;
  sessionResumed(session: ServerSession, silentMs: number): void;
}


/** Which roles may register with which. */
const CLIENTS_OF: Record<Role, readonly Role[]> = { rp: ["rp", "lc"], lc: ["npu"], npu: [] };

export class ServerSession extends Session<ServerState> {
  client?: { node: string; session: bigint; role: Role; subset: Subset };
  /** The update stream of the client's subset, from its activation on. */
  private feed: Feed | undefined;
  /** Sequence the client last acknowledged. */
  acked = 0;
  private nexthopsSent = 0;
  /** Update batches published while the activation snapshot is still going out. */
  private backlog: Message[] | undefined;
  /** The client's digest resync since it last activated us. */
  private answers: RangeAnswers | undefined;
  /** Bumped when the session starts over: a snapshot still going out for the last one stops. */
  private epoch = 0;
  private toldNotRegistered = false;
  /** The client activated this server before the host had a table to serve (see ServerHost.serving). */
  private activationWaiting: Activate | undefined;
  /** A hello waiting for its proof: the challenge sent, and our key share for it. */
  private challenged: { hello: Hello; nonce: Uint8Array; privateKey: KeyObject; share: Uint8Array } | undefined;
  /** Proven clients: the key our channel keys are wrapped with for this client, and our share of it. */
  private keys: { kek: Uint8Array; share: Uint8Array } | undefined;
  /** The multicast channel the client's updates go on, once granted; whether it takes them there. */
  channel: Channel | undefined;
  /** The client activated us wanting its updates on the channel; it takes them there once it says it is synced. */
  private wantsChannel = false;
  viaMulticast = false;
  /** Repairs sent lately, by sequence: a NAK repeated before the repair could arrive is not answered twice. */
  private readonly repairedAt = new Map<number, number>();

  constructor(link: FramedLink, private readonly host: ServerHost) {
    super(link, host.timers, "registering");
  }

  get name(): string {
    return this.client?.node ?? "(unregistered)";
  }

  protected get peer(): string {
    return this.name;
  }

  protected suspected(reason: string): void {
    this.host.sessionSuspect(this, reason);
  }

  protected resumed(silentMs: number): void {
    this.host.sessionResumed(this, silentMs);
  }

  protected changed(from: ServerState, reason: string): void {
    this.host.sessionChanged(this, from, reason);
  }

  protected receive(m: Message): void | Promise<void> {
    if (this.state === "closed") return;
    if (m.type === "hello") return this.hello(m);
    if (m.type === "auth" && this.state === "registering") return this.auth(m);
    if (this.state === "registering") return this.notRegistered();
    switch (m.type) {
      case "activate": return this.activate(m);
      case "rangeDigests": case "rangeSketch": return this.rangeSync(m);
      case "heartbeat":
        if (this.client?.role === "rp") return this.host.peerMessage(this, m);
        // A client's heartbeat names the last update it applied: what it has acknowledged.
        this.acked = Math.max(this.acked, m.sequences.find(([c]) => c === 0)?.[1] ?? 0);
        return;
      case "ack":
        this.acked = Math.max(this.acked, m.sequence);
        return this.takesChannel(m.channel);
      case "nak": return this.nak(m);
      default:
        if (this.client?.role === "rp") return this.host.peerMessage(this, m);
    }
  }

  /**
   * A client that speaks before its hello had a session with this server before it
   * restarted (on a line that stayed up): told once, it registers again at once instead
   * of when its silence limit runs out.
   */
  private notRegistered(): void {
    if (this.toldNotRegistered) return;
    this.toldNotRegistered = true;
    this.send({ type: "error", code: ERROR_NOT_REGISTERED, message: `${this.host.id} has no session for you: say hello` });
  }

  private hello(m: Hello): void {
    if (this.state === "standby" && this.client?.session === m.session) {
      // The same session saying hello again: our grant was lost on the way.
      return this.grant();
    }
    if (this.state !== "registering") {
      this.epoch++;
      this.backlog = undefined;
      this.feed = undefined;
      this.activationWaiting = undefined;
      this.become("registering", `${m.node} said hello again on the same line: its session starts over`);
      this.client = undefined;
      this.host.channels?.leave(this);
    }
    if (!CLIENTS_OF[this.host.role].includes(m.role)) return this.refuse(m.node, `a ${m.role} does not register with a ${this.host.role}`);
    if (!this.host.trust) return this.register(m);
    // The same session's hello again (it heard nothing yet): the same challenge, so that
    // an answer already on its way still matches.
    if (this.challenged?.hello.session === m.session) return void this.send({ type: "challenge", server: this.host.id, nonce: this.challenged.nonce });
    // Who it is must be proven before it learns anything: a challenge, answered over a
    // transcript that binds this server, the session, the nonce and its key share.
    const { privateKey, share } = newKeyShare();
    const nonce = new Uint8Array(randomBytes(32));
    this.challenged = { hello: m, nonce, privateKey, share };
    this.send({ type: "challenge", server: this.host.id, nonce });
  }

  private auth(m: Extract<Message, { type: "auth" }>): void {
    const c = this.challenged;
    if (!c || m.node !== c.hello.node) return this.refuse(m.node, "authorization without a challenge for it");
    this.challenged = undefined;
    const verdict = this.host.trust!.verify(m.node, m.method, authTranscript(this.host.id, m.node, c.hello.session, c.nonce, m.share), m.proof);
    if (verdict !== true) return this.refuse(m.node, verdict);
    this.keys = { kek: sessionKek(c.privateKey, m.share, c.nonce, m.node), share: c.share };
    this.register(c.hello);
  }

  private refuse(node: string, reason: string): void {
    this.send({ type: "deny", code: 1, reason });
    this.close(`refused ${node}: ${reason}`);
  }

  private register(m: Hello): void {
    const subset = normalizeSubset(m.subset);
    this.client = { node: m.node, session: m.session, role: m.role, subset };
    // A proven client that takes multicast gets its subset's channel; its updates are
    // numbered by that channel's feed (the channel may carry a wider subset: it filters).
    const proven = this.keys !== undefined && (m.capabilities & CAP_MULTICAST) !== 0 && m.role !== "rp";
    this.channel = proven ? this.host.channels?.grantFor(this, subset, this.keys!.kek) : undefined;
    // A client that may activate this server may want to catch up from its history: the
    // subset's feed starts now, with the table as it is. (A card that registers with a
    // server still filling its table catches up from there once it serves: its updates
    // are encoded once, as they come, for every client of the subset.)
    if (m.role !== "rp") this.host.feed(this.feedSubset, true);
    this.grant();
    this.become("standby", `${m.node} (${m.role}) registered${this.keys ? ", proven" : ""}${this.channel ? `, on channel ${this.channel.id}` : ""}`);
    if (m.role === "rp") this.host.peerRegistered(this);
  }

  /** The subset whose feed numbers the client's updates: its channel's, or its own. */
  private get feedSubset(): Subset {
    return this.channel?.subset ?? this.client!.subset;
  }

  private grant(): void {
    const { heartbeatMs, deadAfter } = this.host.timers;
    const sequence = this.host.feed(this.feedSubset, false)?.sequence ?? 0;
    this.send({
      type: "grant", server: this.host.id, role: "standby", stream: this.host.stream, sequence, heartbeatMs, deadAfter, serving: this.host.serving,
      share: this.keys?.share ?? new Uint8Array(0), channels: this.channel ? [this.channel] : [],
    });
  }

  /** The channel's key changed (a client was evicted): this client gets the new one. */
  rekeyed(channel: Channel): void {
    if (this.state === "closed" || this.channel?.id !== channel.id) return;
    this.channel = channel;
    this.send({ type: "channels", channels: [channel] });
  }

  /** The key this client's channel keys are wrapped with. */
  get kek(): Uint8Array | undefined {
    return this.keys?.kek;
  }

  /**
   * The client made this server its active one: it is brought to equality, then hears every
   * change. Back on this stream within the backlog: the updates it missed. By copy: the
   * whole subset as it is now goes out in slices, and changes published meanwhile wait
   * behind it. By digest: the digests of its subset, and from then on every change as it
   * comes; the client's range digests are answered as they arrive. Next-hop entries go
   * first, all of them, unless the client's table of them is already ours.
   */
  private async activate(m: Activate): Promise<void> {
    if ((this.state !== "standby" && this.state !== "active") || !this.client) return;
    if (!this.host.serving) {
      this.activationWaiting = m;
      return;
    }
    if (this.state === "active") {
      // Activated again: the client lost updates it could not get back. What was still
      // going out for its last activation stops.
      this.epoch++;
      this.backlog = undefined;
    }
    this.answers = undefined;
    const { subset } = this.client;
    const feed = this.host.feed(this.feedSubset, true)!;
    this.feed = feed;
    this.wantsChannel = m.multicast && this.channel !== undefined;
    this.viaMulticast = false;
    // Where the client can continue from: its position on this stream, or a point of it
    // whose digests are the client's table's.
    const from = m.stream === this.host.stream && feed.since(m.sequence) ? m.sequence : feed.matching(m.digest4, m.digest6);
    const missed = from === undefined ? undefined : feed.since(from);
    const mode = missed ? "catch-up" : m.resync === "digest" && this.farApart(m.routes) ? "copy" : m.resync;
    this.become("active", `${this.client.node} activated this server (${mode === "catch-up" ? `catching up from update ${from}` : `resync by ${mode}`}${this.wantsChannel ? `; updates by channel ${this.channel!.id} once synced` : ""})`);
    if (mode === "copy") {
      this.send({ type: "resync", mode, sequence: feed.sequence, through: feed.sequence, digest4: 0n, digest6: 0n });
      return this.sendCopy(feed.sequence);
    }
    if (m.nexthops !== this.host.nexthops.digest) for (const n of nexthopsMessages(this.host.nexthops)) if (!this.send(n)) return;
    this.nexthopsSent = this.host.nexthops.version;
    if (missed) {
      this.send({ type: "resync", mode, sequence: from!, through: feed.sequence, digest4: 0n, digest6: 0n });
      for (const u of missed) if (!this.send(u)) return;
      return;
    }
    const fib = this.host.fib;
    const digests = { 4: subsetDigest(fib, subset, 4), 6: subsetDigest(fib, subset, 6) };
    this.send({ type: "resync", mode, sequence: feed.sequence, through: feed.sequence, digest4: digests[4], digest6: digests[6] });
    // The client now describes its table; what its first request is compared with is made
    // meanwhile, not when the request arrives.
    for (const family of subset.families) if (digests[family] !== (family === 4 ? m.digest4 : m.digest6)) this.host.rangeCache.top(family, subset);
  }

  /**
   * Whether a client holding `routes` routes is far from its subset of our table: its
   * count is off by more than a tenth. A digest resync pays off when the tables are close;
   * far apart, it sends much of the table anyway, piece by piece, where a copy sends it in
   * one stream. Whole families only (a subset within one has no count at hand).
   */
  private farApart(routes: number): boolean {
    const { subset } = this.client!;
    if (!subset.families.every((f) => wholeFamily(subset, f))) return false;
    const ours = subset.families.reduce((n, f) => n + this.host.fib.count(f), 0);
    return Math.abs(routes - ours) > ours / 10;
  }

  /**
   * The client's whole subset as it is now (copies.ts), in slices; changes published
   * meanwhile wait behind it.
   */
  private async sendCopy(sequence: number): Promise<void> {
    this.backlog = [];
    this.nexthopsSent = this.host.nexthops.version;
    const slicer = new Slicer();
    const epoch = this.epoch;
    for (const bytes of this.host.copies.copy(this.client!.subset, sequence)) {
      if (!this.sendEncoded(bytes)) return;
      await slicer.turn();
      if (this.epoch !== epoch) return;
    }
    const waiting = this.backlog;
    this.backlog = undefined;
    for (const m of waiting) if (!this.send(m)) return;
  }

  /**
   * A request of the client's digest resync, or a sketch it sent for one: answered at once,
   * in one turn, so that no update goes out between a repair and the table it was computed
   * from.
   */
  private rangeSync(m: Extract<Message, { type: "rangeDigests" | "rangeSketch" }>): void {
    if (this.state !== "active" || !this.client || this.backlog) return;
    const { subset } = this.client;
    if (!subset.families.includes(m.family)) return this.close(`${this.name} asked for range digests of IPv${m.family}, which it does not take`);
    this.answers ??= new RangeAnswers(this.host.fib, this.host.rangeCache, subset, (out) => this.send(out));
    if (m.type === "rangeDigests") return this.answers.request(m);
    try {
      this.answers.sketch(m);
    } catch (e) {
      if (e instanceof RangeSyncError) return this.close(`${this.name}: ${e.message}`);
      throw e;
    }
  }

  /**
   * The host has a table now: the client hears so at once, and if it activated this server
   * meanwhile (it had not heard yet), it gets the table.
   */
  hostServing(): void {
    if (this.state === "registering" || this.state === "closed") return;
    this.heartbeat();
    const m = this.activationWaiting;
    if (!m) return;
    this.activationWaiting = undefined;
    void this.activate(m);
  }

  /** Sends the client updates of its feed, if it is active on it (and not taking them by multicast). */
  publish(feed: Feed, updates: readonly Message[]): void {
    if (this.state !== "active" || this.feed !== feed || updates.length === 0) return;
    if (this.viaMulticast) return this.sendNexthops();
    this.sendNexthops();
    for (const m of updates) {
      if (this.backlog) this.backlog.push(m);
      else if (!this.send(m)) return;
    }
  }

  /**
   * The client is synced and takes its updates on its channel from now on: this link
   * carries only repairs. (Updates this link sent meanwhile arrive as well; the client
   * takes each once.)
   */
  private takesChannel(channel: number): void {
    if (this.state !== "active" || !this.wantsChannel || this.viaMulticast || channel !== this.channel?.id) return;
    this.viaMulticast = true;
    this.host.channels!.activated(this);
    this.host.sessionChanged(this, "active", `${this.name} synced: its updates go on channel ${channel}`);
  }

  /**
   * The client missed updates of its channel: sent again on this link, each at most once
   * per heartbeat interval (a NAK repeated sooner crossed the repair on the way). One the feed no longer holds cannot be repaired: the client is told
   * to activate again (a digest resync of the difference).
   */
  private nak(m: Extract<Message, { type: "nak" }>): void {
    if (this.state !== "active" || !this.viaMulticast || !this.feed || m.channel !== this.channel?.id) return;
    const now = performance.now();
    let repairs = 0, bytes = 0;
    for (const [from, count] of m.ranges) {
      const { held, beyond } = this.feed.range(from, Math.min(count, 4096));
      if (beyond) {
        this.host.channels!.nakked(this, repairs, bytes);
        this.send({ type: "error", code: ERROR_BEYOND_BACKLOG, message: `update ${from} is no longer held: activate again` });
        return;
      }
      for (const u of held) {
        if (now - (this.repairedAt.get(u.sequence) ?? -Infinity) < this.host.timers.heartbeatMs) continue;
        this.repairedAt.set(u.sequence, now);
        const r: Message = { type: "retransmission", channel: m.channel, sequence: u.sequence, family: u.family, count: u.count, data: u.data };
        if (!this.send(r)) return;
        repairs++;
        bytes += encodeMessage(r).length;
      }
    }
    // Answered: a repair the client still lacks after this was lost on the way.
    const asked = m.ranges.reduce((last, [from, count]) => Math.max(last, from + count - 1), 0);
    if (!this.send({ type: "ack", channel: m.channel, sequence: asked })) return;
    if (this.repairedAt.size > 65536) for (const [seq, at] of this.repairedAt) if (now - at >= this.host.timers.heartbeatMs) this.repairedAt.delete(seq);
    this.host.channels!.nakked(this, repairs, bytes);
  }

  /** Sequence of the last update of the client's stream (0 before it activated this server). */
  get sequence(): number {
    return this.feed?.sequence ?? 0;
  }

  /** Next-hop entries defined since the client last heard, before any route that uses them. */
  sendNexthops(): void {
    for (const { m, bytes } of this.host.nexthopAnnouncements(this.nexthopsSent)) {
      if (this.backlog) this.backlog.push(m);
      else if (!this.sendEncoded(bytes)) return;
    }
    this.nexthopsSent = this.host.nexthops.version;
  }

  protected heartbeat(): void {
    // A client on the channel hears of what the channel has sent: updates still waiting
    // for the channel's rate are not missing.
    const last = this.viaMulticast ? this.host.channels!.lastSent(this) : this.sequence;
    const sequences = this.client?.role === "rp" ? this.host.peerSequences(this) : [[0, last] as [number, number]];
    this.send({ type: "heartbeat", timeMs: Date.now(), serving: this.host.serving, sequences });
  }

  /** Sends, or drops a client too slow to take it (it will register again and resync). */
  send(m: Message): boolean {
    return this.sendEncoded(streamBytes(encodeMessage(m)));
  }

  private sendEncoded(bytes: Uint8Array): boolean {
    if (this.state === "closed") return false;
    if (this.link.sendEncoded(bytes)) return true;
    this.close(`${this.name} is not reading: its send queue is full`);
    return false;
  }
}
