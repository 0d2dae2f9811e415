// Routes on the wire: the bodies of snapshot chunks and updates. Change records
// (records.ts), in prefix order, each encoded against the one before it:
//
//   head u8   bits 0–4  zigzag(len − previous len), 0..30; 31: a length byte follows
//             bit 5     placement: 0 right after the previous prefix (its end, rounded up to
//                       this prefix's size); 1 a varint follows: gap·2 + inside, in units of
//                       this prefix's size, counted from the previous prefix's start when this
//                       one lies inside it, else from its rounded-up end
//             bit 6     next hop: 0 the previous route's; 1 a varint next hop follows
//             bit 7     op: 0 set, 1 remove (updates only; a remove carries no next hop)
//   [len u8] [placement varint, up to 129 bits] [next hop varint]
//
// Every body starts afresh (previous prefix: none, length 0, no next hop), so each chunk
// decodes on its own. The encoding is canonical: the shortest form everywhere (a length
// byte only when the delta does not fit, placement only when needed, no varint padding, a
// next hop only when it changes), and the decoder refuses any other, so routes have one
// encoding, whichever encoder wrote it. A real IPv4 table takes about 2.5 bytes a route.
//
// Addresses are handled here as integers (IPv4 in the low 32 bits of lo), in (hi, lo).

import { NONE } from "./node";
import { OP_REMOVE, OP_SET, recordSize, recordOp, recordLen, recordHi, recordLo, recordNh, writeRecord } from "./records";

/** Largest encoding of one route. */
export const MAX_ROUTE_BYTES: u32 = 1 + 1 + 19 + 4;

// Decoding errors (negative results of decodeRoutes).
export const ERR_TRUNCATED: i32 = -1;
export const ERR_TRAILING: i32 = -2;
export const ERR_LENGTH: i32 = -3;
export const ERR_ADDRESS: i32 = -4;
export const ERR_NEXTHOP: i32 = -5;
export const ERR_OP: i32 = -6;
export const ERR_ORDER: i32 = -7;
export const ERR_NONCANONICAL: i32 = -8;

// The previous route of the body being written or read.
let prevHi: u64 = 0;
let prevLo: u64 = 0;
let prevLen: i32 = -1;
let prevNh: u32 = 0xffffffff;

// Results of the 128-bit helpers.
let rh: u64 = 0;
let rl: u64 = 0;

@inline function shr(h: u64, l: u64, k: u32): void {
  if (k == 0) { rh = h; rl = l; }
  else if (k < 64) { rl = (l >> k) | (h << (64 - k)); rh = h >> k; }
  else if (k < 128) { rl = h >> (k - 64); rh = 0; }
  else { rl = 0; rh = 0; }
}

@inline function shl(h: u64, l: u64, k: u32): void {
  if (k == 0) { rh = h; rl = l; }
  else if (k < 64) { rh = (h << k) | (l >> (64 - k)); rl = l << k; }
  else if (k < 128) { rh = l << (k - 64); rl = 0; }
  else { rh = 0; rl = 0; }
}

/** True if (ah, al) and (bh, bl) agree above their low `shift` bits. */
@inline function samePrefix(ah: u64, al: u64, bh: u64, bl: u64, shift: u32): bool {
  shr(ah, al, shift);
  const h = rh, l = rl;
  shr(bh, bl, shift);
  return h == rh && l == rl;
}

/**
 * Where the placement of a prefix of length len counts from, in units of its size, into
 * (rh, rl): the previous prefix's start when inside it, else the previous prefix's end
 * rounded up (start + 2^(len − previous len), or start + 1 when the previous is longer).
 * Nothing before: zero.
 */
function placementBase(width: u32, len: u32, within: bool): void {
  if (prevLen < 0) { rh = 0; rl = 0; return; }
  shr(prevHi, prevLo, width - len);
  if (within) return;
  const k = <u32>prevLen <= len ? len - <u32>prevLen : 0;
  const addHi: u64 = k >= 64 ? (<u64>1) << (k - 64) : 0;
  const addLo: u64 = k >= 64 ? 0 : (<u64>1) << k;
  const lo2 = rl + addLo;
  rh = rh + addHi + (lo2 < rl ? 1 : 0);
  rl = lo2;
}

/** Integer address of a record (IPv4 in the low 32 bits). */
@inline function addrHi(p: usize, family: u32): u64 { return family == 6 ? recordHi(p, 6) : 0; }
@inline function addrLo(p: usize, family: u32): u64 { return family == 6 ? recordLo(p, 6) : recordHi(p, 4) >> 32; }

/** Starts a new body: the next route is encoded against nothing. */
export function encoderReset(): void {
  prevHi = 0;
  prevLo = 0;
  prevLen = -1;
  prevNh = 0xffffffff;
}

/**
 * Encodes the change record at p after the previous one, at o (MAX_ROUTE_BYTES of room);
 * returns the address after it.
 */
export function encodeOne(family: u32, p: usize, o: usize): usize {
  if (family == 4) {
    const a = <u64>load<u32>(p, 4);
    const q = encodeNarrow(o, recordOp(p), recordLen(p), load<u32>(p, 8), a, 32);
    if (q != 0) { prevHi = 0; prevLo = a; return q; }
  } else if (recordLen(p) <= 64 && prevLen <= 64) {
    // Both prefixes no longer than 64 bits: only the high words matter.
    const a = recordHi(p, 6);
    const q = encodeNarrow(o, recordOp(p), recordLen(p), recordNh(p, 6), a, 64);
    if (q != 0) { prevHi = a; prevLo = 0; return q; }
  }
  const width: u32 = family == 6 ? 128 : 32;
  const op = recordOp(p);
  const len = recordLen(p);
  const nh = recordNh(p, family);
  const ah = addrHi(p, family);
  const al = addrLo(p, family);
  // This prefix's position in units of its size.
  shr(ah, al, width - len);
  const posHi = rh, posLo = rl;
  // Whether the previous prefix covers this one, and where placement counts from.
  const within = prevLen >= 0 && <u32>prevLen <= len && samePrefix(ah, al, prevHi, prevLo, width - <u32>prevLen);
  placementBase(width, len, within);
  const fromHi = rh, fromLo = rl;
  // gap = pos − from
  const gapLo = posLo - fromLo;
  const gapHi = posHi - fromHi - (posLo < fromLo ? 1 : 0);
  let head: u32 = 0;
  const d = <i32>len - (prevLen < 0 ? 0 : prevLen);
  const zz = <u32>((d << 1) ^ (d >> 31));
  head |= zz <= 30 ? zz : 31;
  const placed = !within && gapHi == 0 && gapLo == 0;
  if (!placed) head |= 0x20;
  if (op == OP_REMOVE) head |= 0x80;
  else if (nh != prevNh) head |= 0x40;
  store<u8>(o++, <u8>head);
  if (zz > 30) store<u8>(o++, <u8>len);
  if (!placed) {
    // gap·2 + inside, 129 bits: top bit, then (hi, lo)
    let top: u64 = gapHi >> 63;
    let h = (gapHi << 1) | (gapLo >> 63);
    let l = (gapLo << 1) | (within ? 1 : 0);
    while (top != 0 || h != 0 || l >= 0x80) {
      store<u8>(o++, <u8>((l & 0x7f) | 0x80));
      l = (l >> 7) | (h << 57);
      h = (h >> 7) | (top << 57);
      top = 0;
    }
    store<u8>(o++, <u8>l);
  }
  if (head & 0x40) {
    let v = nh;
    while (v >= 0x80) { store<u8>(o++, <u8>((v & 0x7f) | 0x80)); v >>= 7; }
    store<u8>(o++, <u8>v);
  }
  prevHi = ah; prevLo = al; prevLen = <i32>len;
  if (op != OP_REMOVE) prevNh = nh;
  return o;
}

/**
 * Writes v as a LEB128 varint at o; returns the address after it. Values below 2^42 (every
 * next hop, most gaps) take one unaligned 8-byte store, without a branch per byte; the
 * bytes after the varint's end are scratch (callers leave MAX_ROUTE_BYTES of room).
 */
@inline function putVarint(o: usize, v: u64): usize {
  if (v >= (<u64>1) << 42) {
    while (v >= 0x80) { store<u8>(o++, <u8>((v & 0x7f) | 0x80)); v >>= 7; }
    store<u8>(o, <u8>v);
    return o + 1;
  }
  const spread = (v & 0x7f) | ((v & 0x3f80) << 1) | ((v & 0x1fc000) << 2)
    | ((v & 0xfe00000) << 3) | ((v & 0x7f0000000) << 4) | ((v & 0x3f800000000) << 5);
  const n = <u32>(63 - clz(v | 1)) / 7 + 1;                            // 1..6 bytes
  const more = (((<u64>1) << (8 * (n - 1))) - 1) & 0x808080808080;    // continuation bits
  store<u64>(o, spread | more);
  return o + n;
}

@inline function shr64(x: u64, k: u32): u64 {
  return k >= 64 ? 0 : x >> k;
}

/**
 * encodeOne in 64-bit arithmetic, for a prefix and a previous prefix that both lie in the
 * top `width` ≤ 64 bits of the address (a and prev: those bits as integers). Writes the
 * same bytes as the general encoder, several times faster, and sets prevLen and prevNh;
 * the caller sets the previous address. Returns 0, having written nothing, when the gap
 * is negative (out of order) or does not fit 63 bits: the general encoder's cases.
 */
function encodeNarrow(o: usize, op: u32, len: u32, nh: u32, a: u64, width: u32): usize {
  const pos = shr64(a, width - len);
  let within = false;
  let from: u64 = 0;
  if (prevLen >= 0) {
    const pl = <u32>prevLen;
    const prev = width == 64 ? prevHi : prevLo;
    within = pl <= len && shr64(a, width - pl) == shr64(prev, width - pl);
    from = shr64(prev, width - len);
    // Not within, so pl > 0, and the step 2^(len − pl) fits.
    if (!within) from += (<u64>1) << (pl <= len ? len - pl : 0);
  }
  if (pos < from || pos - from >= (<u64>1) << 63) return 0;
  const gap = pos - from;
  const d = <i32>len - (prevLen < 0 ? 0 : prevLen);
  const zz = <u32>((d << 1) ^ (d >> 31));
  const placed = !within && gap == 0;
  let head: u32 = zz <= 30 ? zz : 31;
  if (!placed) head |= 0x20;
  if (op == OP_REMOVE) head |= 0x80;
  else if (nh != prevNh) head |= 0x40;
  store<u8>(o++, <u8>head);
  if (zz > 30) store<u8>(o++, <u8>len);
  if (!placed) o = putVarint(o, (gap << 1) | (within ? 1 : 0));
  if (head & 0x40) o = putVarint(o, nh);
  prevLen = <i32>len;
  if (op != OP_REMOVE) prevNh = nh;
  return o;
}

/**
 * Encodes up to n change records at `records` into `out` (at most cap bytes) as one body.
 * Returns how many were encoded; encodedBytes() gives the length. Records must be in
 * prefix order.
 */
export function encodeRoutes(family: u32, records: usize, n: u32, out: usize, cap: u32): u32 {
  const size = recordSize(family);
  encoderReset();
  let o = out;
  let i: u32 = 0;
  for (; i < n; i++) {
    if (<u32>(o - out) + MAX_ROUTE_BYTES > cap) break;
    o = encodeOne(family, records + <usize>i * size, o);
  }
  encoded = <u32>(o - out);
  return i;
}

/** Sets the length encodedBytes() reports. */
export function setEncodedBytes(n: u32): void {
  encoded = n;
}

let encoded: u32 = 0;

/** Bytes written by the last encodeRoutes. */
export function encodedBytes(): u32 {
  return encoded;
}

/**
 * Decodes exactly `count` routes from the `len` bytes at `input` into change records at
 * `out`. Returns count, or a negative error (ERR_*): truncated, trailing bytes, a length
 * beyond the family, an address outside the space or out of order, a missing or invalid
 * next hop, a remove where only sets may be (allowRemove false).
 */
export function decodeRoutes(family: u32, input: usize, len: u32, count: u32, out: usize, allowRemove: bool): i32 {
  const width: u32 = family == 6 ? 128 : 32;
  const end = input + len;
  let q = input;
  encoderReset();
  for (let i: u32 = 0; i < count; i++) {
    if (q >= end) return ERR_TRUNCATED;
    const head = <u32>load<u8>(q++);
    let plen: u32;
    if ((head & 31) == 31) {
      if (q >= end) return ERR_TRUNCATED;
      plen = load<u8>(q++);
      const d = <i32>plen - (prevLen < 0 ? 0 : prevLen);
      if (<u32>((d << 1) ^ (d >> 31)) <= 30) return ERR_NONCANONICAL;
    } else {
      const zz = head & 31;
      const d = <i32>(zz >> 1) ^ -(<i32>(zz & 1));
      const l = (prevLen < 0 ? 0 : prevLen) + d;
      if (l < 0) return ERR_LENGTH;
      plen = <u32>l;
    }
    if (plen > width) return ERR_LENGTH;
    let gapHi: u64 = 0, gapLo: u64 = 0, within = false;
    if (head & 0x20) {
      // 129-bit LEB128: gap·2 + inside
      let h: u64 = 0, l: u64 = 0, top: u64 = 0;
      let shift: u32 = 0;
      while (true) {
        if (q >= end) return ERR_TRUNCATED;
        const b = <u64>load<u8>(q++);
        const v = b & 0x7f;
        if (shift < 64) {
          l |= v << shift;
          if (shift > 57) h |= v >> (64 - shift);
        } else if (shift < 128) {
          h |= v << (shift - 64);
          if (shift > 121) top |= v >> (128 - shift);
        } else if (shift < 135) {
          top |= v << (shift - 128);
        } else return ERR_ADDRESS;
        shift += 7;
        if ((b & 0x80) == 0) { if (b == 0 && shift > 7) return ERR_NONCANONICAL; break; }
      }
      if (top > 1) return ERR_ADDRESS;
      within = (l & 1) != 0;
      gapLo = (l >> 1) | (h << 63);
      gapHi = (h >> 1) | (top << 63);
      if (!within && gapHi == 0 && gapLo == 0) return ERR_NONCANONICAL;
    }
    // from: the previous start (inside) or its end rounded up, in this prefix's units
    if (within && (prevLen < 0 || <u32>prevLen > plen)) return ERR_ORDER;
    placementBase(width, plen, within);
    const fromHi = rh, fromLo = rl;
    const posLo = fromLo + gapLo;
    const posHi = fromHi + gapHi + (posLo < fromLo ? 1 : 0);
    if (posHi < fromHi || (posHi == fromHi && posLo < fromLo)) return ERR_ADDRESS;     // wrapped
    // The position must fit in plen bits.
    shr(posHi, posLo, plen);
    if (plen < 128 && (rh != 0 || rl != 0)) return ERR_ADDRESS;
    shl(posHi, posLo, width - plen);
    const ah = rh, al = rl;
    // A prefix inside the previous one, at its very start and no longer, is the same prefix.
    if (within && gapHi == 0 && gapLo == 0 && <u32>prevLen == plen) return ERR_ORDER;
    if (within && !samePrefix(ah, al, prevHi, prevLo, width - <u32>prevLen)) return ERR_ORDER;
    // Inside the previous prefix but not said so: the encoder would have (this also catches
    // a placement that wrapped past the end of a default route).
    if (!within && prevLen >= 0 && <u32>prevLen <= plen && samePrefix(ah, al, prevHi, prevLo, width - <u32>prevLen)) return ERR_NONCANONICAL;
    let op = OP_SET;
    let nh = prevNh;
    if (head & 0x80) {
      if (!allowRemove || (head & 0x40)) return ERR_OP;
      op = OP_REMOVE;
      nh = 0;
    } else if (head & 0x40) {
      let v: u32 = 0, shift: u32 = 0;
      while (true) {
        if (q >= end) return ERR_TRUNCATED;
        const b = <u32>load<u8>(q++);
        if (shift > 21) return ERR_NEXTHOP;
        v |= (b & 0x7f) << shift;
        shift += 7;
        if ((b & 0x80) == 0) { if (b == 0 && shift > 7) return ERR_NONCANONICAL; break; }
      }
      if (v >= NONE) return ERR_NEXTHOP;
      if (v == prevNh) return ERR_NONCANONICAL;
      nh = v;
    } else if (prevNh == 0xffffffff) return ERR_NEXTHOP;
    const hi = family == 6 ? ah : al << 32;
    const lo = family == 6 ? al : 0;
    out = writeRecord(out, family, op, hi, lo, plen, nh);
    prevHi = ah; prevLo = al; prevLen = <i32>plen;
    if (op == OP_SET) prevNh = nh;
  }
  return q == end ? <i32>count : ERR_TRAILING;
}
