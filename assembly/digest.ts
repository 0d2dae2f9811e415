// The table digest: an order-independent 64-bit hash of the set of (prefix, length, next hop).
//
// Each route hashes to 64 bits; the digest is their sum modulo 2^64, so adding, replacing or
// removing a route updates it in O(1) and two tables hold the same routes exactly when (up to
// collisions) their digests are equal. host/digest.ts computes the same function.

@inline function fmix64(k: u64): u64 {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccd;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53;
  k ^= k >> 33;
  return k;
}

/**
 * Hash of one route. `hi` and `lo` hold the prefix left-aligned in 128 bits (an IPv4 prefix
 * in the top 32 bits of `hi`), host bits zero.
 */
export function routeHash(family: u32, hi: u64, lo: u64, len: u32, nh: u32): u64 {
  let h = fmix64(hi ^ 0x9e3779b97f4a7c15);
  h = fmix64(h ^ lo);
  return fmix64(h ^ ((<u64>family << 40) | (<u64>len << 32) | <u64>nh));
}
