// The piece of the FIB a client asks for: address families and prefix ranges (VRFs are
// named in the protocol; this chassis routes in VRF 0 only, and a subset naming another is
// refused at configuration).
//
// A route belongs to a subset when its family is asked for and, if ranges are given, it
// lies inside a range or covers one: a covering route (the default, say) is what answers
// lookups in the range where nothing more specific does, so a card serving the range
// needs it. Ranges nested in other ranges add nothing and are dropped.

import { recordPrefix, selectRecords, type Fib } from "../fib.ts";
import { routeHash } from "../digest.ts";
import { Prefix, type Family } from "../netip.ts";
import type { Subset } from "../wire/messages.ts";

const M64 = (1n << 64n) - 1n;

/** The whole table of both families. */
export const EVERYTHING: Subset = { families: [4, 6], vrfs: [0], prefixes: [] };

/** The subset with families sorted and unique, and no range inside another. */
export function normalizeSubset(s: Subset): Subset {
  const families = [...new Set(s.families)].sort() as Family[];
  const prefixes = s.prefixes
    .filter((p) => families.includes(p.family))
    .filter((p, i, all) => !all.some((q, j) => j !== i && q.overlaps(p) && (q.len < p.len || (q.len === p.len && j < i))))
    .sort((a, b) => a.compare(b));
  return { families, vrfs: [...new Set(s.vrfs)].sort(), prefixes };
}

/** Ranges of the subset in one family; undefined: the whole family. */
function rangesOf(s: Subset, family: Family): Prefix[] | undefined {
  const own = s.prefixes.filter((p) => p.family === family);
  return own.length === 0 ? undefined : own;
}

/** Whether the subset holds the route for `prefix`. */
export function subsetHolds(s: Subset, prefix: Prefix): boolean {
  if (!s.families.includes(prefix.family)) return false;
  const ranges = rangesOf(s, prefix.family);
  return ranges === undefined || ranges.some((r) => r.overlaps(prefix));
}

/** Whether the subset is whole families (no filtering within a family). */
export function wholeFamily(s: Subset, family: Family): boolean {
  return s.families.includes(family) && rangesOf(s, family) === undefined;
}

/** The change records (sorted or not) the subset holds, in their order. */
export function filterRecords(s: Subset, family: Family, records: Uint32Array): Uint32Array {
  if (!s.families.includes(family)) return records.subarray(0, 0);
  const ranges = rangesOf(s, family);
  if (ranges === undefined) return records;
  return selectRecords(family, records, (w) => {
    const p = recordPrefix(family, records, w);
    return ranges.some((r) => r.overlaps(p));
  });
}

/** The digest of the part of `fib` the subset holds, per family asked for. */
export function subsetDigest(fib: Fib, s: Subset, family: Family): bigint {
  if (!s.families.includes(family)) return 0n;
  const ranges = rangesOf(s, family);
  if (ranges === undefined) return fib.digest(family);
  let d = 0n;
  const covering = new Map<string, bigint>();
  for (const r of ranges) {
    d += fib.rangeDigests(r, 0, r.len).digests[0];
    for (let len = 0; len < r.len; len++) {
      const p = Prefix.from(r.addr, len) as Prefix;
      const nh = fib.get(p);
      if (nh !== undefined) covering.set(p.toString(), routeHash(p, nh));
    }
  }
  for (const h of covering.values()) d += h;
  return d & M64;
}

/** The routes of `fib` in the subset, as sorted change records. */
export function subsetRecords(fib: Fib, s: Subset, family: Family): Uint32Array {
  return filterRecords(s, family, fib.records(family));
}
