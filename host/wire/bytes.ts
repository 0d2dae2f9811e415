// Byte-level reading and writing for message bodies: fixed-width little-endian integers,
// LEB128 varints (up to 2^53, exact in a JS number; the shortest form only, so every value
// has one encoding), length-prefixed bytes and strings, and 64-bit values as bigint. The
// reader throws ShortRead past the end; the message decoder turns that into an error value.

export class ShortRead extends Error {
  override name = "ShortRead";
}

export class Writer {
  private buf = new Uint8Array(256);
  private n = 0;

  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.n + k));
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
  }

  u8(v: number): this {
    this.room(1);
    this.buf[this.n++] = v;
    return this;
  }

  u16(v: number): this {
    this.room(2);
    this.buf[this.n++] = v;
    this.buf[this.n++] = v >>> 8;
    return this;
  }

  u32(v: number): this {
    this.room(4);
    for (let k = 0; k < 4; k++) this.buf[this.n++] = v >>> (8 * k);
    return this;
  }

  u64(v: bigint): this {
    this.u32(Number(v & 0xffffffffn));
    return this.u32(Number((v >> 32n) & 0xffffffffn));
  }

  /** Unsigned LEB128 of a non-negative safe integer. */
  varint(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`varint out of range: ${v}`);
    this.room(8);
    while (v >= 0x80) {
      this.buf[this.n++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.n++] = v;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.varint(b.length);
    return this.raw(b);
  }

  raw(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
    return this;
  }

  string(s: string): this {
    return this.bytes(new TextEncoder().encode(s));
  }

  done(): Uint8Array {
    return this.buf.slice(0, this.n);
  }
}

export class Reader {
  private at = 0;
  constructor(private readonly b: Uint8Array) {}

  private need(k: number): void {
    if (this.at + k > this.b.length) throw new ShortRead(`body ends ${this.at + k - this.b.length} bytes early`);
  }

  u8(): number {
    this.need(1);
    return this.b[this.at++];
  }

  u16(): number {
    this.need(2);
    const v = this.b[this.at] | (this.b[this.at + 1] << 8);
    this.at += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const b = this.b;
    const v = (b[this.at] | (b[this.at + 1] << 8) | (b[this.at + 2] << 16) | (b[this.at + 3] << 24)) >>> 0;
    this.at += 4;
    return v;
  }

  u64(): bigint {
    const lo = BigInt(this.u32());
    return (BigInt(this.u32()) << 32n) | lo;
  }

  varint(): number {
    let v = 0;
    let scale = 1;
    for (let k = 0; k < 8; k++) {
      const byte = this.u8();
      v += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) {
        if (byte === 0 && k > 0) throw new RangeError("varint padded with a zero byte");
        if (!Number.isSafeInteger(v)) throw new RangeError("varint beyond 2^53");
        return v;
      }
      scale *= 0x80;
    }
    throw new RangeError("varint longer than 8 bytes");
  }

  bytes(max = Infinity): Uint8Array {
    const n = this.varint();
    if (n > max) throw new RangeError(`${n} bytes where at most ${max} are allowed`);
    this.need(n);
    const v = this.b.slice(this.at, this.at + n);
    this.at += n;
    return v;
  }

  raw(n: number): Uint8Array {
    return this.view(n).slice();
  }

  /** The next n bytes as a view into the input, not a copy: for reading at once, not keeping. */
  view(n: number): Uint8Array {
    this.need(n);
    const v = this.b.subarray(this.at, this.at + n);
    this.at += n;
    return v;
  }

  string(): string {
    return new TextDecoder("utf-8", { fatal: true }).decode(this.bytes());
  }

  /** Bytes not read yet. */
  get left(): number {
    return this.b.length - this.at;
  }
}
