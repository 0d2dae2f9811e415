// Table diff: two tables as change records in prefix order (a walk, a decoded snapshot),
// old and new, merged in one pass into the changes that turn old into new: a set for a
// prefix that is new or whose next hop changed, a remove for a prefix that is gone. The
// output is itself in prefix order, ready for apply() or for the wire.

import { OP_REMOVE, OP_SET, recordSize, recordLen, recordHi, recordLo, recordNh, writeRecord } from "./records";

let adds: u32 = 0;
let changes: u32 = 0;
let removes: u32 = 0;

@inline function compareKeys(ah: u64, al: u64, alen: u32, bh: u64, bl: u64, blen: u32): i32 {
  if (ah != bh) return ah < bh ? -1 : 1;
  if (al != bl) return al < bl ? -1 : 1;
  return <i32>alen - <i32>blen;
}

/**
 * Writes at `out` the changes from the na records at `a` (old) to the nb records at `b`
 * (new); returns how many. Both inputs must be in prefix order; `out` needs room for
 * na + nb records. diffCounts() gives adds, changes and removes.
 */
export function diffRecords(family: u32, a: usize, na: u32, b: usize, nb: u32, out: usize): u32 {
  const size = recordSize(family);
  const aEnd = a + <usize>na * size;
  const bEnd = b + <usize>nb * size;
  const start = out;
  adds = 0;
  changes = 0;
  removes = 0;
  while (a < aEnd && b < bEnd) {
    const ah = recordHi(a, family), al = recordLo(a, family), alen = recordLen(a);
    const bh = recordHi(b, family), bl = recordLo(b, family), blen = recordLen(b);
    const c = compareKeys(ah, al, alen, bh, bl, blen);
    if (c < 0) {
      out = writeRecord(out, family, OP_REMOVE, ah, al, alen, 0);
      removes++;
      a += size;
    } else if (c > 0) {
      out = writeRecord(out, family, OP_SET, bh, bl, blen, recordNh(b, family));
      adds++;
      b += size;
    } else {
      const nh = recordNh(b, family);
      if (nh != recordNh(a, family)) {
        out = writeRecord(out, family, OP_SET, bh, bl, blen, nh);
        changes++;
      }
      a += size;
      b += size;
    }
  }
  for (; a < aEnd; a += size) {
    out = writeRecord(out, family, OP_REMOVE, recordHi(a, family), recordLo(a, family), recordLen(a), 0);
    removes++;
  }
  for (; b < bEnd; b += size) {
    out = writeRecord(out, family, OP_SET, recordHi(b, family), recordLo(b, family), recordLen(b), recordNh(b, family));
    adds++;
  }
  return <u32>((out - start) / size);
}

export function diffAdds(): u32 { return adds; }
export function diffChanges(): u32 { return changes; }
export function diffRemoves(): u32 { return removes; }
