// Writes MRT TABLE_DUMP_V2 files for the tests: a peer index table, then one RIB record
// per prefix with the given entries (RFC 6396; 4-byte AS numbers in AS_PATH).

import type { Prefix } from "../../host/netip.ts";

export interface MrtEntry {
  peer: number;
  nexthop: string;
  asPath?: number[];
  localPref?: number;
  med?: number;
  origin?: number;
  /** IPv6: write MP_REACH_NLRI whole (AFI, SAFI, ...) instead of abbreviated. */
  fullMpReach?: boolean;
}

const u8 = (v: number) => [v & 255];
const u16 = (v: number) => [(v >>> 8) & 255, v & 255];
const u32 = (v: number) => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];

function addrBytes(text: string): number[] {
  if (text.includes(".")) return text.split(".").map(Number);
  const [head, tail = ""] = text.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t].map((g) => parseInt(g, 16));
  return groups.flatMap((g) => u16(g));
}

function attribute(type: number, value: number[]): number[] {
  return value.length > 255 ? [0x50, type, ...u16(value.length), ...value] : [0x40, type, value.length, ...value];
}

function record(subtype: number, body: number[]): number[] {
  return [...u32(1700000000), ...u16(13), ...u16(subtype), ...u32(body.length), ...body];
}

export function mrtFile(table: { prefix: Prefix; entries: MrtEntry[] }[]): Uint8Array {
  const peers = Math.max(1, ...table.flatMap((t) => t.entries.map((e) => e.peer + 1)));
  const peerIndex = [...u32(0x0a000001), ...u16(4), ..."test".split("").map((c) => c.charCodeAt(0)), ...u16(peers)];
  for (let p = 0; p < peers; p++) peerIndex.push(...u8(2), ...u32(p + 1), ...u32(0xc0000200 + p), ...u32(64500 + p));
  const out = record(1, peerIndex);
  table.forEach(({ prefix, entries }, seq) => {
    const v6 = prefix.family === 6;
    const body = [...u32(seq), prefix.len, ...addrBytes(prefix.addr.toString()).slice(0, Math.ceil(prefix.len / 8)), ...u16(entries.length)];
    for (const e of entries) {
      const attrs = [
        ...attribute(1, [e.origin ?? 0]),
        ...attribute(2, e.asPath?.length ? [2, e.asPath.length, ...e.asPath.flatMap(u32)] : []),
        ...(v6 ? [] : attribute(3, addrBytes(e.nexthop))),
        ...(e.med === undefined ? [] : attribute(4, u32(e.med))),
        ...(e.localPref === undefined ? [] : attribute(5, u32(e.localPref))),
        ...(v6 ? attribute(14, e.fullMpReach ? [...u16(2), 1, 16, ...addrBytes(e.nexthop), 0] : [16, ...addrBytes(e.nexthop)]) : []),
      ];
      body.push(...u16(e.peer), ...u32(1700000000), ...u16(attrs.length), ...attrs);
    }
    out.push(...record(v6 ? 4 : 2, body));
  });
  return Uint8Array.from(out);
}
