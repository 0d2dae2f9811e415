// The golden table: a plain longest-prefix match that is obviously right, the oracle every
// fast path is tested against. Routes are kept per prefix length in maps; a lookup masks
// the address to each length present, longest first, and takes the first hit.

import { Addr, Family, Prefix, wordMask } from "./netip.ts";

function key(a: Addr, len: number): string {
  return `${(a.w0 & wordMask(len, 0)) >>> 0}.${(a.w1 & wordMask(len, 1)) >>> 0}.${(a.w2 & wordMask(len, 2)) >>> 0}.${(a.w3 & wordMask(len, 3)) >>> 0}`;
}

export class ReferenceTable {
  private readonly byLen: Map<number, Map<string, number>>[] = [new Map(), new Map()];
  private lensDesc: number[][] = [[], []];

  private lens(family: Family): Map<number, Map<string, number>> {
    return this.byLen[family === 4 ? 0 : 1];
  }

  set(p: Prefix, nh: number): void {
    const lens = this.lens(p.family);
    let m = lens.get(p.len);
    if (!m) {
      lens.set(p.len, (m = new Map()));
      this.lensDesc[p.family === 4 ? 0 : 1] = [...lens.keys()].sort((a, b) => b - a);
    }
    m.set(key(p.addr, p.len), nh);
  }

  /** Removes a route; false if it was not there. */
  remove(p: Prefix): boolean {
    return this.lens(p.family).get(p.len)?.delete(key(p.addr, p.len)) ?? false;
  }

  get(p: Prefix): number | undefined {
    return this.lens(p.family).get(p.len)?.get(key(p.addr, p.len));
  }

  lookup(a: Addr): number | undefined {
    const lens = this.lens(a.family);
    for (const len of this.lensDesc[a.family === 4 ? 0 : 1]) {
      const nh = lens.get(len)!.get(key(a, len));
      if (nh !== undefined) return nh;
    }
    return undefined;
  }

  count(family: Family): number {
    let n = 0;
    for (const m of this.lens(family).values()) n += m.size;
    return n;
  }

  /** Every route of a family, in prefix order. */
  routes(family: Family): [Prefix, number][] {
    const out: [Prefix, number][] = [];
    for (const [len, m] of this.lens(family)) {
      for (const [k, nh] of m) {
        const w = k.split(".").map(Number);
        const addr = family === 4 ? Addr.v4(w[0]) : Addr.v6(w[0], w[1], w[2], w[3]);
        out.push([Prefix.from(addr, len) as Prefix, nh]);
      }
    }
    return out.sort((a, b) => a[0].compare(b[0]));
  }
}
