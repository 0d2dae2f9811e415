// Addresses to look up: uniform over the routed space (each address routed by the table
// equally likely), route by route (each route equally likely, then an address in it), or
// Zipf-skewed: a set of flows drawn over the routed space, the k-th busiest carrying
// packets in proportion to 1/k^s, as traffic on a real link does (a few destinations take
// most packets).

import { Addr, Family, Prefix, wordMask } from "./netip.ts";
import { Random } from "./random.ts";

/** The prefixes not contained in another, i.e. the routed space as disjoint blocks. */
export function coveringPrefixes(prefixes: readonly Prefix[]): Prefix[] {
  const sorted = [...prefixes].sort((a, b) => a.compare(b));
  const out: Prefix[] = [];
  for (const p of sorted) {
    if (out.length > 0 && out[out.length - 1].contains(p.addr)) continue;
    out.push(p);
  }
  return out;
}

/**
 * n addresses of one family packed for Fib.lookupBatch (one u32 each for IPv4, four for
 * IPv6). "space": uniform over the routed space; "route": a uniformly chosen route, then a
 * uniform address inside it. The same seed gives the same addresses.
 */
export function addressBatch(prefixes: readonly Prefix[], family: Family, n: number, mode: "space" | "route", seed = 1): Uint32Array {
  const rnd = new Random(seed);
  const own = prefixes.filter((p) => p.family === family);
  if (own.length === 0) return new Uint32Array(0);
  const blocks = mode === "space" ? coveringPrefixes(own) : own;
  const width = family === 4 ? 32 : 128;
  const words = family === 4 ? 1 : 4;
  // Each block as plain numbers (first address and host bits, word by word), so that an
  // address costs a pick and a random word per address word, not two Addr objects.
  const cumulative = new Float64Array(blocks.length);
  const base = new Uint32Array(blocks.length * words);
  const host = new Uint32Array(blocks.length * words);
  let total = 0;
  blocks.forEach((b, k) => {
    cumulative[k] = total += mode === "space" ? 2 ** (width - b.len) : 1;
    for (let w = 0; w < words; w++) {
      base[k * words + w] = b.addr.word(w);
      host[k * words + w] = ~wordMask(b.len, w);
    }
  });
  const out = new Uint32Array(n * words);
  for (let i = 0; i < n; i++) {
    const k = rnd.pick(cumulative) * words;
    for (let w = 0; w < words; w++) out[i * words + w] = base[k + w] | (rnd.u32() & host[k + w]);
  }
  return out;
}

export interface ZipfOptions {
  /** Distinct destinations (default 100000). */
  flows?: number;
  /** The skew s (default 1): flow k carries packets in proportion to 1/k^s. */
  exponent?: number;
  seed?: number;
}

/**
 * n addresses of one family packed as for addressBatch, Zipf-skewed over flows whose
 * destinations are uniform over the routed space; the busiest flow is a random one of them.
 */
export function zipfBatch(prefixes: readonly Prefix[], family: Family, n: number, options: ZipfOptions = {}): Uint32Array {
  const flows = options.flows ?? 100000;
  const s = options.exponent ?? 1;
  const seed = options.seed ?? 1;
  const destinations = addressBatch(prefixes, family, flows, "space", seed);
  if (destinations.length === 0) return destinations;
  const cumulative = new Float64Array(flows);
  let total = 0;
  for (let k = 1; k <= flows; k++) cumulative[k - 1] = total += 1 / k ** s;
  const rnd = new Random(seed ^ 0x5bd1e995);
  const words = family === 4 ? 1 : 4;
  const out = new Uint32Array(n * words);
  for (let i = 0; i < n; i++) {
    const flow = rnd.pick(cumulative) * words;
    for (let w = 0; w < words; w++) out[i * words + w] = destinations[flow + w];
  }
  return out;
}

/** Unpacks address i of a batch. */
export function batchAddress(batch: Uint32Array, family: Family, i: number): Addr {
  return family === 4 ? Addr.v4(batch[i]) : Addr.v6(batch[4 * i], batch[4 * i + 1], batch[4 * i + 2], batch[4 * i + 3]);
}
