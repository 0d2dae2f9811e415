// Addresses to look up: uniform over the routed space (each address routed by the table
// equally likely), or route by route (each route equally likely, then an address in it).

import { Addr, Family, Prefix } from "./netip.ts";
import { Random } from "./random.ts";

/** A random address inside p. */
export function randomAddressIn(p: Prefix, rnd: Random): Addr {
  const a = p.addr;
  const last = p.last();
  const w = (i: number) => a.word(i) | (rnd.u32() & (last.word(i) ^ a.word(i)));
  return a.family === 4 ? Addr.v4(w(0)) : Addr.v6(w(0), w(1), w(2), w(3));
}

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
 * uniform address inside it.
 */
export function addressBatch(prefixes: readonly Prefix[], family: Family, n: number, mode: "space" | "route", seed = 1): Uint32Array {
  const rnd = new Random(seed);
  const own = prefixes.filter((p) => p.family === family);
  if (own.length === 0) return new Uint32Array(0);
  const blocks = mode === "space" ? coveringPrefixes(own) : own;
  const width = family === 4 ? 32 : 128;
  const cumulative: number[] = [];
  let total = 0;
  for (const b of blocks) cumulative.push((total += mode === "space" ? 2 ** (width - b.len) : 1));
  const words = family === 4 ? 1 : 4;
  const out = new Uint32Array(n * words);
  for (let i = 0; i < n; i++) {
    const a = randomAddressIn(blocks[rnd.pick(cumulative)], rnd);
    if (family === 4) out[i] = a.w0;
    else out.set([a.w0, a.w1, a.w2, a.w3], 4 * i);
  }
  return out;
}

/** Unpacks address i of a batch. */
export function batchAddress(batch: Uint32Array, family: Family, i: number): Addr {
  return family === 4 ? Addr.v4(batch[i]) : Addr.v6(batch[4 * i], batch[4 * i + 1], batch[4 * i + 2], batch[4 * i + 3]);
}
