// Change records: the one layout routes take in linear memory, going in (batch updates,
// decoded snapshots and updates) and coming out (walks).
//
//   IPv4, 12 bytes  ┌ op u8 · len u8 · status u8 · 0 ┬ address u32 ┬ next hop u32 ┐
//   IPv6, 24 bytes  ┌ op u8 · len u8 · status u8 · 0 ┬ w0 ┬ w1 ┬ w2 ┬ w3 ┬ next hop u32 ┐
//
// op: 1 set, 2 remove (a walk gives 1). status: written back by apply (table.ts codes).
// Address words are u32 values, w0 the most significant.

export const OP_SET: u32 = 1;
export const OP_REMOVE: u32 = 2;

@inline export function recordSize(family: u32): usize {
  return family == 6 ? 24 : 12;
}

@inline export function recordOp(p: usize): u32 { return load<u8>(p); }
@inline export function recordLen(p: usize): u32 { return load<u8>(p, 1); }

/** The record's prefix, left-aligned: the high 64 bits. */
@inline export function recordHi(p: usize, family: u32): u64 {
  return family == 6 ? (<u64>load<u32>(p, 4) << 32) | <u64>load<u32>(p, 8) : <u64>load<u32>(p, 4) << 32;
}

@inline export function recordLo(p: usize, family: u32): u64 {
  return family == 6 ? (<u64>load<u32>(p, 12) << 32) | <u64>load<u32>(p, 16) : 0;
}

@inline export function recordNh(p: usize, family: u32): u32 {
  return family == 6 ? load<u32>(p, 20) : load<u32>(p, 8);
}

@inline export function setRecordStatus(p: usize, status: u32): void {
  store<u8>(p, <u8>status, 2);
}

/** Writes a record at p; returns the address after it. */
export function writeRecord(p: usize, family: u32, op: u32, hi: u64, lo: u64, len: u32, nh: u32): usize {
  store<u32>(p, op | (len << 8));
  store<u32>(p, <u32>(hi >> 32), 4);
  if (family == 6) {
    store<u32>(p, <u32>hi, 8);
    store<u32>(p, <u32>(lo >> 32), 12);
    store<u32>(p, <u32>lo, 16);
    store<u32>(p, nh, 20);
    return p + 24;
  }
  store<u32>(p, nh, 8);
  return p + 12;
}
