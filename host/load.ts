// Loading routes into a FIB: next hops interned into the next-hop table, changes applied in
// batches through linear memory.

import { Fib, Status } from "./fib.ts";
import { NextHopTable } from "./nexthops.ts";
import type { Route } from "./routefile.ts";

export interface LoadResult {
  loaded: number;
  /** Routes refused because the card's memory could not hold them. */
  full: number;
  invalid: number;
}

/** Sets every route; routes the FIB refuses are counted, the rest stay loaded. */
export function loadRoutes(fib: Fib, routes: readonly Route[], nexthops: NextHopTable): LoadResult {
  const result: LoadResult = { loaded: 0, full: 0, invalid: 0 };
  const BATCH = 65536;
  for (let i = 0; i < routes.length; i += BATCH) {
    const part = routes.slice(i, i + BATCH);
    const statuses = fib.apply(part.map((r) => ({ prefix: r.prefix, nh: nexthops.intern(r.nexthop) })));
    for (const s of statuses) count(result, s);
  }
  return result;
}

function count(r: LoadResult, s: Status): void {
  if (s === "ok") r.loaded++;
  else if (s === "full") r.full++;
  else r.invalid++;
}
