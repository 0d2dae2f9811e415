// Stale kept sketches, brought up to date once the node has settled.
//
// A table keeps its sketch as it changes (assembly/sketch.ts), so that a digest resync
// folds the sketch it sends out of it instead of walking the table. Keeping it up costs a
// few scattered writes per change; for a batch about as large as the table (a snapshot into
// an empty card) the firmware stops keeping it up, and one walk afterwards costs less. That
// walk is best taken when nothing else is asked of the node or of the machine: while a
// chassis is programmed, the cards below this one still work through what it sent them. It
// goes a step at a time, so that heartbeats keep going out. A failover that finds the
// sketch stale walks the table then, at once.

import { performance } from "node:perf_hooks";
import type { Fib } from "../fib.ts";

/** How often the node looks. */
const TICK_MS = 500;
/** Looks in a row that must find the node settled before the walk. */
const SETTLED_TICKS = 2;
/** Settled: fewer changes than this in a tick (churn may go on)… */
const SETTLED_CHANGES = 1024;
/** …and the event loop busy for less than this share of it. */
const SETTLED_BUSY = 0.25;
/**
 * Routes walked a step: a few milliseconds, so that heartbeats go out between steps. A walk
 * of 1.2M routes in one go takes 65 ms alone and 300 ms beside a dozen busy processes, past
 * the 150 ms after which peers take a node for silent.
 */
const STEP_ROUTES = 32768;

/**
 * Watches `fib` and refreshes its stale kept sketches once the node has been settled for
 * SETTLED_TICKS looks in a row, a step at a time with other work between steps, then tells
 * `refreshed` how long that took and in how many steps. A walk that the table's changes cut
 * short is taken again at the next settled look. The timer holds neither the process open
 * nor the table: it stops once the table is collected.
 */
export function refreshWhenSettled(table: Fib, refreshed: (ms: number, steps: number) => void, tickMs = TICK_MS): { stop(): void } {
  const held = new WeakRef(table);
  let generations = table.generation(4) + table.generation(6);
  let loop = performance.eventLoopUtilization();
  let settled = 0;
  let walking = false;
  const timer = setInterval(() => {
    const fib = held.deref();
    if (!fib) return clearInterval(timer);
    const now = fib.generation(4) + fib.generation(6);
    const busy = performance.eventLoopUtilization(loop);
    loop = performance.eventLoopUtilization();
    // Generations are u32 counters: a wrap reads as a large change, which only waits a tick.
    settled = Math.abs(now - generations) < SETTLED_CHANGES && busy.utilization < SETTLED_BUSY ? settled + 1 : 0;
    generations = now;
    if (settled < SETTLED_TICKS || walking || !fib.sketchesStale()) return;
    walking = true;
    void walk(fib).then((done) => {
      walking = false;
      if (done) refreshed(done.ms, done.steps);
    });
  }, tickMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/** Walks the stale sketches of `fib` a step a turn; how long it took, or undefined if cut short. */
async function walk(fib: Fib): Promise<{ ms: number; steps: number } | undefined> {
  const start = performance.now();
  const steps = fib.refreshSketches(STEP_ROUTES);
  let n = 0;
  for (let step = steps.next(); ; step = steps.next(), n++) {
    if (step.done) return step.value ? { ms: performance.now() - start, steps: n } : undefined;
    await new Promise((r) => setImmediate(r));
  }
}
