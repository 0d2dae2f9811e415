// A range index: one family's routes, walked once, in prefix order, with the running sum of
// their short hashes. The short digest of any range of addresses (the low 32 bits of its
// digest, assembly/ranges.ts) and its routes then come from a binary search and a scan of
// the routes in it, with no walk of the table per range: a digest resync asks about
// thousands of ranges of one table.
//
//   records  ┌ route 0 ┬ route 1 ┬ … ┬ route n−1 ┐   change records (fib.ts), prefix order
//   sums     ┌ 0 ┬ h0 ┬ h0 + h1 ┬ … ┬ h0 + … + hn−1 ┐   mod 2^32, n + 1 of them
//
// A route lies in the range its address lies in, however far it reaches (as in
// assembly/ranges.ts), so the routes of a range are consecutive in prefix order, and the
// short digest of routes [i, j) is sums[j] − sums[i].
//
// An index is a picture of the table when it was built; it does not follow later changes.

import { recordPrefix, recordWords, type Fib } from "./fib.ts";
import { Prefix, type Family } from "./netip.ts";

export class RangeIndex {
  private constructor(
    readonly family: Family,
    /** The routes, as change records in prefix order. */
    readonly records: Uint32Array,
    private readonly sums: Uint32Array,
  ) {}

  /** The index of a table's routes of `family`, as it holds them now. */
  static ofTable(fib: Fib, family: Family): RangeIndex {
    const { records, hashes } = fib.recordsAndHashes(family);
    return RangeIndex.sum(family, records, hashes);
  }

  /** The index of `records`: change records of `family` in prefix order (a subset of a table, say). */
  static of(fib: Fib, family: Family, records: Uint32Array): RangeIndex {
    return RangeIndex.sum(family, records, fib.shortHashes(family, records));
  }

  private static sum(family: Family, records: Uint32Array, hashes: Uint32Array): RangeIndex {
    const sums = new Uint32Array(hashes.length + 1);
    for (let i = 0, s = 0; i < hashes.length; i++) sums[i + 1] = s = (s + hashes[i]) | 0;
    return new RangeIndex(family, records, sums);
  }

  /** Routes indexed. */
  get size(): number {
    return this.sums.length - 1;
  }

  /**
   * Where the pieces of `prefix` split `depth` levels down start: 2^depth + 1 route
   * positions, piece i holding routes [bounds[i], bounds[i + 1]). The split must fit the
   * address (prefix.len + depth ≤ its width).
   */
  split(prefix: Prefix, depth: number): Uint32Array {
    const pieces = 2 ** depth;
    const bounds = new Uint32Array(pieces + 1);
    const words = recordWords(this.family);
    const records = this.records;
    const start = this.first(prefix, false);
    const end = this.first(prefix, true);
    bounds[0] = start;
    let piece = 0;
    if (depth > 0) {
      for (let i = start, w = start * words; i < end; i++, w += words) {
        const p = addressBits(this.family, records, w, prefix.len, depth);
        while (piece < p) bounds[++piece] = i;
      }
    }
    while (piece < pieces) bounds[++piece] = end;
    return bounds;
  }

  /** The short digest of routes [from, to): 0 when there are none. */
  digest(from: number, to: number): number {
    return (this.sums[to] - this.sums[from]) >>> 0;
  }

  /**
   * The longest prefix holding the addresses of routes [from, to) (from < to): the address
   * of the only one, at full length, when they all start at one address.
   */
  sharedPrefix(from: number, to: number): Prefix {
    const words = recordWords(this.family);
    const a = from * words;
    const b = (to - 1) * words;
    // In prefix order, the first and the last address share what all of them share.
    let len = 0;
    for (let k = 0; k < words - 2; k++) {
      const x = (this.records[a + 1 + k] ^ this.records[b + 1 + k]) >>> 0;
      len += Math.clz32(x);
      if (x !== 0) break;
    }
    return Prefix.from(recordPrefix(this.family, this.records, a).addr, len) as Prefix;
  }

  /** Routes [from, to) as change records (a view, not a copy). */
  routes(from: number, to: number): Uint32Array {
    const words = recordWords(this.family);
    return this.records.subarray(from * words, to * words);
  }

  /** The position of the first route whose address is not before `prefix` (past: not in it either). */
  private first(prefix: Prefix, past: boolean): number {
    const words = recordWords(this.family);
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareToPrefix(this.family, this.records, mid * words, prefix);
      if (c < 0 || (past && c === 0)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Bits [o, o + n) of the address of the record at word w, n ≤ 12. */
export function addressBits(family: Family, records: Uint32Array, w: number, o: number, n: number): number {
  if (n === 0) return 0;
  const k = o >>> 5;
  const b = o & 31;
  const hi = records[w + 1 + k];
  const lo = family === 6 && k < 3 ? records[w + 2 + k] : 0;
  const window = b === 0 ? hi : ((hi << b) | (lo >>> (32 - b))) >>> 0;
  return window >>> (32 - n);
}

/** Whether the address of the record at word w lies in `prefix`. */
export function startsIn(family: Family, records: Uint32Array, w: number, prefix: Prefix): boolean {
  return compareToPrefix(family, records, w, prefix) === 0;
}

/** Where the address of the record at word w lies against `prefix`: −1 before it, 0 in it, 1 after it. */
function compareToPrefix(family: Family, records: Uint32Array, w: number, prefix: Prefix): number {
  for (let k = 0, left = prefix.len; k < (family === 4 ? 1 : 4); k++, left -= 32) {
    const mask = left >= 32 ? 0xffffffff : left <= 0 ? 0 : ~(0xffffffff >>> left) >>> 0;
    const a = (records[w + 1 + k] & mask) >>> 0;
    const p = prefix.addr.word(k);
    if (a !== p) return a < p ? -1 : 1;
  }
  return 0;
}
