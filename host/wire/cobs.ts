// Consistent Overhead Byte Stuffing (Cheshire & Baker, 1999): removes every 0x00 from a
// frame so that 0x00 can delimit frames on a byte stream. Overhead: one byte per 254, plus
// one. A receiver that starts mid-stream or loses bytes resynchronises at the next 0x00.

/**
 * Blocks shorter than this are copied byte by byte: data dense with zeros (small integers
 * in wide fields) is mostly short blocks, for which a native copy costs more than it saves.
 */
const SHORT = 16;

function copy(src: Uint8Array, from: number, to: number, dst: Uint8Array, at: number): void {
  if (to - from < SHORT) {
    for (let k = from; k < to; k++) dst[at++] = src[k];
  } else {
    dst.set(src.subarray(from, to), at);
  }
}

/** Largest encoding of n bytes. */
export function cobsMaxEncoded(n: number): number {
  return n + Math.ceil(n / 254) + 1;
}

/** Encodes src into dst at `at` (no delimiter); returns the end offset. dst needs cobsMaxEncoded(src.length) bytes. */
export function cobsEncode(src: Uint8Array, dst: Uint8Array, at = 0): number {
  // Block by block, each found and copied natively: up to 254 bytes without a zero.
  const n = src.length;
  let out = at;
  let i = 0;
  let zero = src.indexOf(0);     // the first zero at or after i; -1: none left
  while (true) {
    if (zero >= 0 && zero < i) zero = src.indexOf(0, i);
    const stop = Math.min(zero < 0 ? n : zero, i + 254);
    dst[out] = stop - i + 1;
    copy(src, i, stop, dst, out + 1);
    out += stop - i + 1;
    if (stop - i === 254) {
      // A full block implies no zero; data that ends with one needs no empty block after.
      if (stop === n) return out;
      i = stop;
    } else if (stop === zero) {
      i = stop + 1;
    } else {
      return out;
    }
  }
}

/**
 * Decodes src[start, end) (no delimiter) into dst; returns the decoded length, or -1 if the
 * bytes are not a valid encoding (a zero byte, or a block running past the end) or the
 * result would not fit in dst.
 */
export function cobsDecode(src: Uint8Array, start: number, end: number, dst: Uint8Array): number {
  let out = 0;
  let i = start;
  while (i < end) {
    const code = src[i++];
    const blockEnd = i + code - 1;
    if (code === 0 || blockEnd > end || out + code - 1 > dst.length) return -1;
    if (code - 1 < SHORT) {
      for (let k = i; k < blockEnd; k++) {
        const b = src[k];
        if (b === 0) return -1;
        dst[out++] = b;
      }
    } else {
      const block = src.subarray(i, blockEnd);
      if (block.indexOf(0) >= 0) return -1;
      dst.set(block, out);
      out += code - 1;
    }
    i = blockEnd;
    if (code !== 0xff && i < end) {
      if (out >= dst.length) return -1;
      dst[out++] = 0;
    }
  }
  return out;
}
