// The server's multicaster for one channel: each update of the channel's feed is framed,
// sealed with the channel key (seal.ts) and sent once, whatever the number of receivers,
// paced by the channel's rate (rate.ts). A heartbeat datagram names the last sequence
// sent, so a receiver finds a loss at the tail. Re-keying starts a new key epoch: what
// follows is sealed with a key only the clients still trusted received.

import { randomBytes } from "node:crypto";
import { encodeMessage, type Message } from "../wire/messages.ts";
import type { MulticastTransport } from "../links/multicast.ts";
import { Sealer } from "./seal.ts";
import { RateControl } from "./rate.ts";
import type { ChannelSpec } from "./channels.ts";

type Update = Extract<Message, { type: "update" }>;

export interface SenderCounters {
  datagrams: number;
  /** Bytes of sealed datagrams sent: each goes once, whatever the number of receivers. */
  bytes: number;
  updates: number;
  /** Of those bytes, the updates' (what the route changes cost, without heartbeats). */
  updateBytes: number;
  heartbeats: number;
  /** Updates sent again by unicast to a receiver that missed them, and their bytes. */
  repairs: number;
  repairBytes: number;
  naks: number;
  rekeys: number;
}

export class ChannelSender {
  readonly counters: SenderCounters = { datagrams: 0, bytes: 0, updates: 0, updateBytes: 0, heartbeats: 0, repairs: 0, repairBytes: 0, naks: 0, rekeys: 0 };
  private key = new Uint8Array(0);
  private readonly sealer: Sealer;
  readonly rate: RateControl;
  private readonly queue: { datagram: Uint8Array; sequence: number }[] = [];
  /** The last update put on the wire (a repair can be asked for it: the ones still queued are not lost). */
  lastSent = 0;
  private queueHead = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;

  constructor(readonly spec: ChannelSpec, private readonly transport: MulticastTransport, rateBytes: number) {
    this.sealer = new Sealer(spec.id);
    this.rate = new RateControl({ ceiling: rateBytes }, performance.now());
    this.rekey();
  }

  get epoch(): number {
    return this.sealer.epoch;
  }

  /** The channel key of the current epoch (to wrap for each client). */
  get currentKey(): Uint8Array {
    return this.key;
  }

  /** A new key and epoch: datagrams from now on open only with it. */
  rekey(): void {
    this.key = new Uint8Array(randomBytes(32));
    this.sealer.rekey(this.sealer.epoch + 1, this.key);
    this.counters.rekeys++;
  }

  /** Multicasts update batches, in order, behind any still waiting for the rate. */
  publish(updates: readonly Update[]): void {
    for (const u of updates) {
      this.counters.updateBytes += this.enqueue(encodeMessage(u), u.sequence);
      this.counters.updates++;
    }
  }

  /** Multicasts a heartbeat naming the channel's last sequence (it goes behind the updates it names). */
  heartbeat(sequence: number): void {
    this.enqueue(encodeMessage({ type: "heartbeat", timeMs: Date.now(), serving: true, sequences: [[this.spec.id, sequence]] }), 0);
    this.counters.heartbeats++;
  }

  /** A receiver asked for updates again: its loss slows the channel; the repair goes by unicast. */
  nakked(repairs: number, repairBytes: number): void {
    this.counters.naks++;
    this.counters.repairs += repairs;
    this.counters.repairBytes += repairBytes;
    this.rate.loss(performance.now());
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Seals and queues a frame; returns the datagram's size. */
  private enqueue(frame: Uint8Array, sequence: number): number {
    if (this.closed) return 0;
    // Sealed now, with the key of now: a re-key applies to what is published after it.
    const d = this.sealer.seal(frame);
    this.queue.push({ datagram: d, sequence });
    if (this.timer === undefined) this.drain();
    return d.length;
  }

  private drain(): void {
    this.timer = undefined;
    while (this.queueHead < this.queue.length) {
      const { datagram: d, sequence } = this.queue[this.queueHead];
      const wait = this.rate.take(d.length, performance.now());
      if (wait > 0) {
        this.timer = setTimeout(() => this.drain(), Math.max(1, wait));
        // The node's sockets keep its process alive, not a pacing timer.
        this.timer.unref?.();
        return;
      }
      this.transport.send(this.spec, d);
      this.counters.datagrams++;
      this.counters.bytes += d.length;
      if (sequence > 0) this.lastSent = sequence;
      this.queueHead++;
    }
    this.queue.length = 0;
    this.queueHead = 0;
  }
}
