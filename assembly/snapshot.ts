// Snapshot chunks straight from the table: the walk in prefix order and the wire encoding
// in one pass, with no trip through the host. Each call fills one chunk body; records the
// walk produced that did not fit wait in the scratch area for the next call.

import { Table } from "./table";
import { iterNext } from "./iter";
import { encoderReset, encodeOne, setEncodedBytes, MAX_ROUTE_BYTES } from "./routecodec";
import { recordSize } from "./records";

/** Records the walk hands over at a time. */
export const SCRATCH_RECORDS: u32 = 1024;

let walkOf: u32 = 0;      // the walk the pending records belong to
let pendingAt: u32 = 0;
let pendingEnd: u32 = 0;

/**
 * Encodes the next routes of walk `id` over table t into one chunk body at `out` (at most
 * cap bytes); returns how many routes it holds, 0 once the walk is done, or -1 if the walk
 * went stale. encodedBytes() gives the body's length. `scratch` holds SCRATCH_RECORDS
 * records and must be the same for every call of a walk.
 */
export function snapshotChunk(t: Table, id: u32, scratch: usize, out: usize, cap: u32): i32 {
  const family = t.family;
  const size = recordSize(family);
  if (walkOf != id) {
    walkOf = id;
    pendingAt = 0;
    pendingEnd = 0;
  }
  encoderReset();
  let o = out;
  let count: i32 = 0;
  while (true) {
    if (pendingAt == pendingEnd) {
      const n = iterNext(id, scratch, SCRATCH_RECORDS);
      if (n < 0) return -1;
      if (n == 0) break;
      pendingAt = 0;
      pendingEnd = <u32>n;
    }
    if (<u32>(o - out) + MAX_ROUTE_BYTES > cap) break;
    o = encodeOne(family, scratch + <usize>pendingAt * size, o);
    pendingAt++;
    count++;
  }
  setEncodedBytes(<u32>(o - out));
  return count;
}
