// The golden table: a plain longest-prefix match that is obviously right, the oracle every
// fast path is tested against. Routes are kept per prefix length in maps keyed by the
// masked prefix; a lookup masks the address to each length present, longest first, and
// takes the first hit.

import { Addr, Family, Prefix, wordMask } from "./netip.ts";

/** The masked prefix as a map key: a number while it fits in 53 bits, else a string. */
function key(a: Addr, len: number): number | string {
  const m0 = (a.w0 & wordMask(len, 0)) >>> 0;
  if (len <= 32) return m0;
  const m1 = (a.w1 & wordMask(len, 1)) >>> 0;
  if (len <= 53) return m0 * 2 ** 21 + (m1 >>> 11);
  return `${m0}.${m1}.${(a.w2 & wordMask(len, 2)) >>> 0}.${(a.w3 & wordMask(len, 3)) >>> 0}`;
}

interface Entry {
  prefix: Prefix;
  nh: number;
}

export class ReferenceTable {
  /** Per family (4, 6), per prefix length, routes by masked prefix. */
  private readonly byLen = new Map<Family, Map<number, Map<number | string, Entry>>>([[4, new Map()], [6, new Map()]]);
  private readonly lensDesc = new Map<Family, number[]>([[4, []], [6, []]]);

  set(p: Prefix, nh: number): void {
    const lens = this.byLen.get(p.family)!;
    let m = lens.get(p.len);
    if (!m) {
      lens.set(p.len, (m = new Map()));
      this.lensDesc.set(p.family, [...lens.keys()].sort((a, b) => b - a));
    }
    m.set(key(p.addr, p.len), { prefix: p, nh });
  }

  /** Removes a route; false if it was not there. */
  remove(p: Prefix): boolean {
    return this.byLen.get(p.family)!.get(p.len)?.delete(key(p.addr, p.len)) ?? false;
  }

  get(p: Prefix): number | undefined {
    return this.byLen.get(p.family)!.get(p.len)?.get(key(p.addr, p.len))?.nh;
  }

  lookup(a: Addr): number | undefined {
    const lens = this.byLen.get(a.family)!;
    for (const len of this.lensDesc.get(a.family)!) {
      const hit = lens.get(len)!.get(key(a, len));
      if (hit) return hit.nh;
    }
    return undefined;
  }

  count(family: Family): number {
    let n = 0;
    for (const m of this.byLen.get(family)!.values()) n += m.size;
    return n;
  }

  /** Every route of a family, in prefix order. */
  routes(family: Family): [Prefix, number][] {
    const out: [Prefix, number][] = [];
    for (const m of this.byLen.get(family)!.values()) for (const e of m.values()) out.push([e.prefix, e.nh]);
    return out.sort((a, b) => a[0].compare(b[0]));
  }
}
