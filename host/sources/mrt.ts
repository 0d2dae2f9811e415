// MRT TABLE_DUMP_V2 (RFC 6396): the RIB dumps of RouteViews and RIPE RIS. Read here: the
// peer index table, and RIB_IPV4_UNICAST / RIB_IPV6_UNICAST records, one prefix each with
// one entry per peer. Every prefix yields its best path:
//
//   highest LOCAL_PREF (default 100) · shortest AS_PATH · lowest ORIGIN · lowest MED ·
//   lowest peer index
//
// and that entry's next hop (NEXT_HOP for IPv4; for IPv6 the global address of
// MP_REACH_NLRI, which TABLE_DUMP_V2 abbreviates to length + address, though some writers
// keep the full attribute: both are read).
//
// Every record header (12 bytes: timestamp, type, subtype, length; big-endian) says how
// long its record is, so a record with a bad body is skipped with an error and reading
// goes on; a header cut short, or a length past the end of the file, ends the file there.
// Each error reads `file: offset: reason`; every good record is kept.

import { readFileSync } from "node:fs";
import { Addr, Prefix, type Family } from "../netip.ts";
import type { Route } from "../routefile.ts";

export class MrtError extends Error {
  override name = "MrtError";
  constructor(readonly file: string, readonly offset: number, readonly reason: string) {
    super(`${file}: ${offset}: ${reason}`);
  }
}

export interface ParsedMrt {
  routes: Route[];
  errors: MrtError[];
  /** RIB records read (one prefix each). */
  records: number;
}

const TABLE_DUMP_V2 = 13;
const RIB_IPV4_UNICAST = 2;
const RIB_IPV6_UNICAST = 4;

const ATTR_ORIGIN = 1;
const ATTR_AS_PATH = 2;
const ATTR_NEXT_HOP = 3;
const ATTR_MED = 4;
const ATTR_LOCAL_PREF = 5;
const ATTR_MP_REACH = 14;

/** A record body that does not parse; becomes an MrtError at the record's offset. */
class Malformed extends Error {}

class Cursor {
  constructor(readonly b: Uint8Array, public at: number, readonly end: number) {}
  need(n: number, what: string): void {
    if (this.at + n > this.end) throw new Malformed(`${what} runs past the end of its record`);
  }
  u8(what: string): number { this.need(1, what); return this.b[this.at++]; }
  u16(what: string): number { this.need(2, what); const v = (this.b[this.at] << 8) | this.b[this.at + 1]; this.at += 2; return v; }
  u32(what: string): number {
    this.need(4, what);
    const b = this.b, i = this.at;
    this.at += 4;
    return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
  }
  bytes(n: number, what: string): Uint8Array { this.need(n, what); const v = this.b.subarray(this.at, this.at + n); this.at += n; return v; }
}

interface Path {
  peer: number;
  localPref: number;
  asPathLength: number;
  origin: number;
  med: number;
  nexthop: Addr | undefined;
}

/** Reads an MRT file; see parseMrt. */
export function readMrt(path: string): ParsedMrt {
  return parseMrt(new Uint8Array(readFileSync(path)), path);
}

/** The routes of an MRT file, its errors printed to stderr as `file: offset: reason`. */
export function readMrtRoutes(path: string): Route[] {
  const parsed = readMrt(path);
  for (const e of parsed.errors) console.error(e.message);
  return parsed.routes;
}

/** The best path of every prefix in a TABLE_DUMP_V2 dump, and every error met (nothing is thrown). */
export function parseMrt(bytes: Uint8Array, file = "<mrt>"): ParsedMrt {
  const best = new Map<string, { prefix: Prefix; path: Path }>();
  const errors: MrtError[] = [];
  let records = 0;
  let at = 0;
  while (at < bytes.length) {
    if (at + 12 > bytes.length) {
      errors.push(new MrtError(file, at, `record header cut short: ${bytes.length - at} of 12 bytes`));
      break;
    }
    const h = new Cursor(bytes, at, bytes.length);
    h.u32("timestamp");
    const type = h.u16("type");
    const subtype = h.u16("subtype");
    const length = h.u32("length");
    const body = at + 12;
    if (body + length > bytes.length) {
      errors.push(new MrtError(file, at, `record of ${length} bytes runs ${body + length - bytes.length} bytes past the end of the file`));
      break;
    }
    if (type === TABLE_DUMP_V2 && (subtype === RIB_IPV4_UNICAST || subtype === RIB_IPV6_UNICAST)) {
      try {
        const family: Family = subtype === RIB_IPV4_UNICAST ? 4 : 6;
        const { prefix, path } = ribRecord(new Cursor(bytes, body, body + length), family);
        records++;
        if (path) {
          const key = prefix.toString();
          const held = best.get(key);
          if (!held || better(path, held.path)) best.set(key, { prefix, path });
        }
      } catch (e) {
        if (!(e instanceof Malformed)) throw e;
        errors.push(new MrtError(file, at, e.message));
      }
    }
    // Other records (the peer index table among them: peers are known by index here) are skipped.
    at = body + length;
  }
  const routes: Route[] = [];
  for (const { prefix, path } of best.values()) {
    if (path.nexthop) routes.push({ prefix, nexthop: path.nexthop.toString() });
  }
  routes.sort((a, b) => a.prefix.compare(b.prefix));
  return { routes, errors, records };
}

function better(a: Path, b: Path): boolean {
  if (a.localPref !== b.localPref) return a.localPref > b.localPref;
  if (a.asPathLength !== b.asPathLength) return a.asPathLength < b.asPathLength;
  if (a.origin !== b.origin) return a.origin < b.origin;
  if (a.med !== b.med) return a.med < b.med;
  return a.peer < b.peer;
}

/** A RIB record: its prefix and its best entry with a next hop (undefined when none has one). */
function ribRecord(c: Cursor, family: Family): { prefix: Prefix; path: Path | undefined } {
  c.u32("sequence number");
  const len = c.u8("prefix length");
  if (len > (family === 4 ? 32 : 128)) throw new Malformed(`prefix length ${len} beyond IPv${family}`);
  const raw = c.bytes(Math.ceil(len / 8), "prefix");
  const full = new Uint8Array(family === 4 ? 4 : 16);
  full.set(raw);
  const prefix = Prefix.from(addrOf(full), len);
  if (!(prefix instanceof Prefix)) throw new Malformed(prefix.message);
  const entries = c.u16("entry count");
  let chosen: Path | undefined;
  for (let i = 0; i < entries; i++) {
    const path = ribEntry(c, family);
    if (path.nexthop && (!chosen || better(path, chosen))) chosen = path;
  }
  if (c.at !== c.end) throw new Malformed(`${c.end - c.at} bytes after the last entry`);
  return { prefix, path: chosen };
}

function ribEntry(c: Cursor, family: Family): Path {
  const peer = c.u16("peer index");
  c.u32("originated time");
  const attrLength = c.u16("attribute length");
  const a = new Cursor(c.b, c.at, c.at + attrLength);
  c.bytes(attrLength, "attributes");
  const path: Path = { peer, localPref: 100, asPathLength: 0, origin: 0, med: 0, nexthop: undefined };
  while (a.at < a.end) {
    const flags = a.u8("attribute flags");
    const type = a.u8("attribute type");
    const n = flags & 0x10 ? a.u16("attribute length") : a.u8("attribute length");
    const v = new Cursor(a.b, a.at, a.at + n);
    a.bytes(n, `attribute ${type}`);
    switch (type) {
      case ATTR_ORIGIN: path.origin = v.u8("ORIGIN"); break;
      case ATTR_AS_PATH: path.asPathLength = asPathLength(v); break;
      case ATTR_NEXT_HOP: if (family === 4) path.nexthop = addrOf(v.bytes(4, "NEXT_HOP")); break;
      case ATTR_MED: path.med = v.u32("MED"); break;
      case ATTR_LOCAL_PREF: path.localPref = v.u32("LOCAL_PREF"); break;
      case ATTR_MP_REACH: if (family === 6) path.nexthop = mpReachNexthop(v); break;
    }
  }
  return path;
}

/** AS_PATH length as best-path selection counts it: each AS of a sequence, one per set. */
function asPathLength(v: Cursor): number {
  let n = 0;
  while (v.at < v.end) {
    const type = v.u8("AS_PATH segment type");
    const count = v.u8("AS_PATH segment length");
    v.bytes(4 * count, "AS_PATH segment");
    n += type === 1 ? 1 : count;      // 1: AS_SET
  }
  return n;
}

function mpReachNexthop(v: Cursor): Addr {
  const size = v.end - v.at;
  const first = v.b[v.at];
  // Abbreviated (RFC 6396 §4.3.4): next-hop length, then the address(es).
  if (size === 1 + first && (first === 16 || first === 32)) {
    v.u8("next-hop length");
    return addrOf(v.bytes(16, "next hop"));
  }
  // The full attribute: AFI, SAFI, next-hop length, next hop, ...
  v.u16("AFI");
  v.u8("SAFI");
  const n = v.u8("next-hop length");
  if (n !== 16 && n !== 32) throw new Malformed(`IPv6 next hop of ${n} bytes`);
  return addrOf(v.bytes(16, "next hop"));
}

function addrOf(b: Uint8Array): Addr {
  const w = (i: number) => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
  return b.length === 4 ? Addr.v4(w(0)) : Addr.v6(w(0), w(4), w(8), w(12));
}
