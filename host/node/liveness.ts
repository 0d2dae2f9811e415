// Heartbeats and failure detection for one registration, both ways: every heartbeatMs a
// heartbeat goes out (carrying the last sequence, so the other side sees a tail loss), and
// a peer not heard from for heartbeatMs × deadAfter is declared dead. A closed stream is
// declared dead at once by whoever owns the link; this only covers silence.

export interface Timers {
  heartbeatMs: number;
  deadAfter: number;
}

export const DEFAULT_TIMERS: Timers = { heartbeatMs: 50, deadAfter: 3 };

export class Liveness {
  /** When a message last came in (performance.now()). */
  lastHeard = performance.now();
  private readonly timer: ReturnType<typeof setInterval>;

  /**
   * Starts the timer: `beat` sends a heartbeat, `dead` is called once with the reason when
   * the peer has been silent too long (the timer stops then).
   */
  constructor(timers: Timers, beat: () => void, dead: (reason: string, silentMs: number) => void) {
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
      if (silent > limit) {
        this.stop();
        dead(`no message for ${Math.round(silent)} ms (heartbeats every ${timers.heartbeatMs} ms, dead after ${timers.deadAfter})`, silent);
        return;
      }
      if (now >= nextBeat) {
        nextBeat = now + timers.heartbeatMs;
        beat();
      }
    }, tick);
    this.timer.unref?.();
  }

  heard(): void {
    this.lastHeard = performance.now();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
