// A seeded synthetic table with a real prefix-length mix: the embedded default and the
// table for scale runs (1M+ IPv4, 250k+ IPv6). Same seed, same table.
//
// Lengths follow the mix of the real table (host/asn.ts). Placement follows how address
// space is handed out: registries hand allocations to providers in order (IPv4 /16–/20
// from the unicast /8s, IPv6 /29–/32 from the regional /12s), providers assign from their
// allocations in order, a few big providers announce most prefixes, and a fifth of the
// prefixes are more-specifics of earlier ones (deaggregation). So the table clusters and
// nests as a BGP table does. Next hops come from a pool of gateway addresses.

import { Addr, Family, Prefix } from "./netip.ts";
import { Random } from "./random.ts";
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

  const [allocMin, allocMax] = family === 4 ? [16, 20] : [29, 32];
  const width = family === 4 ? 32 : 128;
  const registries = (family === 4 ? REGISTRIES4 : REGISTRIES6).map((text) => {
    const p = Prefix.mustParse(text);
    return { start: toBig(p.addr), size: 1n << BigInt(width - p.len), len: p.len, next: 0n };
  });
  const providers: Provider[] = [];
  const providerCount = Math.max(1, Math.ceil(n / (family === 4 ? 24 : 5)));
  while (providers.length < providerCount) {
    const len = allocMin + rnd.below(allocMax - allocMin + 1);
    const start = assign(registries[rnd.below(registries.length)], len, width, rnd);
    if (start !== undefined) providers.push({ start, size: 1n << BigInt(width - len), len, next: 0n });
  }

  const seen = new Set<string>();
  const placed: Prefix[] = [];
  const out: Route[] = [];
  while (out.length < n) {
    const len = lens[rnd.pick(cumulative)];
    let addr: Addr;
    const parent = placed.length > 0 && rnd.float() < 0.2 ? placed[rnd.below(placed.length)] : undefined;
    const provider = providers[Math.floor(providers.length * rnd.float() ** 3)];
    if (parent && parent.len < len) addr = fromBig(toBig(parent.addr) + skewedBlock(parent.len, len, width, rnd), family);
    else if (provider.len <= len && rnd.float() < 0.95) {
      const assigned = assign(provider, len, width, rnd);
      if (assigned === undefined) continue;
      addr = fromBig(assigned, family);
    } else addr = anywhere(family, rnd);
    const prefix = Prefix.from(addr, len) as Prefix;
    const key = prefix.toString();
    if (seen.has(key)) continue;
    seen.add(key);
    if (len < (family === 4 ? 24 : 48)) placed.push(prefix);
    out.push({ prefix, nexthop: pool[rnd.below(pool.length)] });
  }
  return out;
}

// Where registries allocate from: the unicast /8s (less 10/8 and 127/8), and the regional
// IPv6 blocks.
const REGISTRIES4 = Array.from({ length: 223 }, (_, i) => i + 1).filter((o) => o !== 10 && o !== 127).map((o) => `${o}.0.0.0/8`);
const REGISTRIES6 = ["2001:200::/23", "2400::/12", "2600::/12", "2800::/12", "2a00::/12", "2c00::/12"];

/** An allocation and how far its provider has assigned it (offsets from its start). */
interface Provider {
  start: bigint;
  size: bigint;
  len: number;
  next: bigint;
}

/** The next free block of length len in the provider's allocation (now and then past a gap), or undefined when full. */
function assign(p: Provider, len: number, width: number, rnd: Random): bigint | undefined {
  const block = 1n << BigInt(width - len);
  let at = ((p.next + block - 1n) / block) * block;
  if (rnd.float() < 0.1) at += block * BigInt(1 + rnd.below(8));
  if (at + block > p.size) return undefined;
  p.next = at + block;
  return p.start + at;
}

/** The offset of a block of length len inside a prefix of length plen, skewed towards the front. */
function skewedBlock(plen: number, len: number, width: number, rnd: Random): bigint {
  const blocks = 2 ** (len - plen);
  return BigInt(Math.floor(blocks * rnd.float() ** 6)) << BigInt(width - len);
}

function toBig(a: Addr): bigint {
  const v = (BigInt(a.w0) << 96n) | (BigInt(a.w1) << 64n) | (BigInt(a.w2) << 32n) | BigInt(a.w3);
  return a.family === 4 ? v >> 96n : v;
}

function fromBig(v: bigint, family: Family): Addr {
  if (family === 4) return Addr.v4(Number(v));
  const w = (i: number) => Number((v >> BigInt(96 - 32 * i)) & 0xffffffffn);
  return Addr.v6(w(0), w(1), w(2), w(3));
}

/** A random address in the unicast space: 1.0.0.0 – 223.255.255.255, or 2000::/4 (for the few prefixes placed anywhere). */
function anywhere(family: Family, rnd: Random): Addr {
  if (family === 4) return Addr.v4(((1 + rnd.below(223)) << 24) | (rnd.u32() & 0xffffff));
  return Addr.v6(0x20000000 | (rnd.u32() & 0x0fffffff), rnd.u32(), rnd.u32(), rnd.u32());
}
