// IP addresses and prefixes as small immutable values, in the spirit of Go's net/netip.
//
// parse() returns the value or a ParseError (never throws); mustParse() throws the error.
//
// Edge cases:
// - IPv4 is dotted decimal with exactly four parts, each 0..255, no leading zeros ("01.2.3.4"
//   is refused: some parsers read it as octal).
// - IPv6 follows RFC 4291: hex groups, one "::", an embedded IPv4 tail ("::ffff:10.0.0.1").
//   An IPv4-mapped IPv6 address stays IPv6; zones ("fe80::1%eth0") are refused.
// - Formatting is canonical: IPv6 per RFC 5952 (lower case, the longest run of two or more
//   zero groups as "::", leftmost on a tie), so parse(format(x)) == x.
// - A prefix's host bits are masked off on parsing: "10.1.2.3/8" is 10.0.0.0/8. Lengths run
//   0..32 and 0..128; "/" is required.

export type Family = 4 | 6;

/** Why a string is not an address or prefix. */
export class ParseError extends Error {
  constructor(readonly input: string, readonly reason: string) {
    super(`${JSON.stringify(input)}: ${reason}`);
    this.name = "ParseError";
  }
}

/**
 * An IPv4 or IPv6 address. IPv4 is held in w0 (unsigned) with w1..w3 zero; IPv6 in four
 * 32-bit words, w0 most significant.
 */
export class Addr {
  private constructor(
    readonly family: Family,
    readonly w0: number,
    readonly w1: number,
    readonly w2: number,
    readonly w3: number,
  ) {}

  /** An IPv4 address from its 32-bit value. */
  static v4(value: number): Addr {
    return new Addr(4, value >>> 0, 0, 0, 0);
  }

  /** An IPv6 address from four 32-bit words, most significant first. */
  static v6(w0: number, w1: number, w2: number, w3: number): Addr {
    return new Addr(6, w0 >>> 0, w1 >>> 0, w2 >>> 0, w3 >>> 0);
  }

  static parse(s: string): Addr | ParseError {
    if (s.length === 0) return new ParseError(s, "empty address");
    if (s.includes(":")) return parseV6(s);
    const v = parseV4(s, 0, s.length);
    return typeof v === "number" ? Addr.v4(v) : new ParseError(s, v);
  }

  static mustParse(s: string): Addr {
    const a = Addr.parse(s);
    if (a instanceof ParseError) throw a;
    return a;
  }

  /** Address width in bits: 32 or 128. */
  get bitLen(): 32 | 128 {
    return this.family === 4 ? 32 : 128;
  }

  /** Word i (0..3) of the address as if it were 128 bits left-aligned (IPv4 in word 0). */
  word(i: number): number {
    return i === 0 ? this.w0 : i === 1 ? this.w1 : i === 2 ? this.w2 : this.w3;
  }

  /** The next address, or undefined after the last one (255.255.255.255, ffff:…:ffff). */
  next(): Addr | undefined {
    return this.step(1);
  }

  /** The previous address, or undefined before the first one (0.0.0.0, ::). */
  prev(): Addr | undefined {
    return this.step(-1);
  }

  private step(delta: 1 | -1): Addr | undefined {
    const w = [this.w0, this.w1, this.w2, this.w3];
    for (let i = this.family === 4 ? 0 : 3; i >= 0; i--) {
      const v = w[i] + delta;
      if (v >= 0 && v <= 0xffffffff) {
        w[i] = v;
        return this.family === 4 ? Addr.v4(w[0]) : Addr.v6(w[0], w[1], w[2], w[3]);
      }
      w[i] = delta > 0 ? 0 : 0xffffffff;
    }
    return undefined;
  }

  equals(o: Addr): boolean {
    return this.family === o.family && this.w0 === o.w0 && this.w1 === o.w1 && this.w2 === o.w2 && this.w3 === o.w3;
  }

  /** Orders IPv4 before IPv6, then by value. */
  compare(o: Addr): number {
    if (this.family !== o.family) return this.family - o.family;
    for (let i = 0; i < 4; i++) {
      const d = this.word(i) - o.word(i);
      if (d !== 0) return d < 0 ? -1 : 1;
    }
    return 0;
  }

  toString(): string {
    return this.family === 4 ? formatV4(this.w0) : formatV6(this);
  }
}

/** An address and a prefix length, host bits zero. */
export class Prefix {
  private constructor(readonly addr: Addr, readonly len: number) {}

  /** The prefix of `len` bits containing `addr` (host bits masked); a ParseError if len is out of range. */
  static from(addr: Addr, len: number): Prefix | ParseError {
    if (!Number.isInteger(len) || len < 0 || len > addr.bitLen) {
      return new ParseError(`${addr}/${len}`, `prefix length out of range 0..${addr.bitLen}`);
    }
    return new Prefix(maskAddr(addr, len), len);
  }

  static parse(s: string): Prefix | ParseError {
    const slash = s.lastIndexOf("/");
    if (s.length === 0) return new ParseError(s, "empty prefix");
    if (slash < 0) return new ParseError(s, "missing /length");
    const lenText = s.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(lenText)) return new ParseError(s, "bad prefix length");
    const addr = Addr.parse(s.slice(0, slash));
    if (addr instanceof ParseError) return new ParseError(s, addr.reason);
    const len = Number(lenText);
    if (len > addr.bitLen) return new ParseError(s, `prefix length out of range 0..${addr.bitLen}`);
    return new Prefix(maskAddr(addr, len), len);
  }

  static mustParse(s: string): Prefix {
    const p = Prefix.parse(s);
    if (p instanceof ParseError) throw p;
    return p;
  }

  get family(): Family {
    return this.addr.family;
  }

  contains(a: Addr): boolean {
    return a.family === this.addr.family && maskAddr(a, this.len).equals(this.addr);
  }

  /** True if one prefix contains the other. */
  overlaps(o: Prefix): boolean {
    if (o.family !== this.family) return false;
    return this.len <= o.len ? this.contains(o.addr) : o.contains(this.addr);
  }

  /** The first address in the prefix (the prefix address itself). */
  first(): Addr {
    return this.addr;
  }

  /** The last address in the prefix. */
  last(): Addr {
    const a = this.addr;
    if (a.family === 4) return Addr.v4(a.w0 | ~wordMask(this.len, 0));
    const w = (i: number) => a.word(i) | ~wordMask(this.len, i);
    return Addr.v6(w(0), w(1), w(2), w(3));
  }

  equals(o: Prefix): boolean {
    return this.len === o.len && this.addr.equals(o.addr);
  }

  /** Orders by address, then shorter first: the order of a table walk. */
  compare(o: Prefix): number {
    return this.addr.compare(o.addr) || this.len - o.len;
  }

  toString(): string {
    return `${this.addr}/${this.len}`;
  }
}

/** The mask of word i (0..3) of a left-aligned prefix of `len` bits. */
export function wordMask(len: number, i: number): number {
  const bits = Math.min(32, Math.max(0, len - 32 * i));
  return bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
}

function maskAddr(a: Addr, len: number): Addr {
  if (a.family === 4) return Addr.v4((a.w0 & wordMask(len, 0)) >>> 0);
  return Addr.v6(a.w0 & wordMask(len, 0), a.w1 & wordMask(len, 1), a.w2 & wordMask(len, 2), a.w3 & wordMask(len, 3));
}

/** Parses dotted-decimal IPv4 in s[start, end); the value, or the reason it is not one. */
function parseV4(s: string, start: number, end: number): number | string {
  let value = 0;
  let parts = 0;
  let i = start;
  while (true) {
    const partStart = i;
    let part = 0;
    while (i < end) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) break;
      part = part * 10 + (c - 48);
      if (part > 255) return "IPv4 field has value >255";
      i++;
    }
    if (i === partStart) return i < end && s[i] !== "." ? `unexpected character ${JSON.stringify(s[i])}` : "IPv4 field must have at least one digit";
    if (i - partStart > 1 && s.charCodeAt(partStart) === 48) return "IPv4 field has octet with leading zero";
    value = value * 256 + part;
    parts++;
    if (i === end) break;
    if (s[i] !== ".") return `unexpected character ${JSON.stringify(s[i])}`;
    if (parts === 4) return "IPv4 address too long";
    i++;
  }
  if (parts !== 4) return "IPv4 address too short";
  return value;
}

function parseV6(s: string): Addr | ParseError {
  if (s.includes("%")) return new ParseError(s, "IPv6 zones are not supported");
  const groups: number[] = [];
  let ellipsis = -1;
  let i = 0;
  if (s.startsWith("::")) {
    ellipsis = 0;
    i = 2;
    if (i === s.length) return Addr.v6(0, 0, 0, 0);
  } else if (s.startsWith(":")) {
    return new ParseError(s, "leading single colon");
  }
  while (i < s.length) {
    let j = i;
    let v = 0;
    while (j < s.length && j - i < 5) {
      const c = s.charCodeAt(j);
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (d < 0) break;
      v = v * 16 + d;
      j++;
    }
    if (j - i > 4) return new ParseError(s, "IPv6 field has more than 4 hex digits");
    if (j < s.length && s[j] === ".") {
      // An embedded IPv4 address ends the string and fills two groups.
      if (ellipsis < 0 && groups.length !== 6) return new ParseError(s, "embedded IPv4 address in the wrong place");
      if (groups.length > 6) return new ParseError(s, "too many fields");
      const v4 = parseV4(s, i, s.length);
      if (typeof v4 === "string") return new ParseError(s, v4);
      groups.push(v4 >>> 16, v4 & 0xffff);
      i = s.length;
      break;
    }
    if (j === i) {
      return new ParseError(s, j < s.length ? `unexpected character ${JSON.stringify(s[j])}` : "trailing colon");
    }
    groups.push(v);
    if (groups.length > 8) return new ParseError(s, "too many fields");
    i = j;
    if (i === s.length) break;
    if (s[i] !== ":") return new ParseError(s, `unexpected character ${JSON.stringify(s[i])}`);
    i++;
    if (s[i] === ":") {
      if (ellipsis >= 0) return new ParseError(s, "multiple ::");
      ellipsis = groups.length;
      i++;
      if (i === s.length) break;
    } else if (i === s.length) {
      return new ParseError(s, "trailing colon");
    }
  }
  if (ellipsis >= 0) {
    if (groups.length > 7) return new ParseError(s, ":: expands to nothing");
    groups.splice(ellipsis, 0, ...new Array(8 - groups.length).fill(0));
  } else if (groups.length !== 8) {
    return new ParseError(s, "IPv6 address too short");
  }
  const w = (k: number) => ((groups[2 * k] << 16) | groups[2 * k + 1]) >>> 0;
  return Addr.v6(w(0), w(1), w(2), w(3));
}

function formatV4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

function formatV6(a: Addr): string {
  const g: number[] = [];
  for (const w of [a.w0, a.w1, a.w2, a.w3]) g.push(w >>> 16, w & 0xffff);
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${formatV4(a.w3)}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (from: number, to: number) => g.slice(from, to).map((x) => x.toString(16)).join(":");
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}
