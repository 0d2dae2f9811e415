// The next-hop table that lives beside the FIB: the FIB stores 24-bit ids, this table says
// what an id means (a gateway address, an interface, or an ECMP group of other ids) and
// how the user wrote it.
//
// Ids are chassis-wide. Each route processor hands out ids from a block of its own (see
// NextHopTable's `base`), so a route keeps its id on every card whichever server sent it,
// and tables on different cards compare by digest. Entries made elsewhere are adopted as
// they arrive (`adopt`). A table keeps a log of the ids it defined or redefined, in order,
// so that a server sends each client only the entries it has not seen (`since`).

import { Addr, ParseError } from "./netip.ts";
import { MAX_NEXTHOP } from "./fib.ts";

export interface NextHop {
  readonly id: number;
  /** The next hop as written where it came from (route file, FRR, MRT). */
  readonly name: string;
  /** Gateway address, when the name is one. */
  readonly address?: Addr;
  readonly interface?: string;
  /** Member ids of an ECMP group. */
  readonly members?: readonly number[];
}

export class NextHopTableFullError extends Error {
  override name = "NextHopTableFullError";
  constructor(base: number, size: number) {
    super(`next-hop table full: more than ${size} distinct next hops in the block from ${base}`);
  }
}

/** Ids a route processor's block holds: 2^20, so 16 route processors share the 24-bit space. */
export const NEXTHOP_BLOCK = 1 << 20;

export interface NextHopTableOptions {
  /** First id this table hands out (default 0). */
  base?: number;
  /** How many ids it may hand out (default: up to the largest id). */
  size?: number;
}

export class NextHopTable {
  private readonly byKey = new Map<string, number>();
  private readonly entries = new Map<number, NextHop>();
  private readonly log: number[] = [];
  /** Sum of the entries' hashes modulo 2^64, in two 32-bit halves: see `digest`. */
  private sumHi = 0;
  private sumLo = 0;
  private readonly base: number;
  private readonly limit: number;
  private next: number;

  constructor(options: NextHopTableOptions = {}) {
    this.base = options.base ?? 0;
    this.limit = Math.min(MAX_NEXTHOP + 1, this.base + (options.size ?? MAX_NEXTHOP + 1));
    this.next = this.base;
  }

  /** The id of a next hop written as `name` (an address or any other word), added if new. */
  intern(name: string, iface?: string): number {
    const key = iface === undefined ? name : `${name}@${iface}`;
    const known = this.byKey.get(key);
    if (known !== undefined) return known;
    const addr = addressOf(name);
    return this.add(key, {
      name,
      ...(addr === undefined ? {} : { address: addr }),
      ...(iface === undefined ? {} : { interface: iface }),
    });
  }

  /** The id of the ECMP group of these members (order does not matter), added if new. */
  group(members: readonly number[]): number {
    const sorted = [...new Set(members)].sort((a, b) => a - b);
    if (sorted.length === 1) return sorted[0];
    const key = groupKey(sorted);
    return this.byKey.get(key) ?? this.add(key, { name: sorted.map((m) => this.name(m)).join(","), members: sorted });
  }

  private add(key: string, entry: Omit<NextHop, "id">): number {
    while (this.entries.has(this.next)) this.next++;
    const id = this.next;
    if (id >= this.limit) throw new NextHopTableFullError(this.base, this.limit - this.base);
    this.next++;
    this.define({ id, ...entry }, key);
    return id;
  }

  /**
   * Takes an entry defined by another table (a server's, a peer's). Returns false if it was
   * already known as exactly that; a different definition under the same id replaces the
   * old one (its owner restarted and reused the id) and is logged again.
   */
  adopt(entry: { id: number; name: string; interface?: string; members?: readonly number[] }): boolean {
    const old = this.entries.get(entry.id);
    const iface = entry.interface || undefined;
    const members = entry.members && entry.members.length > 0 ? [...entry.members] : undefined;
    if (old && old.name === entry.name && old.interface === iface && sameMembers(old.members, members)) return false;
    if (old) this.byKey.delete(keyOf(old));
    const addr = members ? undefined : addressOf(entry.name);
    const hop: NextHop = {
      id: entry.id,
      name: entry.name,
      ...(addr === undefined ? {} : { address: addr }),
      ...(iface === undefined ? {} : { interface: iface }),
      ...(members === undefined ? {} : { members }),
    };
    this.define(hop, keyOf(hop));
    return true;
  }

  private define(hop: NextHop, key: string): void {
    const old = this.entries.get(hop.id);
    if (old) this.addHash(old, -1);
    this.addHash(hop, 1);
    this.entries.set(hop.id, hop);
    // Only ids in our own block are ours to hand out again by name.
    if (hop.id >= this.base && hop.id < this.limit) this.byKey.set(key, hop.id);
    this.log.push(hop.id);
  }

  get(id: number): NextHop | undefined {
    return this.entries.get(id);
  }

  /** How id was written; "-" for none. */
  name(id: number | undefined): string {
    return id === undefined ? "-" : (this.entries.get(id)?.name ?? `#${id}`);
  }

  /** How many ids are defined. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * An order-independent 64-bit digest of the entries (id, name, interface, members): two
   * tables with the same digest define the same ids the same way, so a server need not
   * send a client that already knows them its entries again.
   */
  get digest(): bigint {
    return (BigInt(this.sumHi) << 32n) | BigInt(this.sumLo);
  }

  private addHash(hop: NextHop, sign: 1 | -1): void {
    const text = `${hop.id}\u0000${hop.name}\u0000${hop.interface ?? ""}\u0000${(hop.members ?? []).join(",")}`;
    const lo = fnv1a(text, 0x811c9dc5);
    const hi = fnv1a(text, 0x050c5d1f);
    const sumLo = this.sumLo + sign * lo;
    const carry = sumLo > 0xffffffff ? 1 : sumLo < 0 ? -1 : 0;
    this.sumLo = sumLo >>> 0;
    this.sumHi = (this.sumHi + sign * hi + carry) >>> 0;
  }

  /** A position in the log: what `since` counts from. */
  get version(): number {
    return this.log.length;
  }

  /** The entries defined or redefined after log position `version`, oldest first. */
  *since(version: number): Generator<NextHop> {
    for (let i = version; i < this.log.length; i++) {
      const hop = this.entries.get(this.log[i]);
      if (hop) yield hop;
    }
  }
}

/** 32-bit FNV-1a of a string's UTF-16 units, from `seed`, finished with a murmur mix. */
function fnv1a(text: string, seed: number): number {
  let h = seed;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

function groupKey(sorted: readonly number[]): string {
  return `ecmp:${sorted.join(",")}`;
}

function keyOf(h: NextHop): string {
  if (h.members) return groupKey(h.members);
  return h.interface === undefined ? h.name : `${h.name}@${h.interface}`;
}

function sameMembers(a: readonly number[] | undefined, b: readonly number[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((m, i) => m === b[i]);
}

/**
 * The address a next hop's name is, if it is one. Names that cannot be one (no digit, or a
 * letter past f: "upstream", "AS13335") are not parsed: a table of 84k named next hops
 * would otherwise build 84k ParseErrors, stack traces and all, for nothing.
 */
function addressOf(name: string): Addr | undefined {
  if (!/^[0-9a-fA-F.:]+$/.test(name)) return undefined;
  const addr = Addr.parse(name);
  return addr instanceof ParseError ? undefined : addr;
}
