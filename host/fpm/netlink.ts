// What FRR's zebra sends over FPM for a route (dplane_fpm_nl): a 4-byte FPM header, then a
// netlink RTM_NEWROUTE: nlmsghdr, rtmsg, and attributes for the destination, metric,
// gateway and outgoing interface. Used here to compare wire sizes; the FPM route source
// (issue 4) decodes the same layout.

import type { Prefix, Addr } from "../netip.ts";

export const FPM_HEADER = 4;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
const NLM_F_REQUEST = 0x01;
const NLM_F_CREATE = 0x400;
const NLM_F_REPLACE = 0x100;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RTPROT_ZEBRA = 11;
const RT_SCOPE_UNIVERSE = 0;
const RTN_UNICAST = 1;

function attr(type: number, payload: Uint8Array): Uint8Array {
  const len = 4 + payload.length;
  const out = new Uint8Array((len + 3) & ~3);
  const v = new DataView(out.buffer);
  v.setUint16(0, len, true);
  v.setUint16(2, type, true);
  out.set(payload, 4);
  return out;
}

function addrBytes(a: Addr): Uint8Array {
  const words = a.family === 4 ? [a.w0] : [a.w0, a.w1, a.w2, a.w3];
  const out = new Uint8Array(words.length * 4);
  const v = new DataView(out.buffer);
  words.forEach((w, i) => v.setUint32(4 * i, w, false));
  return out;
}

function u32(x: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, x, true);
  return out;
}

/** One FPM frame carrying an RTM_NEWROUTE for prefix via gateway out of interface `oif`. */
export function fpmNewRoute(prefix: Prefix, gateway: Addr, oif: number, metric: number): Uint8Array {
  const attrs = [attr(RTA_DST, addrBytes(prefix.addr)), attr(RTA_PRIORITY, u32(metric)), attr(RTA_GATEWAY, addrBytes(gateway)), attr(RTA_OIF, u32(oif))];
  const nlLen = 16 + 12 + attrs.reduce((n, a) => n + a.length, 0);
  const out = new Uint8Array(FPM_HEADER + nlLen);
  const v = new DataView(out.buffer);
  // FPM header: version 1, type 1 (netlink), total length (big-endian), header included.
  out[0] = 1;
  out[1] = 1;
  v.setUint16(2, out.length, false);
  // nlmsghdr
  v.setUint32(4, nlLen, true);
  v.setUint16(8, RTM_NEWROUTE, true);
  v.setUint16(10, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE, true);
  // rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags
  out[20] = prefix.family === 4 ? 2 : 10;
  out[21] = prefix.len;
  out[24] = 254;
  out[25] = RTPROT_ZEBRA;
  out[26] = RT_SCOPE_UNIVERSE;
  out[27] = RTN_UNICAST;
  let at = 32;
  for (const a of attrs) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}
