// Stale kept sketches, brought up to date when the table has gone quiet.
//
// A table keeps its sketch as it changes (assembly/sketch.ts), so that a digest resync
// folds the sketch it sends out of it instead of walking the table. Keeping it up costs a
// few scattered writes per change; for a batch about as large as the table (a snapshot into
// an empty card) the firmware stops keeping it up, and one walk afterwards costs less. That
// walk is best taken while nothing else is asked of the node: a card being programmed has
// better uses for the core, and a failover that finds the sketch stale walks the table then.

import type { Fib } from "../fib.ts";

/** How long the table must go unchanged before its stale sketches are walked. */
export const QUIET_MS = 500;

/**
 * Watches `fib` and refreshes its stale kept sketches once neither family has changed for
 * QUIET_MS. The timer does not hold the process open.
 */
export function refreshWhenQuiet(fib: Fib, quietMs = QUIET_MS): { stop(): void } {
  let seen = -1;
  const timer = setInterval(() => {
    const now = fib.generation(4) + fib.generation(6) * 2 ** 32;
    if (now === seen && fib.sketchesStale()) fib.refreshSketches();
    seen = now;
  }, quietMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
