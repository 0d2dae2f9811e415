// When a route processor may serve: once it holds the tables of every other route
// processor's sources. A line card that activated one still taking in its peers' tables
// would be brought to a part of the RIB: a failover or failback to it would delete routes
// from the card (and from its engines) until the rest arrived.
//
// A peer's tables are in once, on some link, the peer announced its sources and every one
// of them (both families) arrived whole. Only the first time counts: afterwards a peer's
// changes, or its whole tables again after a restart, reach clients as updates.
//
// A peer that is not there (down, or not dialed us yet) is waited for only so long, from
// the moment this node's own sources are loaded; a peer on a live link is waited for
// however long its exchange takes (one that stalls or falls silent loses its link: see
// Node.peerHeartbeat and liveness.ts).

import type { Family } from "../netip.ts";

export class PeerTables {
  /** Per live peer link: the peer, and its tables still due (`source/family`; undefined: not announced yet). */
  private readonly links = new Map<object, { peer: string; due: Set<string> | undefined }>();
  private readonly peersIn = new Set<string>();
  private waitEnds: number | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private done = false;

  /**
   * expected: the other route processors of the chassis. waitMs: how long after start() a
   * peer that has not registered is waited for. ready: called once, with the reason in
   * operator terms.
   */
  constructor(private readonly expected: readonly string[], private readonly waitMs: number, private readonly ready: (reason: string) => void) {}

  /** This node's own sources are loaded: from now on it serves once its peers' tables are in. */
  start(): void {
    if (this.waitEnds !== undefined) return;
    this.waitEnds = performance.now() + this.waitMs;
    this.timer = setTimeout(() => this.consider(), this.waitMs + 1);
    this.timer.unref?.();
    this.consider();
  }

  /** A peer is on this link: it dialed us and registered, or it answered our dial. */
  linked(link: object, peer: string): void {
    this.links.set(link, { peer, due: undefined });
  }

  /**
   * The peer named its sources on this link: each one's tables are due, both families. Only
   * its first naming counts: a source it adds later sends its routes as updates.
   */
  announced(link: object, sources: readonly number[]): void {
    const l = this.links.get(link);
    if (!l || l.due) return;
    l.due = new Set(sources.flatMap((id) => [`${id}/4`, `${id}/6`]));
    this.settle(l);
  }

  /** One of the peer's source tables arrived whole on this link. */
  arrived(link: object, source: number, family: Family): void {
    const l = this.links.get(link);
    if (!l?.due) return;
    l.due.delete(`${source}/${family}`);
    this.settle(l);
  }

  /** The link ended: what it still owed is no longer waited for on it. */
  ended(link: object): void {
    if (this.links.delete(link)) this.consider();
  }

  private settle(l: { peer: string; due: Set<string> | undefined }): void {
    if (l.due?.size !== 0) return;
    this.peersIn.add(l.peer);
    this.consider();
  }

  private consider(): void {
    if (this.done || this.waitEnds === undefined) return;
    const missing = this.expected.filter((p) => !this.peersIn.has(p));
    if (missing.length === 0) return this.serve(this.expected.length === 0 ? "no peers to wait for" : `holds the tables of ${this.expected.join(", ")}`);
    if (performance.now() < this.waitEnds) return;
    const exchanging = [...this.links.values()].filter((l) => !this.peersIn.has(l.peer)).map((l) => l.peer);
    if (exchanging.length > 0) return;
    this.serve(`${missing.join(", ")} not there within ${this.waitMs} ms: serving without their tables until they come`);
  }

  private serve(reason: string): void {
    this.done = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.ready(reason);
  }
}
