// The server side of one registration: a client of this node (a line card of a route
// processor, a forwarding engine of a line card, or a peer route processor).
//
// States, in order:
//   registering  the link is up; waiting for the client's hello
//   standby      granted: the client is known and authorized, and hears only heartbeats
//   active       the client chose this server: it got a snapshot of its subset, and every
//                change of that subset follows as update batches, numbered per session
//   closed       the link is gone (or was dropped for a reason, logged)
// A hello in any state but closed starts the session over: on a serial line the link
// outlives the client process behind it, so a card that restarted (or dropped its session)
// says hello on the line its old session used.
// A peer route processor skips standby and active: after the grant both sides exchange the
// tables of the sources they run (the node's peer exchange handles those messages).

import type { Fib } from "../fib.ts";
import type { Family } from "../netip.ts";
import type { NextHopTable } from "../nexthops.ts";
import type { FramedLink } from "../links/framed.ts";
import { ERROR_NOT_REGISTERED, type Message, type Role, type Subset } from "../wire/messages.ts";
import { nexthopsMessages, numberedUpdates, recordChunks, snapshotMessages } from "../wire/snapshot.ts";
import type { Timers } from "./liveness.ts";
import { Session } from "./session.ts";
import { Slicer } from "./slices.ts";
import { filterRecords, normalizeSubset } from "./subset.ts";

export type ServerState = "registering" | "standby" | "active" | "closed";

/** What a node offers the sessions it serves. */
export interface ServerHost {
  readonly id: string;
  readonly role: Role;
  readonly fib: Fib;
  readonly nexthops: NextHopTable;
  /** This server's stream identity: new every time the node starts. */
  readonly stream: bigint;
  /**
   * Whether this node has a table to serve: a route processor always; a line card once it
   * has synced with a server since it started. A card that restarted empty must not hand
   * its clients an empty table to converge to.
   */
  readonly serving: boolean;
  readonly timers: Timers;
  /** A peer route processor registered: start the exchange. */
  peerRegistered(session: ServerSession): void;
  /** A message of the peer exchange arrived. */
  peerMessage(session: ServerSession, m: Message): void | Promise<void>;
  /** A session changed state (for logs and status). */
  sessionChanged(session: ServerSession, from: ServerState, reason: string): void;
  /** The client has been silent past the limit (suspect), or spoke again. */
  sessionSuspect(session: ServerSession, reason: string): void;
  sessionResumed(session: ServerSession, silentMs: number): void;
}

/**
 * One change batch encoded once per subset: clients asking for the same subset get the same
 * route bytes, each under its own sequence numbers. Keyed by the subset's JSON.
 */
export type PublishCache = Map<string, { bytes: Uint8Array; count: number }[]>;

/** Which roles may register with which. */
const CLIENTS_OF: Record<Role, readonly Role[]> = { rp: ["rp", "lc"], lc: ["npu"], npu: [] };

export class ServerSession extends Session<ServerState> {
  client?: { node: string; role: Role; subset: Subset; subsetKey: string };
  /** Sequence of the last update sent. */
  sequence = 0;
  /** Sequence the client last acknowledged. */
  acked = 0;
  private nexthopsSent = 0;
  /** Update batches published while the activation snapshot is still going out. */
  private backlog: Message[] | undefined;
  /** Bumped when the session starts over: a snapshot still going out for the last one stops. */
  private epoch = 0;
  private toldNotRegistered = false;
  /** The client activated this server before the host had a table to serve (see ServerHost.serving). */
  private activationWaiting = false;

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
    if (this.state === "registering") return this.notRegistered();
    switch (m.type) {
      case "activate": return this.activate();
      case "heartbeat": return;
      case "ack": this.acked = Math.max(this.acked, m.sequence); return;
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

  private hello(m: Extract<Message, { type: "hello" }>): void {
    if (this.state !== "registering") {
      this.epoch++;
      this.backlog = undefined;
      this.activationWaiting = false;
      this.become("registering", `${m.node} said hello again on the same line: its session starts over`);
      this.client = undefined;
    }
    if (!CLIENTS_OF[this.host.role].includes(m.role)) {
      this.send({ type: "deny", code: 1, reason: `a ${m.role} does not register with a ${this.host.role}` });
      this.close(`refused ${m.node}: a ${m.role} does not register with a ${this.host.role}`);
      return;
    }
    const subset = normalizeSubset(m.subset);
    this.client = { node: m.node, role: m.role, subset, subsetKey: JSON.stringify(subset) };
    const { heartbeatMs, deadAfter } = this.host.timers;
    this.send({ type: "grant", server: this.host.id, role: "standby", stream: this.host.stream, sequence: this.sequence, heartbeatMs, deadAfter, channels: [] });
    this.become("standby", `${m.node} (${m.role}) registered`);
    if (m.role === "rp") this.host.peerRegistered(this);
  }

  /**
   * The client made this server its active one: the whole subset as it is now, then every
   * change. The snapshot goes out in slices; changes published meanwhile wait behind it.
   */
  private async activate(): Promise<void> {
    if (this.state !== "standby" || !this.client) return;
    if (!this.host.serving) {
      this.activationWaiting = true;
      return;
    }
    this.become("active", `${this.client.node} activated this server`);
    this.backlog = [];
    this.nexthopsSent = this.host.nexthops.version;
    const slicer = new Slicer();
    const epoch = this.epoch;
    for (const m of snapshotMessages(this.host.fib, this.host.nexthops, { snapshot: 1, sequence: this.sequence, subset: this.client.subset, taken: true })) {
      if (!this.send(m)) return;
      await slicer.turn();
      if (this.epoch !== epoch) return;
    }
    const waiting = this.backlog;
    this.backlog = undefined;
    for (const m of waiting) if (!this.send(m)) return;
  }

  /** The host has a table now: a client that activated this server meanwhile gets it. */
  hostServing(): void {
    if (!this.activationWaiting) return;
    this.activationWaiting = false;
    void this.activate();
  }

  /** Sends the client the changes (sorted records) of its subset, if it is active. */
  publish(family: Family, records: Uint32Array, cache: PublishCache = new Map()): void {
    if (this.state !== "active" || !this.client) return;
    let chunks = cache.get(this.client.subsetKey);
    if (!chunks) {
      chunks = [...recordChunks(this.host.fib, family, filterRecords(this.client.subset, family, records))];
      cache.set(this.client.subsetKey, chunks);
    }
    if (chunks.length === 0) return;
    this.sendNexthops();
    for (const m of numberedUpdates(chunks, family, 0, this.sequence + 1)) {
      this.sequence++;
      if (this.backlog) this.backlog.push(m);
      else if (!this.send(m)) return;
    }
  }

  /** Next-hop entries defined since the client last heard, before any route that uses them. */
  sendNexthops(): void {
    for (const m of nexthopsMessages(this.host.nexthops, this.nexthopsSent)) {
      if (this.backlog) this.backlog.push(m);
      else if (!this.send(m)) return;
    }
    this.nexthopsSent = this.host.nexthops.version;
  }

  protected heartbeat(): void {
    this.send({ type: "heartbeat", timeMs: Date.now(), sequences: [[0, this.sequence]] });
  }

  /** Sends, or drops a client too slow to take it (it will register again and resync). */
  send(m: Message): boolean {
    if (this.state === "closed") return false;
    if (this.link.send(m)) return true;
    this.close(`${this.name} is not reading: its send queue is full`);
    return false;
  }
}
