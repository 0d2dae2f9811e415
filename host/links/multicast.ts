// One multicast interface for table distribution: real UDP multicast (node:dgram) and a
// simulated backplane with the impairments of a real fabric (loss, reordering, duplication,
// corruption). A datagram carries one whole frame (frame.ts), CRC included; a channel on
// top turns datagrams into messages and counts what it has to drop.

import { createSocket, type Socket } from "node:dgram";
import { Random } from "../random.ts";
import { parseFrame, FrameError } from "../wire/frame.ts";
import { decodeMessage, encodeMessage, WireError, type Message } from "../wire/messages.ts";

export interface Multicast {
  send(datagram: Uint8Array): void;
  onDatagram(listener: (datagram: Uint8Array) => void): void;
  close(): void;
}

export interface UdpMulticastOptions {
  group: string;
  port: number;
  /** Address of the interface to send and join on (default 127.0.0.1: loopback). */
  interfaceAddress?: string;
  ttl?: number;
  /** Receive our own datagrams (default true: senders and receivers may share a host). */
  loopback?: boolean;
}

/** Joins a UDP multicast group; rejects with the socket's reason. */
export async function udpMulticast(options: UdpMulticastOptions): Promise<Multicast> {
  const iface = options.interfaceAddress ?? "127.0.0.1";
  const socket: Socket = createSocket({ type: options.group.includes(":") ? "udp6" : "udp4", reuseAddr: true });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(options.port, () => {
      socket.off("error", reject);
      resolve();
    });
  });
  socket.setMulticastInterface(iface);
  socket.setMulticastLoopback(options.loopback ?? true);
  socket.setMulticastTTL(options.ttl ?? 1);
  socket.addMembership(options.group, iface);
  const listeners: ((d: Uint8Array) => void)[] = [];
  socket.on("message", (msg: Buffer) => {
    for (const l of listeners) l(new Uint8Array(msg.buffer, msg.byteOffset, msg.length));
  });
  return {
    send: (d) => socket.send(d, options.port, options.group),
    onDatagram: (l) => void listeners.push(l),
    close: () => socket.close(),
  };
}

export interface BackplaneImpairment {
  loss?: number;
  /** Probability that a datagram is held back behind the next ones. */
  reorder?: number;
  duplicate?: number;
  /** Probability that a datagram has one bit flipped. */
  corrupt?: number;
}

export interface BackplaneCounters {
  sent: number;
  delivered: number;
  lost: number;
  reordered: number;
  duplicated: number;
  corrupted: number;
}

/** A simulated backplane: every endpoint's datagrams reach every other endpoint, impaired. */
export class SimBackplane {
  readonly counters: BackplaneCounters = { sent: 0, delivered: 0, lost: 0, reordered: 0, duplicated: 0, corrupted: 0 };
  private readonly endpoints = new Set<{ listeners: ((d: Uint8Array) => void)[] }>();
  private readonly rnd: Random;

  constructor(private impairment: BackplaneImpairment = {}, seed = 1) {
    this.rnd = new Random(seed);
  }

  impair(change: BackplaneImpairment): void {
    this.impairment = { ...this.impairment, ...change };
  }

  /** A new endpoint on the backplane. */
  join(): Multicast {
    const me = { listeners: [] as ((d: Uint8Array) => void)[] };
    this.endpoints.add(me);
    return {
      send: (d) => this.carry(me, d),
      onDatagram: (l) => void me.listeners.push(l),
      close: () => void this.endpoints.delete(me),
    };
  }

  private carry(from: { listeners: ((d: Uint8Array) => void)[] }, datagram: Uint8Array): void {
    this.counters.sent++;
    const { loss = 0, reorder = 0, duplicate = 0, corrupt = 0 } = this.impairment;
    for (const to of this.endpoints) {
      if (to === from) continue;
      if (this.rnd.float() < loss) {
        this.counters.lost++;
        continue;
      }
      const copies = this.rnd.float() < duplicate ? 2 : 1;
      if (copies === 2) this.counters.duplicated++;
      for (let c = 0; c < copies; c++) {
        const d = datagram.slice();
        if (this.rnd.float() < corrupt) {
          d[this.rnd.below(d.length)] ^= 1 << this.rnd.below(8);
          this.counters.corrupted++;
        }
        const delay = this.rnd.float() < reorder ? (this.counters.reordered++, 2) : 0;
        setTimeout(() => {
          this.counters.delivered++;
          for (const l of to.listeners) l(d);
        }, delay);
      }
    }
  }
}

export interface ChannelCounters {
  messagesOut: number;
  messagesIn: number;
  /** Datagrams that were not a good frame (CRC, length, version) or not a known message. */
  badDatagrams: number;
}

/** Messages over a multicast: one frame per datagram, bad ones counted and reported. */
export class MulticastChannel {
  readonly counters: ChannelCounters = { messagesOut: 0, messagesIn: 0, badDatagrams: 0 };

  constructor(readonly multicast: Multicast, private readonly onDrop: (reason: string) => void = () => {}) {}

  send(m: Message): void {
    this.multicast.send(encodeMessage(m));
    this.counters.messagesOut++;
  }

  onMessage(listener: (m: Message) => void): void {
    this.multicast.onDatagram((d) => {
      const frame = parseFrame(d);
      const m = frame instanceof FrameError ? frame : decodeMessage(frame);
      if (m instanceof FrameError || m instanceof WireError) {
        this.counters.badDatagrams++;
        this.onDrop(`datagram dropped: ${m.message}`);
        return;
      }
      this.counters.messagesIn++;
      listener(m);
    });
  }

  close(): void {
    this.multicast.close();
  }
}
