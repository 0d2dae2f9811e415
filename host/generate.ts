// A seeded synthetic table with a real prefix-length mix: the embedded default and the
// table for scale runs (1M+ IPv4, 250k+ IPv6). Same seed, same table.
//
// Lengths follow the mix of the real table (host/asn.ts); half of the prefixes are placed
// inside an earlier, shorter one, so the table nests and clusters as a BGP table does
// (aggregates with more-specifics). Next hops are drawn from a pool of gateway addresses.

import { Addr, Family, Prefix } from "./netip.ts";
import { Random } from "./random.ts";
import { randomAddressIn } from "./traffic.ts";
import type { Route } from "./routefile.ts";

// Share of prefixes per length, from the real tables (per mille, rounded; 0 where rare).
const MIX4: Record<number, number> = {
  8: 1, 10: 1, 11: 1, 12: 1, 13: 1, 14: 2, 15: 4, 16: 17, 17: 12, 18: 21, 19: 39, 20: 59, 21: 82,
  22: 184, 23: 184, 24: 387, 25: 2, 26: 3, 27: 3, 28: 1, 29: 1, 30: 1, 32: 1,
};
const MIX6: Record<number, number> = {
  20: 1, 24: 1, 28: 1, 29: 62, 30: 6, 31: 9, 32: 169, 33: 11, 34: 13, 35: 15, 36: 29, 37: 16, 38: 20,
  39: 22, 40: 48, 41: 22, 42: 26, 43: 30, 44: 59, 45: 30, 46: 38, 47: 57, 48: 246, 52: 3, 56: 3,
  60: 5, 64: 10, 128: 1,
};

export interface GenerateOptions {
  family: Family;
  routes: number;
  seed?: number;
  /** Distinct next hops (default 64). */
  nexthops?: number;
}

/** A table of exactly `routes` distinct prefixes. */
export function generateRoutes(options: GenerateOptions): Route[] {
  const { family, routes: n } = options;
  const rnd = new Random(options.seed ?? 1);
  const mix = family === 4 ? MIX4 : MIX6;
  const lens = Object.keys(mix).map(Number);
  const cumulative: number[] = [];
  let total = 0;
  for (const l of lens) cumulative.push((total += mix[l]));
  const pool = Array.from({ length: options.nexthops ?? 64 }, (_, i) =>
    family === 4 ? `100.64.${i >> 8}.${(i & 255) + 1}` : `fd00::${(i + 1).toString(16)}`,
  );

  const seen = new Set<string>();
  const placed: Prefix[] = [];
  const out: Route[] = [];
  while (out.length < n) {
    const len = lens[rnd.pick(cumulative)];
    let addr: Addr;
    const parent = placed.length > 0 && rnd.float() < 0.5 ? placed[rnd.below(placed.length)] : undefined;
    if (parent && parent.len < len) {
      addr = randomAddressIn(parent, rnd);
    } else if (family === 4) {
      addr = Addr.v4(((1 + rnd.below(223)) << 24) | (rnd.u32() & 0xffffff));   // 1.0.0.0 – 223.255.255.255
    } else {
      addr = Addr.v6(0x20000000 | (rnd.u32() & 0x0fffffff), rnd.u32(), rnd.u32(), rnd.u32()); // 2000::/4
    }
    const prefix = Prefix.from(addr, len) as Prefix;
    const key = prefix.toString();
    if (seen.has(key)) continue;
    seen.add(key);
    if (len < (family === 4 ? 24 : 48)) placed.push(prefix);
    out.push({ prefix, nexthop: pool[rnd.below(pool.length)] });
  }
  return out;
}
