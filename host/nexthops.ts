// The next-hop table that lives beside the FIB: the FIB stores 24-bit ids, this table says
// what an id means (a gateway address, an interface, or an ECMP group of other ids) and
// how the user wrote it.

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
  constructor() {
    super(`next-hop table full: more than ${MAX_NEXTHOP + 1} distinct next hops`);
  }
}

export class NextHopTable {
  private readonly byName = new Map<string, number>();
  private readonly entries: NextHop[] = [];

  /** The id of a next hop written as `name` (an address or any other word), added if new. */
  intern(name: string, iface?: string): number {
    const key = iface === undefined ? name : `${name}@${iface}`;
    const known = this.byName.get(key);
    if (known !== undefined) return known;
    const addr = Addr.parse(name);
    return this.add(key, {
      name,
      ...(addr instanceof ParseError ? {} : { address: addr }),
      ...(iface === undefined ? {} : { interface: iface }),
    });
  }

  /** The id of the ECMP group of these members (order does not matter), added if new. */
  group(members: readonly number[]): number {
    const sorted = [...new Set(members)].sort((a, b) => a - b);
    if (sorted.length === 1) return sorted[0];
    const name = sorted.map((m) => this.entries[m]?.name ?? `#${m}`).join(",");
    const key = `ecmp:${sorted.join(",")}`;
    return this.byName.get(key) ?? this.add(key, { name, members: sorted });
  }

  private add(key: string, entry: Omit<NextHop, "id">): number {
    const id = this.entries.length;
    if (id > MAX_NEXTHOP) throw new NextHopTableFullError();
    this.entries.push({ id, ...entry });
    this.byName.set(key, id);
    return id;
  }

  get(id: number): NextHop | undefined {
    return this.entries[id];
  }

  /** How id was written; "-" for none. */
  name(id: number | undefined): string {
    return id === undefined ? "-" : (this.entries[id]?.name ?? `#${id}`);
  }

  get size(): number {
    return this.entries.length;
  }
}
