// A seeded synthetic table with a real prefix-length mix: the embedded default and the
// table for scale runs (1M+ IPv4, 250k+ IPv6). Same seed, same table.
//
// Lengths follow the mix of the real table (host/asn.ts). Placement follows how address
// space is handed out: registries hand allocations to providers in order (IPv4 /16–/20
// from the unicast /8s, IPv6 /29–/32 from the regional /12s), providers assign from their
// allocations in order, a few big providers announce most prefixes, and a fifth of the
// prefixes are more-specifics of earlier ones (deaggregation). So the table clusters and
// nests as a BGP table does. Next hops come from a pool of gateway addresses.
//
// Arithmetic is on plain numbers, which is what makes a million prefixes take a fraction of
// a second: an address is its top two 32-bit words, and a position inside an allocation is
// an offset in units of 2^-64 of the address space (an IPv4 address's value × 2^32). Such
// an offset has at most (length − allocation length) significant bits, under 53 for every
// length up to /64, so doubles hold it exactly. Longer IPv6 prefixes are placed as their
// /64, with random low words.

import { Addr, Prefix, type Family } from "./netip.ts";
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

/**
 * A generated table in compact form: prefix i is words[4i..4i+3] (IPv4: the first word) /
 * lens[i], next hop pool[nexthops[i]]. In the order generated, not sorted.
 */
export interface GeneratedTable {
  family: Family;
  count: number;
  words: Uint32Array;
  lens: Uint8Array;
  nexthops: Uint16Array;
  pool: string[];
}

/** A table of exactly `routes` distinct prefixes. */
export function generateRoutes(options: GenerateOptions): Route[] {
  const t = generateTable(options);
  const out: Route[] = new Array(t.count);
  for (let i = 0; i < t.count; i++) {
    const w = t.words;
    const addr = t.family === 4 ? Addr.v4(w[4 * i]) : Addr.v6(w[4 * i], w[4 * i + 1], w[4 * i + 2], w[4 * i + 3]);
    out[i] = { prefix: Prefix.from(addr, t.lens[i]) as Prefix, nexthop: t.pool[t.nexthops[i]] };
  }
  return out;
}

/** The same table as generateRoutes, without an object per route. */
export function generateTable(options: GenerateOptions): GeneratedTable {
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
  const registries = (family === 4 ? REGISTRIES4 : REGISTRIES6).map((text) => block(Prefix.mustParse(text)));
  const providers: Block[] = [];
  const providerCount = Math.max(1, Math.ceil(n / (family === 4 ? 24 : 5)));
  while (providers.length < providerCount) {
    const len = allocMin + rnd.below(allocMax - allocMin + 1);
    const registry = registries[rnd.below(registries.length)];
    const at = assign(registry, len, rnd);
    if (at === undefined) continue;
    const [w0, w1] = offsetFrom(registry, at);
    providers.push({ w0, w1, len, size: 2 ** (64 - len), next: 0 });
  }

  // A full provider passes its share to the next one that has room.
  const open = new OpenSet(providers.length);
  const table: GeneratedTable = { family, count: 0, words: new Uint32Array(4 * n), lens: new Uint8Array(n), nexthops: new Uint16Array(n), pool };
  const seen = new PrefixSet(table);
  const placed = new Int32Array(n);
  let parents = 0;
  const nestedBelow = family === 4 ? 24 : 48;
  const w = table.words;
  while (table.count < n) {
    const len = lens[rnd.pick(cumulative)];
    // Where the prefix (or its /64) goes: inside an earlier prefix, in a provider's allocation, or anywhere.
    const top = Math.min(len, 64);
    const parent = parents > 0 && rnd.float() < 0.2 ? placed[rnd.below(parents)] : -1;
    const pick = open.find(Math.floor(providers.length * rnd.float() ** 3));
    const provider = providers[pick] as Block | undefined;
    const i = table.count;
    if (parent >= 0 && table.lens[parent] < len) {
      const plen = table.lens[parent];
      const offset = Math.floor(2 ** (top - plen) * rnd.float() ** 6) * 2 ** (64 - top);
      [w[4 * i], w[4 * i + 1]] = offsetFrom({ w0: w[4 * parent], w1: w[4 * parent + 1] }, offset);
    } else if (provider && provider.len <= len && rnd.float() < 0.95) {
      const at = assign(provider, top, rnd);
      if (at === undefined) {
        open.close(pick);
        continue;
      }
      [w[4 * i], w[4 * i + 1]] = offsetFrom(provider, at);
    } else {
      // Anywhere a registry hands out (masked below).
      const r = registries[rnd.below(registries.length)];
      w[4 * i] = r.w0 | (rnd.u32() & (0xffffffff >>> r.len));
      w[4 * i + 1] = family === 4 ? 0 : r.len > 32 ? r.w1 | (rnd.u32() & (0xffffffff >>> (r.len - 32))) : rnd.u32();
    }
    w[4 * i + 2] = len > 64 ? rnd.u32() : 0;
    w[4 * i + 3] = len > 64 ? rnd.u32() : 0;
    maskWords(w, 4 * i, len);
    table.lens[i] = len;
    if (!seen.add(i)) continue;
    table.nexthops[i] = rnd.below(pool.length);
    table.count++;
    if (len < nestedBelow) placed[parents++] = i;
  }
  return table;
}

// Where registries allocate from: the unicast /8s (less 10/8 and 127/8), and the regional
// IPv6 blocks.
const REGISTRIES4 = Array.from({ length: 223 }, (_, i) => i + 1).filter((o) => o !== 10 && o !== 127).map((o) => `${o}.0.0.0/8`);
const REGISTRIES6 = ["2001:200::/23", "2400::/12", "2600::/12", "2800::/12", "2a00::/12", "2c00::/12"];

const TWO32 = 2 ** 32;

/** An allocation (a registry's or a provider's) and how far it is handed out: offsets in units of 2^-64 of the space. */
interface Block {
  w0: number;
  w1: number;
  len: number;
  size: number;
  next: number;
}

function block(p: Prefix): Block {
  return { w0: p.addr.w0, w1: p.addr.w1, len: p.len, size: 2 ** (64 - p.len), next: 0 };
}

/** The offset of the next free block of length len (≤ 64) in an allocation (now and then past a gap), or undefined when full. */
function assign(p: Block, len: number, rnd: Random): number | undefined {
  const size = 2 ** (64 - len);
  let at = Math.ceil(p.next / size) * size;
  if (rnd.float() < 0.1) at += size * (1 + rnd.below(8));
  if (at + size > p.size) return undefined;
  p.next = at + size;
  return at;
}

/** The top two words of the address `offset` past `base`. */
function offsetFrom(base: { w0: number; w1: number }, offset: number): [number, number] {
  const hi = Math.floor(offset / TWO32);
  const lo = base.w1 + (offset - hi * TWO32);
  const carry = lo >= TWO32 ? 1 : 0;
  return [(base.w0 + hi + carry) >>> 0, (lo - carry * TWO32) >>> 0];
}

/** Clears the bits of the address at words[at..at+3] past the first len. */
function maskWords(words: Uint32Array, at: number, len: number): void {
  for (let k = 0; k < 4; k++) {
    const keep = Math.max(0, Math.min(32, len - 32 * k));
    words[at + k] = keep === 0 ? 0 : keep === 32 ? words[at + k] : words[at + k] & ~(0xffffffff >>> keep);
  }
}

/** The prefixes of a table being generated, by index: open addressing over their words and length. */
class PrefixSet {
  private readonly slots: Int32Array;
  private readonly mask: number;

  constructor(private readonly table: GeneratedTable) {
    let size = 16;
    while (size < table.lens.length * 2) size *= 2;
    this.slots = new Int32Array(size).fill(-1);
    this.mask = size - 1;
  }

  /** Adds prefix i of the table; false if an equal prefix is already in. */
  add(i: number): boolean {
    const { words: w, lens } = this.table;
    let h = lens[i];
    for (let k = 0; k < 4; k++) h = Math.imul(h ^ w[4 * i + k], 0x9e3779b1) ^ (h >>> 15);
    for (let s = h & this.mask; ; s = (s + 1) & this.mask) {
      const j = this.slots[s];
      if (j < 0) {
        this.slots[s] = i;
        return true;
      }
      if (lens[j] === lens[i] && w[4 * j] === w[4 * i] && w[4 * j + 1] === w[4 * i + 1] && w[4 * j + 2] === w[4 * i + 2] && w[4 * j + 3] === w[4 * i + 3]) return false;
    }
  }
}

/** Indices 0..n-1, some closed: find(i) is the first open index at or after i (n when none). */
class OpenSet {
  private readonly next: Int32Array;

  constructor(n: number) {
    this.next = Int32Array.from({ length: n + 1 }, (_, i) => i);
  }

  find(i: number): number {
    let root = i;
    while (this.next[root] !== root) root = this.next[root];
    while (this.next[i] !== root) [i, this.next[i]] = [this.next[i], root];
    return root;
  }

  close(i: number): void {
    this.next[i] = i + 1;
  }
}
