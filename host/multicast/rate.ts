// How fast a channel multicasts: a token bucket paces the datagrams, and the rate follows
// the receivers' NAKs — lowered when they report loss, raised again while they are quiet
// (additive increase, multiplicative decrease, as TCP and the NAK-based multicast
// protocols do). The ceiling is the operator's; the floor keeps a fabric that loses at
// random (not from congestion) from being slowed to a crawl. Pure: time comes in.

export interface RateOptions {
  /** The configured ceiling, bytes a second. */
  ceiling: number;
  /** Bytes that may go at once after an idle spell (default: 4 ms of the ceiling, at least 64 KiB). */
  burst?: number;
  /** How often the rate may change (default 100 ms). */
  adjustMs?: number;
}

export class RateControl {
  /** The rate now, bytes a second. */
  rate: number;
  readonly ceiling: number;
  readonly floor: number;
  private readonly burst: number;
  private readonly adjustMs: number;
  private tokens: number;
  private filledAt: number;
  private adjustedAt: number;
  private lossSinceAdjust = false;
  decreases = 0;

  constructor(options: RateOptions, now: number) {
    this.ceiling = options.ceiling;
    this.rate = options.ceiling;
    this.floor = options.ceiling / 8;
    this.burst = options.burst ?? Math.max(64 << 10, options.ceiling * 0.004);
    this.adjustMs = options.adjustMs ?? 100;
    this.tokens = this.burst;
    this.filledAt = now;
    this.adjustedAt = now;
  }

  /** Takes `bytes` if the bucket holds them: 0. Otherwise how many ms until it will. */
  take(bytes: number, now: number): number {
    this.adjust(now);
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.filledAt) * this.rate) / 1000);
    this.filledAt = now;
    // A datagram larger than the burst goes when the bucket is full, leaving it in debt.
    if (this.tokens >= Math.min(bytes, this.burst)) {
      this.tokens -= bytes;
      return 0;
    }
    return ((Math.min(bytes, this.burst) - this.tokens) * 1000) / this.rate;
  }

  /** A receiver reported loss (a NAK). */
  loss(now: number): void {
    this.lossSinceAdjust = true;
    this.adjust(now);
  }

  private adjust(now: number): void {
    if (now - this.adjustedAt < this.adjustMs) return;
    this.adjustedAt = now;
    if (this.lossSinceAdjust) {
      this.rate = Math.max(this.floor, this.rate * 0.7);
      this.decreases++;
    } else {
      this.rate = Math.min(this.ceiling, this.rate + this.ceiling / 16);
    }
    this.lossSinceAdjust = false;
  }
}
