// What FRR's zebra sends over FPM (dplane_fpm_nl), read back: a stream of FPM frames (1-byte
// version 1, 1-byte type 1 = netlink, 2-byte big-endian length including the header), each
// holding netlink messages (little-endian nlmsghdr, then the payload, 4-byte aligned):
//
//   RTM_NEWROUTE / RTM_DELROUTE    rtmsg (family, dst_len, …, table, …), then attributes:
//                                  RTA_DST, RTA_GATEWAY, RTA_OIF, RTA_PRIORITY, RTA_TABLE,
//                                  RTA_MULTIPATH (rtnexthop list), RTA_NH_ID (a group)
//   RTM_NEWNEXTHOP / RTM_DELNEXTHOP  nhmsg (family, …), then NHA_ID, NHA_GROUP (id·weight
//                                  list), NHA_BLACKHOLE, NHA_OIF, NHA_GATEWAY
//
// A route with RTA_NH_ID points at a next hop (or group) sent before it; a new definition
// of an id replaces the old one. Decoding never throws: anything it cannot read is
// counted with its reason and skipped (a frame, or one netlink message).

import { Addr } from "../netip.ts";
import { FPM_HEADER, RTM_NEWROUTE, RTM_DELROUTE } from "./netlink.ts";

export const RTM_NEWNEXTHOP = 104;
export const RTM_DELNEXTHOP = 105;
const RTA_DST = 1, RTA_OIF = 4, RTA_GATEWAY = 5, RTA_PRIORITY = 6, RTA_MULTIPATH = 9, RTA_TABLE = 15, RTA_NH_ID = 30;
const NHA_ID = 1, NHA_GROUP = 2, NHA_BLACKHOLE = 3, NHA_OIF = 5, NHA_GATEWAY = 6;
const AF_INET = 2, AF_INET6 = 10;
/** Frames larger than this are not FPM (zebra's are a few hundred bytes). */
const MAX_FPM_FRAME = 65535;

/** One hop of a route or next-hop object: a gateway, an interface, or both; or a blackhole. */
export interface Hop {
  gateway?: Addr;
  ifindex?: number;
  blackhole?: boolean;
}

export type FpmEvent =
  | { kind: "route"; family: 4 | 6; addr: Addr; len: number; table: number; metric: number; hops: Hop[]; nhId?: number }
  | { kind: "withdraw"; family: 4 | 6; addr: Addr; len: number; table: number }
  | { kind: "nexthop"; id: number; hop?: Hop; group?: number[] }
  | { kind: "nexthopGone"; id: number };

export interface FpmCounters {
  frames: number;
  messages: number;
  /** Frames or messages skipped, by reason. */
  skipped: Record<string, number>;
}

export class FpmDecoder {
  readonly counters: FpmCounters = { frames: 0, messages: 0, skipped: {} };
  private buf = new Uint8Array(0);

  /** Takes stream bytes; returns the events of the frames they complete. */
  push(chunk: Uint8Array): FpmEvent[] {
    const all = this.buf.length ? concat(this.buf, chunk) : chunk;
    const out: FpmEvent[] = [];
    let at = 0;
    while (all.length - at >= FPM_HEADER) {
      const len = (all[at + 2] << 8) | all[at + 3];
      if (all[at] !== 1 || len < FPM_HEADER || len > MAX_FPM_FRAME) {
        // Not a frame start: resynchronise one byte on.
        this.skip(`bad FPM header (version ${all[at]}, length ${len})`);
        at++;
        continue;
      }
      if (all.length - at < len) break;
      this.counters.frames++;
      if (all[at + 1] === 1) this.netlink(all.subarray(at + FPM_HEADER, at + len), out);
      else this.skip(`FPM message type ${all[at + 1]}`);
      at += len;
    }
    this.buf = all.slice(at);
    return out;
  }

  private skip(reason: string): void {
    this.counters.skipped[reason] = (this.counters.skipped[reason] ?? 0) + 1;
  }

  private netlink(b: Uint8Array, out: FpmEvent[]): void {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    let at = 0;
    while (b.length - at >= 16) {
      const len = v.getUint32(at, true);
      if (len < 16 || at + len > b.length) { this.skip("netlink message length"); return; }
      const type = v.getUint16(at + 4, true);
      this.counters.messages++;
      const body = new DataView(b.buffer, b.byteOffset + at + 16, len - 16);
      const e = type === RTM_NEWROUTE || type === RTM_DELROUTE ? this.route(type, body)
        : type === RTM_NEWNEXTHOP || type === RTM_DELNEXTHOP ? this.nexthop(type, body)
        : (this.skip(`netlink message type ${type}`), undefined);
      if (e) out.push(e);
      at += (len + 3) & ~3;
    }
  }

  private route(type: number, v: DataView): FpmEvent | undefined {
    if (v.byteLength < 12) return this.bad("rtmsg cut short");
    const af = v.getUint8(0);
    if (af !== AF_INET && af !== AF_INET6) return this.bad(`route family ${af}`);
    const family = af === AF_INET ? 4 : 6;
    const len = v.getUint8(1);
    if (len > (family === 4 ? 32 : 128)) return this.bad(`prefix length ${len}`);
    let table = v.getUint8(4);
    let addr = family === 4 ? Addr.v4(0) : Addr.v6(0, 0, 0, 0);
    let metric = 0;
    let nhId: number | undefined;
    const hops: Hop[] = [];
    const direct: Hop = {};
    for (const [t, a] of attrs(v, 12)) {
      if (t === RTA_DST) addr = addrOf(a, family) ?? addr;
      else if (t === RTA_TABLE && a.byteLength >= 4) table = a.getUint32(0, true);
      else if (t === RTA_PRIORITY && a.byteLength >= 4) metric = a.getUint32(0, true);
      else if (t === RTA_GATEWAY) direct.gateway = addrOf(a, family);
      else if (t === RTA_OIF && a.byteLength >= 4) direct.ifindex = a.getUint32(0, true);
      else if (t === RTA_NH_ID && a.byteLength >= 4) nhId = a.getUint32(0, true);
      else if (t === RTA_MULTIPATH) hops.push(...multipath(a, family));
    }
    if (type === RTM_DELROUTE) return { kind: "withdraw", family, addr, len, table };
    if (direct.gateway || direct.ifindex !== undefined) hops.unshift(direct);
    if (hops.length === 0 && nhId === undefined && v.getUint8(7) !== 1) hops.push({ blackhole: true });   // type not unicast: blackhole, unreachable
    return { kind: "route", family, addr, len, table, metric, hops, ...(nhId === undefined ? {} : { nhId }) };
  }

  private nexthop(type: number, v: DataView): FpmEvent | undefined {
    if (v.byteLength < 8) return this.bad("nhmsg cut short");
    const af = v.getUint8(0);
    const family = af === AF_INET6 ? 6 : 4;
    let id: number | undefined;
    const hop: Hop = {};
    let group: number[] | undefined;
    for (const [t, a] of attrs(v, 8)) {
      if (t === NHA_ID && a.byteLength >= 4) id = a.getUint32(0, true);
      else if (t === NHA_GATEWAY) hop.gateway = addrOf(a, a.byteLength === 16 ? 6 : family);
      else if (t === NHA_OIF && a.byteLength >= 4) hop.ifindex = a.getUint32(0, true);
      else if (t === NHA_BLACKHOLE) hop.blackhole = true;
      else if (t === NHA_GROUP) {
        group = [];
        for (let i = 0; i + 8 <= a.byteLength; i += 8) group.push(a.getUint32(i, true));
      }
    }
    if (id === undefined) return this.bad("next hop without NHA_ID");
    if (type === RTM_DELNEXTHOP) return { kind: "nexthopGone", id };
    return group ? { kind: "nexthop", id, group } : { kind: "nexthop", id, hop };
  }

  private bad(reason: string): undefined {
    this.skip(reason);
    return undefined;
  }
}

/** The rtattrs from `from` on: [type, payload]. */
function* attrs(v: DataView, from: number): Generator<[number, DataView]> {
  let at = from;
  while (v.byteLength - at >= 4) {
    const len = v.getUint16(at, true);
    if (len < 4 || at + len > v.byteLength) return;
    yield [v.getUint16(at + 2, true) & 0x3fff, new DataView(v.buffer, v.byteOffset + at + 4, len - 4)];
    at += (len + 3) & ~3;
  }
}

/** RTA_MULTIPATH: rtnexthop (len u16, flags u8, hops u8, ifindex u32) each followed by its attributes. */
function multipath(v: DataView, family: 4 | 6): Hop[] {
  const hops: Hop[] = [];
  let at = 0;
  while (v.byteLength - at >= 8) {
    const len = v.getUint16(at, true);
    if (len < 8 || at + len > v.byteLength) break;
    const hop: Hop = { ifindex: v.getUint32(at + 4, true) };
    for (const [t, a] of attrs(new DataView(v.buffer, v.byteOffset + at, len), 8)) if (t === RTA_GATEWAY) hop.gateway = addrOf(a, family);
    hops.push(hop);
    at += (len + 3) & ~3;
  }
  return hops;
}

function addrOf(v: DataView, family: 4 | 6): Addr | undefined {
  if (family === 4) return v.byteLength >= 4 ? Addr.v4(v.getUint32(0, false)) : undefined;
  return v.byteLength >= 16 ? Addr.v6(v.getUint32(0, false), v.getUint32(4, false), v.getUint32(8, false), v.getUint32(12, false)) : undefined;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
