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
  return { median: rates[rates.length >> 1], min: rates[0], max: rates[rates.length - 1], runs };
}

/** Milliseconds fn takes, once. */
export function timeMs(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

export const round = (x: number, digits = 2): number => Number(x.toPrecision(digits + 2));
