// Route sources of a route processor, as the topology names them:
//
//   { protocol: ospf, distance: 110, routes: igp.txt }        the route text file
//   { protocol: bgp, distance: 20, mrt: rib.mrt }             an MRT TABLE_DUMP_V2 file
//   { protocol: bgp, generate: { v4: 1000000, v6: 200000, seed: 1 } }   a synthetic table
//   { protocol: kernel, distance: 0, fpm: { port: 2620 } }     FRRouting zebra over FPM
//
// A next hop written "a,b" is the ECMP group of a and b. Every source starts with its whole
// table (FPM: empty until zebra connects); `churn` flaps next hops of a loaded table at a
// given rate, seeded, for scenarios and benchmarks.

import type { Change } from "../fib.ts";
import { generateRoutes } from "../generate.ts";
import type { NextHopTable } from "../nexthops.ts";
import { Random } from "../random.ts";
import type { Route } from "../routefile.ts";
import { readRoutesOrFail } from "../fib-from-file.ts";
import { readMrtRoutes } from "../sources/mrt.ts";

export interface SourceConfig {
  protocol: string;
  /** Administrative distance (default 20). */
  distance?: number;
  /** Compared when distances tie (default 0). */
  metric?: number;
  routes?: string;
  mrt?: string;
  generate?: { v4?: number; v6?: number; seed?: number };
  fpm?: { port: number; host?: string };
}

/** The source's name: its protocol, numbered when a node runs two of the same. */
export function sourceName(sources: readonly SourceConfig[], i: number): string {
  const same = sources.filter((s) => s.protocol === sources[i].protocol);
  return same.length === 1 ? sources[i].protocol : `${sources[i].protocol}${sources.slice(0, i + 1).filter((s) => s.protocol === sources[i].protocol).length}`;
}

/** The routes a file or generator source starts with (FPM sources start empty). */
export function initialRoutes(source: SourceConfig): Route[] {
  if (source.routes !== undefined) return readRoutesOrFail(source.routes);
  if (source.mrt !== undefined) return readMrtRoutes(source.mrt);
  if (source.generate !== undefined) {
    const { v4 = 0, v6 = 0, seed = 1 } = source.generate;
    return [
      ...(v4 > 0 ? generateRoutes({ family: 4, routes: v4, seed }) : []),
      ...(v6 > 0 ? generateRoutes({ family: 6, routes: v6, seed }) : []),
    ];
  }
  return [];
}

/** Routes as changes with next-hop ids; "a,b" becomes an ECMP group. */
export function toChanges(routes: readonly Route[], nexthops: NextHopTable): Change[] {
  return routes.map((r) => ({ prefix: r.prefix, nh: nexthopId(r.nexthop, nexthops) }));
}

export function nexthopId(name: string, nexthops: NextHopTable): number {
  if (!name.includes(",")) return nexthops.intern(name);
  return nexthops.group(name.split(",").map((n) => nexthops.intern(n)));
}

/**
 * Churn over a table: each change moves a random route of `routes` to another next hop of
 * the table (with a single next hop: withdraws it, or puts it back), so every change
 * reaches every card that holds the route.
 */
export class Churn {
  private readonly rnd: Random;
  private readonly pool: number[];
  private readonly current: (number | undefined)[];

  constructor(private readonly routes: readonly Change[], seed: number) {
    this.rnd = new Random(seed);
    this.pool = [...new Set(routes.map((r) => r.nh!))];
    this.current = routes.map((r) => r.nh);
  }

  /** The next n changes. */
  next(n: number): Change[] {
    const out: Change[] = [];
    for (let i = 0; i < n && this.routes.length > 0; i++) {
      const k = this.rnd.below(this.routes.length);
      const now = this.current[k];
      let nh: number | undefined;
      if (this.pool.length < 2) nh = now === undefined ? this.routes[k].nh : undefined;
      else {
        nh = this.pool[this.rnd.below(this.pool.length - 1)];
        if (nh === now) nh = this.pool[this.pool.length - 1];
      }
      this.current[k] = nh;
      out.push(nh === undefined ? { prefix: this.routes[k].prefix } : { prefix: this.routes[k].prefix, nh });
    }
    return out;
  }
}
