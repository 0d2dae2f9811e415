// Multicast transports for table distribution: real UDP multicast (node:dgram) and a
// simulated backplane. Both send a datagram to a channel's address and deliver the
// datagrams sent to an address to every endpoint that joined it, sender included when it
// joined too. What a datagram carries is not their concern: the channel seals it
// (host/multicast/seal.ts) and the receiving side checks it.
//
// Impairments (loss, reordering, duplication, one flipped bit) are applied where datagrams
// arrive, per endpoint and seeded, so that the same knobs mean the same thing on the
// backplane and on a real network, and each receiver loses its own datagrams as a real
// fabric's receivers do.

import { createSocket, type Socket } from "node:dgram";
import { Random } from "../random.ts";

/** Where a channel's datagrams go: a group and a port. */
export interface ChannelAddress {
  group: string;
  port: number;
}

/** One endpoint's membership of an address; close() leaves it. */
export interface Membership {
  close(): void;
}

export interface MulticastTransport {
  send(to: ChannelAddress, datagram: Uint8Array): void;
  /** Joins an address: its datagrams reach the listener until the membership closes. Rejects with the socket's reason. */
  join(at: ChannelAddress, listener: (datagram: Uint8Array) => void): Promise<Membership>;
  close(): void;
}

export interface MulticastImpairment {
  loss?: number;
  /** Probability that a datagram is held back behind the next ones. */
  reorder?: number;
  duplicate?: number;
  /** Probability that a datagram has one bit flipped. */
  corrupt?: number;
}

export interface ImpairmentCounters {
  arrived: number;
  delivered: number;
  lost: number;
  /** Bytes of the datagrams lost. */
  lostBytes: number;
  reordered: number;
  duplicated: number;
  corrupted: number;
}

/**
 * Puts impairments on a listener: what a lossy, reordering, duplicating, corrupting fabric
 * would have delivered. A reordered datagram is held back until two more have gone by (or
 * a few milliseconds pass), so that it arrives out of order even on a quiet channel.
 */
export function impaired(listener: (d: Uint8Array) => void, knobs: () => MulticastImpairment, seed: number, counters: ImpairmentCounters): (d: Uint8Array) => void {
  const rnd = new Random(seed);
  const held: { d: Uint8Array; after: number }[] = [];
  const deliver = (d: Uint8Array) => {
    counters.delivered++;
    listener(d);
  };
  const release = (all: boolean) => {
    for (let i = 0; i < held.length;) {
      if (all || --held[i].after <= 0) deliver(held.splice(i, 1)[0].d);
      else i++;
    }
  };
  return (datagram) => {
    counters.arrived++;
    const { loss = 0, reorder = 0, duplicate = 0, corrupt = 0 } = knobs();
    release(false);
    if (rnd.float() < loss) {
      counters.lost++;
      counters.lostBytes += datagram.length;
      return;
    }
    const copies = rnd.float() < duplicate ? 2 : 1;
    if (copies === 2) counters.duplicated++;
    for (let c = 0; c < copies; c++) {
      let d = datagram;
      if (rnd.float() < corrupt) {
        d = datagram.slice();
        d[rnd.below(d.length)] ^= 1 << rnd.below(8);
        counters.corrupted++;
      }
      if (rnd.float() < reorder) {
        counters.reordered++;
        held.push({ d, after: 2 });
        setTimeout(() => release(true), 3);
      } else {
        deliver(d);
      }
    }
  };
}

export const newImpairmentCounters = (): ImpairmentCounters => ({ arrived: 0, delivered: 0, lost: 0, lostBytes: 0, reordered: 0, duplicated: 0, corrupted: 0 });

export interface UdpOptions {
  /** Address of the interface to send and join on (default 127.0.0.1: loopback). */
  interfaceAddress?: string;
  ttl?: number;
  /** Impairments on what this endpoint receives (tests, the simulated backplane on a real network). */
  impairment?: MulticastImpairment;
  seed?: number;
}

/** Bytes each receiving socket may queue: a card busy applying a batch should not lose the next ones. */
const RECEIVE_BUFFER = 8 << 20;

/**
 * Real UDP multicast. Each membership is its own socket bound to the group and port, so a
 * socket hears only its own channel (Linux delivers a group's datagrams to every socket
 * bound to the port otherwise). The kernel may cap the receive buffer below what is asked
 * (net.core.rmem_max); datagrams it then drops are repaired like any other loss.
 */
export interface UdpTransport extends MulticastTransport {
  /** What the impairments did to the datagrams that arrived. */
  readonly counters: ImpairmentCounters;
  impair(change: MulticastImpairment): void;
}

export function udpTransport(options: UdpOptions = {}): UdpTransport {
  const iface = options.interfaceAddress ?? "127.0.0.1";
  const counters = newImpairmentCounters();
  let knobs = options.impairment ?? {};
  let sender: Socket | undefined;
  const members = new Set<Socket>();
  const sendSocket = (): Socket => {
    if (sender) return sender;
    sender = createSocket({ type: "udp4" });
    sender.bind(0, iface, () => {
      sender!.setMulticastInterface(iface);
      sender!.setMulticastLoopback(true);
      sender!.setMulticastTTL(options.ttl ?? 1);
    });
    return sender;
  };
  return {
    counters,
    send: (to, datagram) => void sendSocket().send(datagram, to.port, to.group),
    async join(at, listener) {
      const socket = createSocket({ type: "udp4", reuseAddr: true });
      await new Promise<void>((resolve, reject) => {
        socket.once("error", reject);
        socket.bind(at.port, at.group, () => {
          socket.off("error", reject);
          resolve();
        });
      });
      try {
        socket.addMembership(at.group, iface);
        socket.setRecvBufferSize(RECEIVE_BUFFER);
      } catch (e) {
        socket.close();
        throw e;
      }
      const hear = impaired(listener, () => knobs, (options.seed ?? 1) ^ at.port, counters);
      socket.on("message", (msg: Buffer) => hear(new Uint8Array(msg.buffer, msg.byteOffset, msg.length)));
      socket.on("error", () => {});
      members.add(socket);
      return { close: () => { members.delete(socket); socket.close(); } };
    },
    close: () => {
      sender?.close();
      for (const s of members) s.close();
      members.clear();
    },
    impair: (change) => void (knobs = { ...knobs, ...change }),
  };
}

/**
 * A simulated backplane inside one process: every endpoint that joined an address gets the
 * datagrams sent to it, each endpoint with its own seeded impairments, a turn of the event
 * loop later (as a socket would deliver them).
 */
export class SimBackplane {
  readonly counters = newImpairmentCounters();
  private readonly members = new Map<string, Set<(d: Uint8Array) => void>>();
  private joined = 0;
  sent = 0;

  constructor(private impairment: MulticastImpairment = {}, private readonly seed = 1) {}

  impair(change: MulticastImpairment): void {
    this.impairment = { ...this.impairment, ...change };
  }

  /** A transport on this backplane: a card's view of it. */
  transport(): MulticastTransport {
    const mine = new Set<{ key: string; hear: (d: Uint8Array) => void }>();
    return {
      send: (to, datagram) => {
        this.sent++;
        const copy = datagram.slice();
        for (const hear of this.members.get(key(to)) ?? []) setImmediate(() => hear(copy));
      },
      join: async (at, listener) => {
        const k = key(at);
        const hear = impaired(listener, () => this.impairment, this.seed * 7919 + ++this.joined, this.counters);
        const entry = { key: k, hear };
        if (!this.members.has(k)) this.members.set(k, new Set());
        this.members.get(k)!.add(hear);
        mine.add(entry);
        return { close: () => { mine.delete(entry); this.members.get(k)?.delete(hear); } };
      },
      close: () => {
        for (const e of mine) this.members.get(e.key)?.delete(e.hear);
        mine.clear();
      },
    };
  }
}

const key = (a: ChannelAddress) => `${a.group}:${a.port}`;
