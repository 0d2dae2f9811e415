// Heartbeats and failure detection for one registration, both ways: every heartbeatMs a
// heartbeat goes out (carrying the last sequence, so the other side sees a tail loss), and
// a peer not heard from for heartbeatMs × deadAfter becomes suspect. A closed stream is
// declared dead at once by whoever owns the link; this only covers silence.
//
// Silence is a suspicion, not a death sentence. A suspect peer is one to fail over from,
// if there is somewhere to go, and not one to fail over to; but the stream stays up, and
// if the peer speaks again it is trusted again. A chassis simulated on a shared machine
// has a dozen busy processes on two cores, and one of them is now and then not scheduled
// for longer than the limit: dropping its links would turn a scheduling hiccup into a
// re-registration and a full resync. Only a peer silent for GIVE_UP × the limit is taken
// for dead and its link closed.

export interface Timers {
  heartbeatMs: number;
  deadAfter: number;
}

export const DEFAULT_TIMERS: Timers = { heartbeatMs: 50, deadAfter: 3 };

/** Silence, in detection limits, after which a suspect peer's link is closed. */
export const GIVE_UP = 40;

export interface LivenessEvents {
  /** Time to send a heartbeat. */
  beat(): void;
  /** Silent past the limit (once per silence): the peer is suspect. */
  silent(reason: string, silentMs: number): void;
  /** A suspect peer spoke again after silentMs. */
  resumed(silentMs: number): void;
  /** Silent for GIVE_UP limits: take the peer for dead (the timer has stopped). */
  gone(reason: string, silentMs: number): void;
}

export class Liveness {
  /** When a message last came in (performance.now()). */
  lastHeard = performance.now();
  /** Silent past the limit, and not heard from since. */
  suspect = false;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(timers: Timers, private readonly events: LivenessEvents) {
    const limit = timers.heartbeatMs * timers.deadAfter;
    // Checked five times a heartbeat, so silence is noticed within a fifth of one.
    // When this node's own loop was held up, what the peer sent may be sitting unread: the
    // silence is not the peer's, so it is not counted.
    const tick = Math.max(1, timers.heartbeatMs / 5);
    let nextBeat = 0;
    let lastTick = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      if (now - lastTick > 2 * tick) this.lastHeard = Math.max(this.lastHeard, now - tick);
      lastTick = now;
      const silent = now - this.lastHeard;
      if (silent > limit * GIVE_UP) {
        this.stop();
        events.gone(`no message for ${Math.round(silent)} ms: given up on`, silent);
        return;
      }
      if (silent > limit && !this.suspect) {
        this.suspect = true;
        events.silent(`no message for ${Math.round(silent)} ms (heartbeats every ${timers.heartbeatMs} ms, suspect after ${timers.deadAfter})`, silent);
      }
      if (now >= nextBeat) {
        nextBeat = now + timers.heartbeatMs;
        events.beat();
      }
    }, tick);
    this.timer.unref?.();
  }

  /** A message arrived. */
  heard(): void {
    const now = performance.now();
    const silent = now - this.lastHeard;
    this.lastHeard = now;
    if (this.suspect) {
      this.suspect = false;
      this.events.resumed(silent);
    }
  }

  /** How long the peer has been silent. */
  silentMs(): number {
    return performance.now() - this.lastHeard;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
