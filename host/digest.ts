// The table digest, computed on the host: an order-independent 64-bit hash of the set of
// (prefix, length, next hop), the same function as assembly/digest.ts. Two tables hold the
// same routes exactly when (up to collisions) their digests are equal.

import { Prefix } from "./netip.ts";

const M64 = (1n << 64n) - 1n;

function fmix64(k: bigint): bigint {
  k ^= k >> 33n;
  k = (k * 0xff51afd7ed558ccdn) & M64;
  k ^= k >> 33n;
  k = (k * 0xc4ceb9fe1a85ec53n) & M64;
  k ^= k >> 33n;
  return k;
}

/** Hash of one route. */
export function routeHash(p: Prefix, nh: number): bigint {
  const a = p.addr;
  const hi = (BigInt(a.w0) << 32n) | BigInt(a.w1);
  const lo = (BigInt(a.w2) << 32n) | BigInt(a.w3);
  let h = fmix64(hi ^ 0x9e3779b97f4a7c15n);
  h = fmix64(h ^ lo);
  return fmix64(h ^ ((BigInt(p.family) << 40n) | (BigInt(p.len) << 32n) | BigInt(nh)));
}

/** Digest of a set of routes (each prefix once). */
export function tableDigest(routes: Iterable<readonly [Prefix, number]>): bigint {
  let d = 0n;
  for (const [p, nh] of routes) d = (d + routeHash(p, nh)) & M64;
  return d;
}
