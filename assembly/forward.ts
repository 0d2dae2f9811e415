// Forwarding: a batch of packet addresses looked up and counted per next hop in one pass,
// the way a forwarding engine spends its time. The counts go into a table the host lays
// out in linear memory and reads when it likes:
//
//   counters  ┌ base, size u32 × 2 × 16 ┬ no route u32 ┬ overflow u32 ┬ packets u32 × Σ size ┐
//             └ per next-hop block ─────┴──────────────┴──────────────┴ per next hop ────────┘
//
// A next hop's id is a block (its top 4 bits: the route processor whose table made it) and
// an index in the block (the low 20 bits). Its counter is packets[base + index] of its
// block, so counters are dense — a few hundred KiB for tens of thousands of next hops, not
// the megabytes a hash of them would take — and a packet costs one add. An id the layout
// did not foresee (its block has no base, or its index is past the block's size) is
// counted as overflow, never lost silently.

import { NONE } from "./node";
import { lookup4Batch, lookup6Batch } from "./lookup";

@inline const BLOCK_SHIFT: u32 = 20;
@inline const INDEX_MASK: u32 = (1 << BLOCK_SHIFT) - 1;
@inline const NO_ROUTE_AT: usize = 16 * 8;
@inline const OVERFLOW_AT: usize = NO_ROUTE_AT + 4;
@inline const PACKETS_AT: usize = OVERFLOW_AT + 4;

@inline function count(table: usize, nh: u32): void {
  if (nh == NONE) {
    store<u32>(table + NO_ROUTE_AT, load<u32>(table + NO_ROUTE_AT) + 1);
    return;
  }
  const block = table + (<usize>(nh >>> BLOCK_SHIFT) << 3);
  const index = nh & INDEX_MASK;
  if (index >= load<u32>(block, 4)) {
    store<u32>(table + OVERFLOW_AT, load<u32>(table + OVERFLOW_AT) + 1);
    return;
  }
  const at = table + PACKETS_AT + (<usize>(load<u32>(block) + index) << 2);
  store<u32>(at, load<u32>(at) + 1);
}

// Both run in two passes, lookups then counts, the next hops written over the addresses
// (next hop i at input + 4i, where the addresses it overwrites are already read). Lookups
// alone keep several cache misses in flight at once; a count in the same loop ties each to
// a store, and the pair runs about a fifth slower.

/** Forwards n IPv4 addresses (u32 each) at `input`, counting into the table at `table`. */
export function forward4Batch(dir: usize, input: usize, n: u32, table: usize): void {
  lookup4Batch(dir, input, input, n);
  countAll(table, input, n);
}

/** Forwards n IPv6 addresses (four u32 words each, most significant first) at `input`. */
export function forward6Batch(regions: usize, input: usize, n: u32, table: usize): void {
  lookup6Batch(regions, input, input, n);
  countAll(table, input, n);
}

@inline function countAll(table: usize, nexthops: usize, n: u32): void {
  for (let i: usize = 0; i < <usize>n; i++) count(table, load<u32>(nexthops + (i << 2)));
}
