// The RIB of a route processor: one table per route source (its own protocols and those
// its peer route processors run), and the FIB derived from them incrementally.
//
// Every source table is a WASM FIB of its own (prefix → next-hop id), so a source's digest,
// its diff against a fresh copy and its snapshot to a peer cost what they cost for the FIB.
// Best path per prefix: the lowest administrative distance, then the lowest metric, then
// the source name, so every route processor picks the same. A change in a source touches
// only its prefixes; the FIB changes that result come back sorted, ready for the wire.
// Everything goes through change records in batches: the best path of a batch of prefixes
// is one exact-match pass per source table and one over the FIB, all in WASM.

import { encodeChanges, recordWords, sortRecords, NO_ROUTE, type Change, type Fib } from "../fib.ts";
import type { Family } from "../netip.ts";
import type { SourceEntry } from "../wire/messages.ts";

/** A route source as the RIB ranks it (the same description peers exchange). */
export type SourceInfo = SourceEntry;

/** FIB changes per family, as sorted change records (see encodeChanges). */
export interface FibDelta {
  4: Uint32Array;
  6: Uint32Array;
}

interface Source {
  info: SourceInfo;
  table: Fib;
}

export class Rib {
  readonly fib: Fib;
  private readonly sources = new Map<number, Source>();
  /** Sources in order of preference. */
  private ranked: Source[] = [];

  /** `fib`: the forwarding table the sources' best routes make; `newTable` makes a source's own table. */
  constructor(fib: Fib, private readonly newTable: () => Fib) {
    this.fib = fib;
  }

  /** Adds a source (or updates its description; a new distance or metric re-ranks its routes). */
  addSource(info: SourceInfo): FibDelta {
    const known = this.sources.get(info.id);
    if (known && known.info.distance === info.distance && known.info.metric === info.metric) {
      known.info = info;
      return emptyDelta();
    }
    const source = known ?? { info, table: this.newTable() };
    source.info = info;
    this.sources.set(info.id, source);
    this.ranked = [...this.sources.values()].sort((a, b) =>
      a.info.distance - b.info.distance || a.info.metric - b.info.metric || (a.info.name < b.info.name ? -1 : a.info.name > b.info.name ? 1 : a.info.id - b.info.id));
    if (!known) return emptyDelta();
    // Re-ranked: every prefix of the source may have a new best path.
    const delta = emptyDelta();
    for (const family of [4, 6] as const) delta[family] = this.reselect(family, source.table.records(family));
    return delta;
  }

  info(id: number): SourceInfo | undefined {
    return this.sources.get(id)?.info;
  }

  get sourceInfos(): SourceInfo[] {
    return this.ranked.map((s) => s.info);
  }

  /** The table of one source (for snapshots to peers and digests). */
  table(id: number): Fib | undefined {
    return this.sources.get(id)?.table;
  }

  /**
   * Applies a source's changes (a prefix without next hop is withdrawn; a later change of
   * the same prefix wins). Returns the FIB changes they cause and the source's own changes
   * as sorted records (what its peers are sent).
   */
  update(id: number, changes: readonly Change[]): { delta: FibDelta; applied: FibDelta } {
    const records = emptyDelta();
    for (const family of [4, 6] as const) records[family] = encodeChanges(family, changes.filter((c) => c.prefix.family === family));
    return this.change(id, records);
  }

  /** As update, for change records per family in the order made (the last change of a prefix wins). */
  change(id: number, records: FibDelta): { delta: FibDelta; applied: FibDelta } {
    const delta = emptyDelta();
    const applied = emptyDelta();
    for (const family of [4, 6] as const) {
      if (records[family].length === 0) continue;
      applied[family] = sortRecords(family, records[family]);
      delta[family] = this.updateRecords(id, family, applied[family]);
    }
    return { delta, applied };
  }

  /** Applies a source's change records (sorted, one per prefix); returns the FIB changes. */
  updateRecords(id: number, family: Family, records: Uint32Array): Uint32Array {
    const source = this.sources.get(id);
    if (!source) throw new RangeError(`no source ${id}`);
    // Removes of routes the source does not have fail harmlessly (status not-found).
    const taken = source.table.applyRecords(family, records);
    // The only source holding routes of the family, and every change taken: each record is
    // now its prefix's best path (a peer's first snapshot, a lone protocol's load).
    const alone = taken === records.length / recordWords(family) && this.ranked.every((s) => s === source || s.table.count(family) === 0);
    return this.reselect(family, records, alone);
  }

  /**
   * Makes one family of a source exactly `records` (sorted change records, as a snapshot
   * decodes), changing only the difference. The work comes in pieces, each yielding the
   * FIB changes it caused, so a caller can let other work run between them; `differences`
   * says how many entries of the source differed.
   */
  *replace(id: number, family: Family, records: Uint32Array, piece = 16384): Generator<Uint32Array, number> {
    const source = this.sources.get(id);
    if (!source) throw new RangeError(`no source ${id}`);
    const words = family === 4 ? 3 : 6;
    // Into an empty table (a peer's first snapshot) the records are their own difference.
    const diff = source.table.count(family) === 0 ? { changes: records } : source.table.diff(family, source.table.records(family), records);
    for (let at = 0; at < diff.changes.length; at += piece * words) {
      yield this.updateRecords(id, family, diff.changes.subarray(at, at + piece * words));
    }
    return diff.changes.length / words;
  }

  /**
   * Brings the FIB entries of the records' prefixes (sorted) to their best paths; returns
   * the FIB changes, as records. `alone`: the records are their prefixes' best paths as
   * they stand (their source alone holds routes of the family), with no source to ask.
   */
  private reselect(family: Family, records: Uint32Array, alone = false): Uint32Array {
    const words = recordWords(family);
    const n = records.length / words;
    const best = new Uint32Array(n).fill(NO_ROUTE);
    if (alone) {
      for (let i = 0; i < n; i++) if ((records[i * words] & 255) === 1) best[i] = records[i * words + words - 1];
    } else {
      let unresolved = n;
      for (const s of this.ranked) {
        if (unresolved === 0) break;
        const held = s.table.getRecords(family, records);
        for (let i = 0; i < n; i++) {
          if (best[i] === NO_ROUTE && held[i] !== NO_ROUTE) {
            best[i] = held[i];
            unresolved--;
          }
        }
      }
    }
    // An empty FIB holds none of them: no lookups to make.
    const current = this.fib.count(family) === 0 ? new Uint32Array(n).fill(NO_ROUTE) : this.fib.getRecords(family, records);
    let changed = 0;
    for (let i = 0; i < n; i++) if (best[i] !== current[i]) changed++;
    const out = new Uint32Array(changed * words);
    for (let i = 0, w = 0; i < n; i++) {
      if (best[i] === current[i]) continue;
      for (let k = 1; k < words - 1; k++) out[w + k] = records[i * words + k];
      out[w] = (best[i] === NO_ROUTE ? 2 : 1) | (records[i * words] & 0xff00);
      out[w + words - 1] = best[i] === NO_ROUTE ? 0 : best[i];
      w += words;
    }
    this.fib.applyRecords(family, out);
    return out;
  }

  /** Digest of every source table and the FIB: equal on two route processors that agree. */
  digests(): { fib: Record<Family, string>; sources: Record<string, string> } {
    const hex = (d: bigint) => d.toString(16).padStart(16, "0");
    const sources: Record<string, string> = {};
    for (const s of this.ranked) sources[s.info.id] = `${hex(s.table.digest(4))}:${hex(s.table.digest(6))}`;
    return { fib: { 4: hex(this.fib.digest(4)), 6: hex(this.fib.digest(6)) }, sources };
  }
}

export function emptyDelta(): FibDelta {
  return { 4: new Uint32Array(0), 6: new Uint32Array(0) };
}

/** Changes of one family as a delta. */
export function deltaOf(family: Family, records: Uint32Array): FibDelta {
  const delta = emptyDelta();
  delta[family] = records;
  return delta;
}
