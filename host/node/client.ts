// The client side of one registration: this node registered with one of its servers (a
// line card with a route processor, a forwarding engine with a line card, or a route
// processor with a peer).
//
// States, in order:
//   registering  hello sent, waiting for the grant (proving who we are first if the server
//                challenges us); a grant with a channel joins the channel before standby
//   standby      granted; only heartbeats flow. The node activates one server at a time
//   syncing      activated: the server brings our table to its own, by a snapshot of our
//                subset (copy) or by range digests (rangesync.ts: then updates flow already)
//   active       synced; update batches follow, each checked for its sequence. On a channel
//                they come by multicast, out of order or not at all: a sequencer puts them in
//                order, missing ones are asked for (NAK) and come back by unicast; one the
//                server no longer holds means activating again
//   closed       the link is gone, or we dropped it (a gap, a bad snapshot, silence)
// A peer route processor goes from registering to standby and stays there: the node's peer
// exchange handles what follows.

import type { Fib } from "../fib.ts";
import type { Family } from "../netip.ts";
import { RouteCodecError } from "../fib.ts";
import type { FramedLink } from "../links/framed.ts";
import { CAP_ENCRYPTION, CAP_MULTICAST, CAP_SNAPSHOT, ERROR_BEYOND_BACKLOG, ERROR_NOT_REGISTERED, type Channel, type Message, type NextHopEntry, type ResyncMode, type Role, type Subset } from "../wire/messages.ts";
import type { KeyObject } from "node:crypto";
import { authTranscript, prove, type Credential } from "../auth/trust.ts";
import { channelAad, newKeyShare, sessionKek, unwrapKey, KeyError } from "../auth/keys.ts";
import type { MulticastTransport } from "../links/multicast.ts";
import { ChannelReceiver } from "../multicast/receiver.ts";
import { Sequencer } from "../multicast/sequencer.ts";
import { filterRecords } from "./subset.ts";
import { SnapshotAssembler, SnapshotError, type AssembledSnapshot } from "../wire/snapshot.ts";
import { GIVE_UP, type Timers } from "./liveness.ts";
import { Session } from "./session.ts";
import { RangeSync, RangeSyncError } from "./rangesync.ts";

export type ClientState = "registering" | "standby" | "syncing" | "active" | "closed";

export interface ClientHost {
  readonly id: string;
  readonly role: Role;
  readonly subset: Subset;
  readonly timers: Timers;
  /** Whether this node has a table to serve (ServerHost.serving), said in its heartbeats. */
  readonly serving: boolean;
  /** The node's table: what arrives is decoded with it, and a digest resync describes it. */
  readonly fib: Fib;
  /** What proves who this node is to a server that challenges it. */
  readonly credential: Credential | undefined;
  /** Where this node joins the channels it is granted; undefined: updates by unicast only. */
  readonly multicast: MulticastTransport | undefined;
  /** Something on a channel was dropped (for the log). */
  channelNote(session: ClientSession, event: string, fields: Record<string, unknown>): void;
  /** Digest of the node's next-hop table, sent when it activates a server. */
  nexthopsDigest(): bigint;
  /** How this node asks its servers to bring it to equality when it activates one. */
  resyncMode(): ResyncMode;
  /** The stream and sequence the node's table follows, if it follows one. */
  position(): { stream: bigint; sequence: number } | undefined;
  nexthopsArrived(entries: readonly NextHopEntry[]): void;
  /** A whole family arrived from the server this node activated. */
  synced(session: ClientSession, snapshot: AssembledSnapshot): Promise<void>;
  /** Changes a digest resync found (sorted records). */
  repaired(session: ClientSession, family: Family, changes: Uint32Array): void;
  /** A family's digest resync is done: whether the table's digest is the server's. */
  rangeSynced(session: ClientSession, family: Family, serverDigest: bigint): boolean;
  /** An update batch from the active server: sorted change records. */
  update(session: ClientSession, family: Family, records: Uint32Array): void;
  /** A message of the peer exchange (peer route processors only). */
  peerMessage(session: ClientSession, m: Message): void | Promise<void>;
  peerSequences(session: ClientSession): [number, number][];
  sessionChanged(session: ClientSession, from: ClientState, reason: string): void;
  /** The server has been silent past the limit (suspect), or spoke again. */
  sessionSuspect(session: ClientSession, reason: string): void;
  sessionResumed(session: ClientSession, silentMs: number): void;
  /** The server said it now has a table to serve (its grant said it had not). */
  serverServing(session: ClientSession): void;
}

export class ClientSession extends Session<ClientState> {
  grant?: Extract<Message, { type: "grant" }>;
  /** Whether the server has said it has a table to serve (ServerHost.serving). */
  serving = false;
  /** Sequence of the last update applied. */
  sequence = 0;
  /** When it was activated and the link's bytes in then: what a resync cost. */
  activatedAt = 0;
  bytesInAtActivation = 0;
  bytesOutAtActivation = 0;
  private pending = new Set<Family>();
  /** The digest resync of each family still going (digest mode); updates apply meanwhile. */
  private rangeSyncs = new Map<Family, RangeSync>();
  private live = false;
  /** How the server chose to bring us to equality, once it said. */
  mode: "copy" | "digest" | "catch-up" | undefined;
  /** The last update a catch-up covers. */
  private catchUpThrough: number | undefined;
  /** When we last said hello. */
  private helloAt = 0;
  /** This session's identity in its hellos: the same hello said again is not a new session. */
  private readonly id = BigInt.asUintN(64, (BigInt(Math.floor(Math.random() * 2 ** 32)) << 32n) | BigInt(Math.floor(Math.random() * 2 ** 32)));
  /** When the sync last moved (activation, or a snapshot message). */
  private syncMovedAt = 0;
  private readonly assembler: SnapshotAssembler;
  /** Our side of the key agreement while a challenge is answered. */
  private keyShare: { privateKey: KeyObject; nonce: Uint8Array; auth: Message } | undefined;
  private kek: Uint8Array | undefined;
  /** The channel our updates come on, once joined, and the order they are put in. */
  receiver: ChannelReceiver | undefined;
  /** Our channel's updates in order, and which missing ones to ask for when (sequencer.ts). */
  private readonly sequencer: Sequencer<Extract<Message, { type: "update" }>>;
  private nakTimer: ReturnType<typeof setTimeout> | undefined;
  private nakDue = 0;
  /** Whether this activation takes its updates by multicast. */
  private viaMulticast = false;
  /** Why to activate again once this activation's sync is done (see reactivate). */
  private reactivateWhenSynced: string | undefined;
  private readonly channelCounters = { naks: 0, repairs: 0, reactivations: 0 };

  /** What taking updates by multicast cost: requests, repairs, duplicates dropped, activations again. */
  get multicastCounters(): { naks: number; repairs: number; duplicates: number; reactivations: number } {
    return { ...this.channelCounters, duplicates: this.sequencer.duplicates };
  }

  constructor(readonly server: string, link: FramedLink, private readonly host: ClientHost) {
    super(link, host.timers, "registering");
    this.assembler = new SnapshotAssembler(host.fib);
    // An unanswered request is taken for lost only when the link would be (GIVE_UP silence
    // limits): the unicast link loses nothing it delivers, and a server busy loading a
    // table answers late, not never — asked again, it answers twice. One lost on a lossy
    // line is asked again sooner, once a later request is answered (Sequencer.answered).
    this.sequencer = new Sequencer({ aheadMs: host.timers.heartbeatMs, renakMs: 4 * host.timers.heartbeatMs, lostNakMs: GIVE_UP * host.timers.heartbeatMs * host.timers.deadAfter });
    link.onMessage((m) => this.arrived(m));
    this.hello();
  }

  private hello(): void {
    this.helloAt = performance.now();
    const capabilities = CAP_SNAPSHOT | (this.host.multicast ? CAP_MULTICAST | CAP_ENCRYPTION : 0);
    this.link.send({ type: "hello", node: this.host.id, session: this.id, role: this.host.role, maxVersion: 1, capabilities, subset: this.host.subset });
  }

  protected get peer(): string {
    return this.server;
  }

  protected suspected(reason: string): void {
    this.host.sessionSuspect(this, reason);
  }

  protected resumed(silentMs: number): void {
    this.host.sessionResumed(this, silentMs);
  }

  protected changed(from: ClientState, reason: string): void {
    const again = this.reactivateWhenSynced;
    if (this.state !== "syncing") this.reactivateWhenSynced = undefined;
    if (this.state === "active") this.takeChannel();
    if (this.state === "active" && again !== undefined) queueMicrotask(() => this.reactivate(again));
    if (this.state === "closed") {
      this.receiver?.close();
      if (this.nakTimer !== undefined) clearTimeout(this.nakTimer);
    }
    this.host.sessionChanged(this, from, reason);
  }

  protected receive(m: Message): void | Promise<void> {
    if (this.state === "closed") return;
    switch (m.type) {
      case "challenge":
        return this.challenge(m);
      case "grant":
        return this.granted(m);
      case "channels":
        return this.rekey(m.channels);
      case "deny":
        return this.close(`${this.server} refused registration: ${m.reason}`);
      case "error":
        if (m.code === ERROR_BEYOND_BACKLOG) return this.reactivate(`${this.server}: ${m.message}`);
        if (m.code !== ERROR_NOT_REGISTERED) return;
        // Before the grant it is about bytes sent before our hello (or a hello the line
        // lost): say it again. After, the server restarted under us: start over.
        if (this.state === "registering") return this.hello();
        return this.close(`${this.server} has no session for us (it restarted): registering again`);
      case "heartbeat":
        if (this.host.role === "rp") return this.host.peerMessage(this, m);
        return this.heartbeatIn(m);
      case "nexthops":
        if (this.host.role === "rp") return this.host.peerMessage(this, m);
        return this.host.nexthopsArrived(m.entries);
      case "snapshotBegin": case "snapshotChunk": case "snapshotEnd":
        if (this.host.role === "rp") return this.host.peerMessage(this, m);
        return this.snapshot(m);
      case "update":
        if (this.host.role === "rp") return this.host.peerMessage(this, m);
        return this.viaMulticast ? this.sequenced(m) : this.updateIn(m);
      case "ack":
        // Taken as it arrived (arrived()).
        return;
      case "retransmission":
        this.channelCounters.repairs++;
        return this.sequenced({ ...m, type: "update" });
      case "resync":
        return this.resync(m);
      case "rangeRepair": case "sketchAsk": case "sketchRepair":
        return this.rangeRepair(m);
      default:
        if (this.host.role === "rp") this.host.peerMessage(this, m);
    }
  }

  /**
   * The server challenged our hello: we prove who we are over the transcript, with a fresh
   * key share for the key our channel keys will be wrapped with.
   */
  private challenge(m: Extract<Message, { type: "challenge" }>): void {
    if (this.state !== "registering") return;
    const credential = this.host.credential;
    if (!credential) return this.close(`${this.server} asks who we are and this node has no key to prove it`);
    // The same challenge again (our hello was said twice): the same answer, whose key share
    // the grant will be for.
    if (this.keyShare && Buffer.compare(this.keyShare.nonce, m.nonce) === 0) return void this.link.send(this.keyShare.auth);
    const { privateKey, share } = newKeyShare();
    const proof = prove(credential, authTranscript(m.server, this.host.id, this.id, m.nonce, share));
    const auth: Message = { type: "auth", node: this.host.id, method: credential.method, share, proof };
    this.keyShare = { privateKey, nonce: m.nonce, auth };
    this.link.send(auth);
  }

  /** Registered. A channel granted is joined (its key unwrapped) before the session is a standby. */
  private async granted(m: Extract<Message, { type: "grant" }>): Promise<void> {
    if (this.state !== "registering") return;
    this.grant = m;
    this.serving = m.serving;
    this.sequence = m.sequence;
    const channel = m.channels[0];
    if (channel && this.keyShare && m.share.length === 32 && this.host.multicast && !this.receiver) {
      this.kek = sessionKek(this.keyShare.privateKey, m.share, this.keyShare.nonce, this.host.id);
      const receiver = new ChannelReceiver(channel, (u) => this.channelMessage(u), (reason) => this.host.channelNote(this, "channel datagram rejected", { reason }));
      const key = unwrapKey(this.kek, channel.key, channelAad(channel.id, channel.keyEpoch, this.host.id));
      if (key instanceof KeyError) return this.close(`${this.server}: the key of channel ${channel.id} does not open: ${key.message}`);
      receiver.rekey(channel.keyEpoch, key);
      try {
        await receiver.join(this.host.multicast);
        if (this.state !== "registering") return receiver.close();
        this.receiver = receiver;
      } catch (e) {
        this.host.channelNote(this, "channel not joined", { channel: channel.id, reason: (e as Error).message, then: "updates by unicast" });
      }
    }
    this.keyShare = undefined;
    this.become("standby", `${this.server} granted registration${this.receiver ? ` and channel ${this.receiver.spec.id}` : ""}`);
  }

  /** New keys for our channel (another client was evicted). */
  private rekey(channels: readonly Channel[]): void {
    for (const c of channels) {
      if (!this.receiver || !this.kek || c.id !== this.receiver.spec.id) continue;
      const key = unwrapKey(this.kek, c.key, channelAad(c.id, c.keyEpoch, this.host.id));
      if (key instanceof KeyError) return this.close(`${this.server}: the new key of channel ${c.id} does not open: ${key.message}`);
      this.receiver.rekey(c.keyEpoch, key);
      this.host.channelNote(this, "channel re-keyed", { channel: c.id, epoch: c.keyEpoch });
    }
  }

  /**
   * Activates again, the session staying up: our channel lost updates the server no longer
   * holds (or more than we can hold waiting for a repair). The server brings the table to
   * its own again, and only the difference is applied.
   */
  private reactivate(reason: string): void {
    // While syncing, the answers of this activation are still on their way: the next one
    // waits until it is done (a repair of the last would be taken for one of the next).
    if (this.state === "syncing") {
      this.reactivateWhenSynced = reason;
      return;
    }
    if (this.state !== "active") return;
    this.channelCounters.reactivations++;
    this.host.channelNote(this, "activating again", { reason });
    this.state = "standby";
    this.activate();
  }

  /** Makes this the server the node takes its table from: a snapshot, then updates. */
  activate(): void {
    if (this.state !== "standby" || !this.grant) return;
    this.activatedAt = performance.now();
    this.bytesInAtActivation = this.link.counters.bytesIn;
    this.bytesOutAtActivation = this.link.counters.bytesOut;
    this.pending = new Set(this.host.subset.families);
    this.rangeSyncs.clear();
    this.live = false;
    this.mode = undefined;
    this.catchUpThrough = undefined;
    this.syncMovedAt = performance.now();
    const fib = this.host.fib;
    const resync = this.host.resyncMode();
    const at = this.host.position() ?? { stream: 0n, sequence: 0 };
    this.viaMulticast = false;
    this.sequencer.reset();
    this.become("syncing", `activating ${this.server}`);
    this.link.send({
      type: "activate", stream: at.stream, sequence: at.sequence, digest4: fib.digest(4), digest6: fib.digest(6), routes: fib.count(4) + fib.count(6),
      nexthops: this.host.nexthopsDigest(), resync, multicast: this.receiver !== undefined,
    });
  }

  /**
   * How the server brings us to equality. By digest: updates from its sequence on apply at
   * once, and every family whose digest differs from ours is described, range by range.
   */
  private resync(m: Extract<Message, { type: "resync" }>): void {
    if (this.state !== "syncing") return;
    this.syncMovedAt = performance.now();
    this.mode = m.mode;
    if (m.mode === "copy") return;
    this.sequence = m.sequence;
    this.live = true;
    if (m.mode === "catch-up") {
      this.pending.clear();
      this.catchUpThrough = m.through;
      return this.caughtUp();
    }
    const fib = this.host.fib;
    for (const family of this.pending) {
      if (fib.digest(family) === (family === 4 ? m.digest4 : m.digest6)) {
        this.pending.delete(family);
        continue;
      }
      const sync = new RangeSync(fib, family, (out) => this.link.send(out), (changes) => this.host.repaired(this, family, changes));
      this.rangeSyncs.set(family, sync);
      sync.start();
    }
    if (this.pending.size === 0) this.become("active", `${this.server} holds what we hold`);
  }

  /** Active once the updates a catch-up covers are applied. */
  private caughtUp(): void {
    if (this.state !== "syncing" || this.catchUpThrough === undefined || this.sequence < this.catchUpThrough) return;
    this.catchUpThrough = undefined;
    this.become("active", `${this.server} sent the updates we had missed, through ${this.sequence}`);
  }

  private rangeRepair(m: Extract<Message, { type: "rangeRepair" | "sketchAsk" | "sketchRepair" }>): void {
    const sync = this.rangeSyncs.get(m.family);
    if (this.state !== "syncing" || !sync) return;
    this.syncMovedAt = performance.now();
    let done: boolean;
    try {
      done = sync.take(m) === "done";
    } catch (e) {
      if (e instanceof RangeSyncError) return this.close(`${this.server}: ${e.message}`);
      throw e;
    }
    if (!done) return;
    this.rangeSyncs.delete(m.family);
    // Done only on a repair that says it is the last, and carries the server's digest.
    const last = m.type === "sketchAsk" ? undefined : m.last;
    if (!this.host.rangeSynced(this, m.family, last!.digest)) {
      return this.close(`${this.server}: our IPv${m.family} table still differs from the server's after the digest resync: resyncing by copy`);
    }
    this.pending.delete(m.family);
    if (this.pending.size === 0) this.become("active", `${this.server} synced by range digests`);
  }

  private async snapshot(m: Message): Promise<void> {
    if (this.state !== "syncing") return;
    this.syncMovedAt = performance.now();
    const got = this.assembler.feed(m);
    if (got === undefined) return;
    if (got instanceof SnapshotError) return this.close(`${this.server}: snapshot refused: ${got.message}`);
    this.sequence = got.sequence;
    await this.host.synced(this, got);
    if (this.state !== "syncing") return;
    this.pending.delete(got.family);
    if (this.pending.size === 0) this.become("active", `${this.server} synced`);
  }

  /**
   * Synced: from the next update on we take them on our channel, and say so (an ack on the
   * channel, naming the last update applied). Until the server hears it, updates still
   * come on this link too; the sequencer takes each once, from whichever way it came. A
   * sync itself runs on this link alone: a digest resync relies on its updates and
   * repairs arriving in the order they were sent.
   */
  private takeChannel(): void {
    if (!this.receiver || this.viaMulticast) return;
    this.viaMulticast = true;
    this.sequencer.base(this.sequence);
    this.link.send({ type: "ack", channel: this.receiver.spec.id, sequence: this.sequence });
  }

  /** An update of our channel (or its repair): applied in order once those before it are. */
  private sequenced(m: Extract<Message, { type: "update" }>): void {
    if (this.state === "closed" || !this.viaMulticast) return;
    const due = this.sequencer.push(m.sequence, m);
    if (due === "duplicate") return;
    for (const u of due) {
      this.updateIn(u);
      if (this.isClosed) return;
    }
    if (this.sequencer.overflowed) return this.reactivate(`more than the sequencer holds arrived behind update ${this.sequencer.next}`);
    this.scheduleNaks();
  }

  /**
   * A message as it arrives on the link, before its turn in the inbox: repairs of our
   * channel are noted in hand, and the server's answers to our requests (acks) taken at
   * once. A card whose inbox is behind slow work (a run of next-hop messages can hold it
   * for seconds) would otherwise take a request answered in time for unanswered, and ask
   * again for repairs that wait in its inbox: each would come twice.
   */
  private arrived(m: Message): void {
    if (!this.viaMulticast || this.state === "closed" || (m.type !== "retransmission" && m.type !== "ack") || m.channel !== this.receiver?.spec.id) return;
    if (m.type === "retransmission") return this.sequencer.coming(m.sequence);
    // The server answered our requests for repairs up to this sequence; the repairs it sent
    // came before the ack, and are in hand.
    this.sequencer.answered(m.sequence);
    this.scheduleNaks();
  }

  /** What our channel's receiver hands on: updates, and heartbeats that name the last one sent. */
  private channelMessage(m: Extract<Message, { type: "update" | "heartbeat" }>): void {
    if (!this.viaMulticast || this.state !== "active") return;
    // The seal named the channel; inside, updates are numbered as the feed numbers them.
    if (m.type === "update") return this.sequenced(m);
    const channel = this.receiver!.spec.id;
    const last = m.sequences.find(([c]) => c === channel)?.[1];
    if (last === undefined) return;
    this.sequencer.heard(last, true);
    this.scheduleNaks();
  }

  /** Asks for missing updates when the sequencer says it is time (sooner if a new gap needs it). */
  private scheduleNaks(): void {
    const at = this.sequencer.wakeAt();
    if (at === undefined || (this.nakTimer !== undefined && this.nakDue <= at)) return;
    if (this.nakTimer !== undefined) clearTimeout(this.nakTimer);
    this.nakDue = at;
    // The timer fires before the loop reads its sockets; the NAK waits for that read
    // (setImmediate), or a node busy for a while would ask for datagrams already waiting.
    this.nakTimer = setTimeout(() => setImmediate(() => {
      this.nakTimer = undefined;
      this.sendNaks();
    }), Math.max(0, at - performance.now()));
    this.nakTimer.unref?.();
  }

  private sendNaks(): void {
    if (this.state === "closed" || !this.viaMulticast) return;
    const ranges = this.sequencer.requests(performance.now());
    if (ranges.length > 0) {
      this.link.send({ type: "nak", channel: this.receiver!.spec.id, ranges });
      this.channelCounters.naks++;
    }
    this.scheduleNaks();
  }

  private updateIn(m: Extract<Message, { type: "update" }>): void {
    if (this.state !== "active" && !(this.state === "syncing" && this.live)) return;
    if (m.sequence !== this.sequence + 1) return this.close(`${this.server}: update ${m.sequence} where ${this.sequence + 1} was due`);
    const decoded = this.host.fib.decodeRoutes(m.family, m.data, m.count, true);
    if (decoded instanceof RouteCodecError) return this.close(`${this.server}: update ${m.sequence} refused: ${decoded.message}`);
    this.sequence = m.sequence;
    // A channel shared with a wider subset carries routes we do not take.
    const wider = this.grant?.channels[0];
    const records = wider && JSON.stringify(wider.subset) !== JSON.stringify(this.host.subset) ? filterRecords(this.host.subset, m.family, decoded) : decoded;
    this.host.update(this, m.family, records);
    this.caughtUp();
  }

  private heartbeatIn(m: Extract<Message, { type: "heartbeat" }>): void {
    if (m.serving && !this.serving && this.state !== "registering") {
      this.serving = true;
      this.host.serverServing(this);
    }
    if (this.state !== "active" && !(this.state === "syncing" && this.live)) return;
    const last = m.sequences.find(([channel]) => channel === 0)?.[1] ?? 0;
    // A heartbeat names the last update sent: one we lack was lost at the tail. On a
    // channel it is asked for again; on this link (which loses nothing it delivers) the
    // session cannot be trusted.
    if (this.viaMulticast) {
      this.sequencer.heard(last, false);
      return this.scheduleNaks();
    }
    if (last > this.sequence) this.close(`${this.server}: updates up to ${last} sent, ${this.sequence} arrived`);
  }

  protected heartbeat(): void {
    const { heartbeatMs, deadAfter } = this.host.timers;
    // A hello or its grant lost on a lossy line leaves both ends waiting (the server, past
    // its one "not registered", hears only heartbeats): no grant within the silence limit,
    // say it again. The server answers the same session's hello with the grant once more.
    if (this.state === "registering" && performance.now() - this.helloAt > heartbeatMs * deadAfter) this.hello();
    const sequences = this.host.role === "rp" ? this.host.peerSequences(this) : [[0, this.sequence] as [number, number]];
    this.link.send({ type: "heartbeat", timeMs: Date.now(), serving: this.host.serving, sequences });
    // A lost activate (or a lost last frame of the snapshot) would leave us syncing for good
    // on a lossy line; a server still waiting for a table of its own takes as long. Either
    // way, starting over costs little.
    const stalled = performance.now() - this.syncMovedAt;
    if (this.state === "syncing" && stalled > GIVE_UP * heartbeatMs * deadAfter) {
      this.close(`${this.server}: the resync has not moved for ${Math.round(stalled)} ms after activating it: registering again`);
    }
  }
}
