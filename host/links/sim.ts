// A simulated link: two connected ByteStreams with the knobs of a real line (bandwidth,
// latency, loss, byte corruption, a cut), for simulations and tests. Chunks leave in order
// at the link's rate and arrive after its latency; a lost chunk is gone, a corrupted one
// arrives with bits flipped. The same seed gives the same losses and flips.

import { Random } from "../random.ts";
import { CloseSignal, type ByteStream } from "./stream.ts";

export interface Impairment {
  /** Bits per second each way; 0 or absent: no limit. */
  bandwidthBps?: number;
  latencyMs?: number;
  /** Probability that a chunk is lost. */
  loss?: number;
  /** Probability that a byte has a bit flipped. */
  corrupt?: number;
}

export interface SimLinkOptions extends Impairment {
  seed?: number;
  /** Bytes a side may have in flight before write() says to wait (default 1 MiB). */
  highWater?: number;
}

export interface SimCounters {
  bytesSent: number;
  bytesDelivered: number;
  chunksLost: number;
  bytesCorrupted: number;
}

class End implements ByteStream {
  inFlight = 0;
  busyUntil = 0;
  data: ((chunk: Uint8Array) => void)[] = [];
  drain: (() => void)[] = [];
  readonly end = new CloseSignal();
  peer!: End;

  constructor(private readonly link: SimLink) {}

  write(bytes: Uint8Array): boolean {
    if (this.end.closed) return false;
    return this.link.transmit(this, bytes.slice());
  }
  onData(l: (chunk: Uint8Array) => void): void {
    this.data.push(l);
  }
  onDrain(l: () => void): void {
    this.drain.push(l);
  }
  onClose(l: (reason: string) => void): void {
    this.end.on(l);
  }
  close(): void {
    this.link.shut("closed by the other side", this);
  }
  get buffered(): number {
    return this.inFlight;
  }
}

export class SimLink {
  readonly a: ByteStream;
  readonly b: ByteStream;
  readonly counters: SimCounters = { bytesSent: 0, bytesDelivered: 0, chunksLost: 0, bytesCorrupted: 0 };
  private impairment: Impairment;
  private readonly rnd: Random;
  private readonly highWater: number;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(options: SimLinkOptions = {}) {
    this.impairment = { ...options };
    this.rnd = new Random(options.seed ?? 1);
    this.highWater = options.highWater ?? 1 << 20;
    const a = new End(this);
    const b = new End(this);
    a.peer = b;
    b.peer = a;
    this.a = a;
    this.b = b;
  }

  /** Changes the link's knobs from now on. */
  impair(change: Impairment): void {
    this.impairment = { ...this.impairment, ...change };
  }

  /** Severs the link: both ends close, and nothing in flight arrives. */
  cut(): void {
    this.shut("link cut");
  }

  /** @internal */
  transmit(from: End, bytes: Uint8Array): boolean {
    const { bandwidthBps = 0, latencyMs = 0 } = this.impairment;
    const now = performance.now();
    const start = Math.max(now, from.busyUntil);
    from.busyUntil = start + (bandwidthBps > 0 ? (bytes.length * 8 * 1000) / bandwidthBps : 0);
    from.inFlight += bytes.length;
    this.counters.bytesSent += bytes.length;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.deliver(from, bytes);
    }, Math.max(0, from.busyUntil + latencyMs - now));
    this.timers.add(timer);
    return from.inFlight <= this.highWater;
  }

  private deliver(from: End, bytes: Uint8Array): void {
    const wasAbove = from.inFlight > this.highWater;
    from.inFlight -= bytes.length;
    const to = from.peer;
    if (!to.end.closed) {
      const { loss = 0, corrupt = 0 } = this.impairment;
      if (loss > 0 && this.rnd.float() < loss) {
        this.counters.chunksLost++;
      } else {
        if (corrupt > 0) {
          for (let i = 0; i < bytes.length; i++) {
            if (this.rnd.float() < corrupt) {
              bytes[i] ^= 1 << this.rnd.below(8);
              this.counters.bytesCorrupted++;
            }
          }
        }
        this.counters.bytesDelivered += bytes.length;
        for (const l of to.data) l(bytes);
      }
    }
    if (wasAbove && from.inFlight <= this.highWater) for (const l of from.drain) l();
  }

  /** @internal */
  shut(reason: string, by?: End): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const a = this.a as End;
    const b = this.b as End;
    a.inFlight = b.inFlight = 0;
    a.end.fire(by === a ? "closed here" : reason);
    b.end.fire(by === b ? "closed here" : reason);
  }
}

/**
 * Joins a real stream to side a of a simulated link, whose side b is then the stream to
 * use: what goes through is impaired (or paced, by bandwidthBps) both ways.
 */
export function splice(real: ByteStream, sim: SimLink): void {
  real.onData((chunk) => sim.a.write(chunk));
  sim.a.onData((chunk) => real.write(chunk));
  real.onClose(() => sim.cut());
  sim.a.onClose(() => real.close());
}
