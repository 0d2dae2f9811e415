// Timing helpers for benchmarks on a shared, noisy machine: repeat, report the median and
// the spread, never one run.

export interface Sample {
  median: number;
  min: number;
  max: number;
  runs: number;
}

/** Runs fn `runs` times (after one warm-up) and returns the rates count/seconds. */
export function measureRate(count: number, runs: number, fn: () => void): Sample {
  fn();
  const rates: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    fn();
    rates.push(count / ((performance.now() - t) / 1000));
  }
  rates.sort((a, b) => a - b);
  return { median: median(rates), min: rates[0], max: rates[rates.length - 1], runs };
}

/** The middle value (the upper one of an even count). */
export function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[sorted.length >> 1];
}

/** Milliseconds fn takes, once. */
export function timeMs(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

export const round = (x: number, digits = 2): number => Number(x.toPrecision(digits + 2));

/**
 * How fast this CPU runs right now: millions of iterations per second of a fixed integer
 * loop (median of 5). On a shared machine the figure moves with the neighbours' load; a
 * benchmark reports it so that runs taken at different times can be compared.
 */
export function cpuCalibration(): number {
  const rates: number[] = [];
  for (let run = 0; run < 5; run++) {
    let x = 0x9e3779b9 | 0;
    const n = 5_000_000;
    const t = performance.now();
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
    }
    const ms = performance.now() - t;
    if (x === 0) throw new Error("unreachable");
    rates.push(n / ms / 1000);
  }
  rates.sort((a, b) => a - b);
  return round(rates[2], 3);
}
