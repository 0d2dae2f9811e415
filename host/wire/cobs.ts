// Consistent Overhead Byte Stuffing (Cheshire & Baker, 1999): removes every 0x00 from a
// frame so that 0x00 can delimit frames on a byte stream. Overhead: one byte per 254, plus
// one. A receiver that starts mid-stream or loses bytes resynchronises at the next 0x00.

/** Largest encoding of n bytes. */
export function cobsMaxEncoded(n: number): number {
  return n + Math.ceil(n / 254) + 1;
}

/** Encodes src into dst at `at` (no delimiter); returns the end offset. dst needs cobsMaxEncoded(src.length) bytes. */
export function cobsEncode(src: Uint8Array, dst: Uint8Array, at = 0): number {
  let code = at;      // where the current block's code byte goes
  let out = at + 1;
  let run = 1;
  let full = false;   // the last block closed because it was full, not at a zero
  for (let i = 0; i < src.length; i++) {
    const b = src[i];
    full = false;
    if (b === 0) {
      dst[code] = run;
      code = out++;
      run = 1;
      continue;
    }
    dst[out++] = b;
    if (++run === 0xff) {
      dst[code] = run;
      code = out++;
      run = 1;
      full = true;
    }
  }
  if (full) return out - 1;      // data ended with a full block: no empty block after it
  dst[code] = run;
  return out;
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
    if (code === 0 || i + code - 1 > end) return -1;
    const blockEnd = i + code - 1;
    if (out + (blockEnd - i) > dst.length) return -1;
    for (; i < blockEnd; i++) {
      const b = src[i];
      if (b === 0) return -1;
      dst[out++] = b;
    }
    if (code !== 0xff && i < end) {
      if (out >= dst.length) return -1;
      dst[out++] = 0;
    }
  }
  return out;
}
