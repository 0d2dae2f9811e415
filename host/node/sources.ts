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

import { encodeChanges, recordWords, sortRecords } from "../fib.ts";
import { generateTable, type GeneratedTable } from "../generate.ts";
import type { Family } from "../netip.ts";
import type { NextHopTable } from "../nexthops.ts";
import { Random } from "../random.ts";
import type { Route } from "../routefile.ts";
import { readRoutesOrFail } from "../fib-from-file.ts";
import { readMrtRoutes } from "../sources/mrt.ts";
import type { FibDelta } from "./rib.ts";

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

/**
 * The table a file or generator source starts with, as sorted change records per family
 * with next-hop ids (FPM sources start empty). A prefix listed twice keeps its last line.
 */
export function initialRecords(source: SourceConfig, nexthops: NextHopTable): FibDelta {
  if (source.generate !== undefined) {
    const { v4 = 0, v6 = 0, seed = 1 } = source.generate;
    return {
      4: tableRecords(generateTable({ family: 4, routes: v4, seed }), nexthops),
      6: tableRecords(generateTable({ family: 6, routes: v6, seed }), nexthops),
    };
  }
  const routes = source.routes !== undefined ? readRoutesOrFail(source.routes) : source.mrt !== undefined ? readMrtRoutes(source.mrt) : [];
  return { 4: routeRecords(4, routes, nexthops), 6: routeRecords(6, routes, nexthops) };
}

function routeRecords(family: Family, routes: readonly Route[], nexthops: NextHopTable): Uint32Array {
  const own = routes.filter((r) => r.prefix.family === family);
  return sortRecords(family, encodeChanges(family, own.map((r) => ({ prefix: r.prefix, nh: nexthopId(r.nexthop, nexthops) }))));
}

function tableRecords(t: GeneratedTable, nexthops: NextHopTable): Uint32Array {
  const words = recordWords(t.family);
  const ids = t.pool.map((name) => nexthopId(name, nexthops));
  const out = new Uint32Array(t.count * words);
  for (let i = 0, w = 0; i < t.count; i++, w += words) {
    out[w] = 1 | (t.lens[i] << 8);
    for (let k = 1; k < words - 1; k++) out[w + k] = t.words[4 * i + k - 1];
    out[w + words - 1] = ids[t.nexthops[i]];
  }
  return sortRecords(t.family, out);
}

export function nexthopId(name: string, nexthops: NextHopTable): number {
  if (!name.includes(",")) return nexthops.intern(name);
  return nexthops.group(name.split(",").map((n) => nexthops.intern(n)));
}

/**
 * Churn over a table (sorted change records per family, as initialRecords gives): each
 * change moves a random route to another next hop of the table (with a single next hop:
 * withdraws it, or puts it back), so every change reaches every card that holds the route.
 */
export class Churn {
  private readonly rnd: Random;
  private readonly pool: number[];
  /** Each route's next hop now, IPv4 routes first (NO_NEXTHOP: withdrawn). */
  private readonly current: Int32Array;
  private readonly n4: number;

  constructor(private readonly table: FibDelta, seed: number) {
    this.rnd = new Random(seed);
    this.n4 = table[4].length / 3;
    const n = this.n4 + table[6].length / 6;
    this.current = new Int32Array(n);
    for (let k = 0; k < n; k++) this.current[k] = this.original(k);
    this.pool = [...new Set(this.current)];
  }

  /** The next n changes, per family, in the order made. */
  next(n: number): FibDelta {
    const total = this.current.length;
    const picks = { 4: [] as number[], 6: [] as number[] };
    for (let i = 0; i < n && total > 0; i++) {
      const k = this.rnd.below(total);
      const now = this.current[k];
      let nh: number;
      if (this.pool.length < 2) nh = now === NO_NEXTHOP ? this.original(k) : NO_NEXTHOP;
      else {
        nh = this.pool[this.rnd.below(this.pool.length - 1)];
        if (nh === now) nh = this.pool[this.pool.length - 1];
      }
      this.current[k] = nh;
      picks[k < this.n4 ? 4 : 6].push(k);
    }
    const out = { 4: new Uint32Array(picks[4].length * 3), 6: new Uint32Array(picks[6].length * 6) };
    for (const family of [4, 6] as const) {
      const words = recordWords(family);
      const from = this.table[family];
      picks[family].forEach((k, i) => {
        const at = (family === 4 ? k : k - this.n4) * words;
        out[family].set(from.subarray(at, at + words), i * words);
        const nh = this.current[k];
        out[family][i * words] = (nh === NO_NEXTHOP ? 2 : 1) | (from[at] & 0xff00);
        out[family][i * words + words - 1] = nh === NO_NEXTHOP ? 0 : nh;
      });
    }
    return out;
  }

  private original(k: number): number {
    return k < this.n4 ? this.table[4][k * 3 + 2] : this.table[6][(k - this.n4) * 6 + 5];
  }
}

const NO_NEXTHOP = -1;
