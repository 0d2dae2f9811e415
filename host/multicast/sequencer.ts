// The receiving side's order of a channel: updates arrive by multicast out of order, twice,
// or not at all, and their repairs by unicast; the table must take them one at a time, in
// sequence. The sequencer holds what came early, hands on what is due, says which
// sequences are missing, and when to ask for them. Pure: time comes in as an argument.
//
// A missing sequence is asked for (NAKed) once it has been missing for `reorderMs` — a
// datagram merely overtaken arrives meanwhile. It is asked for again only once the sender
// said it answered the request (its repair must then have been lost on the way) and
// `renakMs` have passed, or after `lostNakMs` with no answer (the request was lost): a
// receiver too busy to read its repairs yet does not ask for them twice. A repair that
// arrived and waits its turn to be handled (`coming`) is not asked for again at all: the
// link it came on delivers it. Missing sequences go out as ranges, a bounded number per
// request, oldest first: many losses cost one request, not one each. The tail is found
// from the sender's heartbeats, which name its last sequence.
//
// A gap behind a datagram that arrived is real (a channel's datagrams come in order, but
// for the rare reordering `reorderMs` allows for). A gap known only from a heartbeat that
// came another way (the unicast link, which outruns the channel's socket when the receiver
// is busy and its datagrams wait in the kernel) is asked for after `aheadMs`: asking at
// once fetches repairs of datagrams that were never lost, and they come twice.

export interface SequencerOptions {
  /** How long a sequence may be missing before it is asked for (default 3 ms). */
  reorderMs?: number;
  /** The same for one that only a heartbeat from another path says was sent (default 50 ms). */
  aheadMs?: number;
  /** Least time between two requests for one sequence (default 50 ms). */
  renakMs?: number;
  /** How long an unanswered request waits before it is taken for lost (default 1 s). */
  lostNakMs?: number;
  /** Most ranges in one request (default 64). */
  maxRanges?: number;
  /** Most updates held ahead of a gap; past it the sequencer has overflowed (default 65536). */
  maxHeld?: number;
}

interface Missing {
  found: number;
  asked: number;
  answered: boolean;
  coming: boolean;
}

export class Sequencer<T> {
  /** The next sequence due; undefined until the stream's base is known (everything is held). */
  private due: number | undefined;
  private readonly held = new Map<number, T>();
  /** The last sequence the sender is known to have sent. */
  private horizon = 0;
  /** The last sequence known from the channel itself: updates and heartbeats that arrived on it. */
  private seen = 0;
  /** For each missing sequence seen: when it was found missing, when last asked for, whether answered, whether its repair is in hand. */
  private readonly missingSince = new Map<number, Missing>();
  duplicates = 0;
  private readonly reorderMs: number;
  private readonly aheadMs: number;
  private readonly renakMs: number;
  private readonly lostNakMs: number;
  private readonly maxRanges: number;
  private readonly maxHeld: number;

  constructor(options: SequencerOptions = {}) {
    this.reorderMs = options.reorderMs ?? 3;
    this.aheadMs = options.aheadMs ?? 50;
    this.renakMs = options.renakMs ?? 50;
    this.lostNakMs = options.lostNakMs ?? 1000;
    this.maxRanges = options.maxRanges ?? 64;
    this.maxHeld = options.maxHeld ?? 65536;
  }

  /** The stream continues after `sequence` (a resync brought the table there): what is held past it is due next. */
  base(sequence: number): T[] {
    this.due = sequence + 1;
    for (const s of this.held.keys()) if (s <= sequence) this.held.delete(s);
    for (const s of this.missingSince.keys()) if (s <= sequence) this.missingSince.delete(s);
    this.horizon = Math.max(this.horizon, sequence);
    this.seen = Math.max(this.seen, sequence);
    return this.release();
  }

  /** Forgets everything: the session starts over. */
  reset(): void {
    this.due = undefined;
    this.held.clear();
    this.missingSince.clear();
    this.horizon = 0;
    this.seen = 0;
  }

  get next(): number | undefined {
    return this.due;
  }

  /** Whether more is held than the bound allows: the gap will not close by repair in time. */
  get overflowed(): boolean {
    return this.held.size > this.maxHeld;
  }

  /**
   * An update arrived (by multicast or repair): the updates now due, in order (none if it
   * came early); "duplicate" if it was applied or is held already (counted).
   */
  push(sequence: number, item: T): T[] | "duplicate" {
    if ((this.due !== undefined && sequence < this.due) || this.held.has(sequence)) {
      this.duplicates++;
      return "duplicate";
    }
    this.held.set(sequence, item);
    this.missingSince.delete(sequence);
    this.horizon = Math.max(this.horizon, sequence);
    this.seen = Math.max(this.seen, sequence);
    return this.release();
  }

  /**
   * The sender has sent up to `sequence` (its heartbeat): any of those not here are missing.
   * `onChannel`: the heartbeat came on the channel, behind every datagram sent before it;
   * otherwise those datagrams may still be on their way (aheadMs).
   */
  heard(sequence: number, onChannel: boolean): void {
    this.horizon = Math.max(this.horizon, sequence);
    if (onChannel) this.seen = Math.max(this.seen, sequence);
  }

  /** Whether any sequence up to the horizon is missing. */
  get gapped(): boolean {
    return this.due !== undefined && this.due <= this.horizon;
  }

  /**
   * The missing sequences to ask for now, as [from, count] ranges, oldest first, and notes
   * them asked. Empty when nothing is missing or it is too soon.
   */
  requests(now: number): [from: number, count: number][] {
    if (this.due === undefined) return [];
    const out: [number, number][] = [];
    for (let s = this.due; s <= this.horizon && out.length < this.maxRanges; s++) {
      if (this.held.has(s)) continue;
      let m = this.missingSince.get(s);
      if (!m) this.missingSince.set(s, (m = { found: now, asked: -Infinity, answered: false, coming: false }));
      if (now < this.askAt(s, m)) continue;
      m.asked = now;
      m.answered = false;
      const last = out.at(-1);
      if (last && last[0] + last[1] === s) last[1]++;
      else out.push([s, 1]);
    }
    return out;
  }

  /** When requests() may next have something to ask; undefined if nothing is missing, or every repair missing is in hand. */
  wakeAt(): number | undefined {
    if (!this.gapped) return undefined;
    let at = Infinity;
    for (let s = this.due!; s <= this.horizon; s++) {
      if (this.held.has(s)) continue;
      const m = this.missingSince.get(s);
      if (!m) return 0;
      at = Math.min(at, this.askAt(s, m));
      if (at === 0) break;
    }
    return at === Infinity ? undefined : at;
  }

  /** The sender answered every request for sequences up to `sequence` made so far. */
  answered(sequence: number): void {
    for (const [s, m] of this.missingSince) if (s <= sequence && m.asked > -Infinity) m.answered = true;
  }

  /**
   * The repair of `sequence` arrived and waits its turn to be handled (push follows): it is
   * not asked for again, however long the wait.
   */
  coming(sequence: number): void {
    const m = this.missingSince.get(sequence);
    if (m) m.coming = true;
  }

  private askAt(s: number, m: Missing): number {
    if (m.coming) return Infinity;
    if (m.asked === -Infinity) return m.found + (s <= this.seen ? this.reorderMs : this.aheadMs);
    return m.asked + (m.answered ? this.renakMs : this.lostNakMs);
  }

  private release(): T[] {
    if (this.due === undefined) return [];
    const out: T[] = [];
    for (let item = this.held.get(this.due); item !== undefined; item = this.held.get(this.due)) {
      this.held.delete(this.due);
      this.missingSince.delete(this.due);
      out.push(item);
      this.due++;
    }
    return out;
  }
}
