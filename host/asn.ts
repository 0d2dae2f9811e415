// The real benchmark table: address ranges announced in BGP, from the @ip-location-db/asn
// package (a devDependency), split into CIDR prefixes (~565k IPv4, ~168k IPv6) with the
// origin AS as next hop ("AS13335"). The prefix-length mix is the real one. The data has a
// few overlapping ranges; a prefix they both produce is kept once, with the first origin.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Addr, Family, Prefix } from "./netip.ts";
import type { Route } from "./routefile.ts";

/** Routes of the real table for a family. Throws if the package is not installed. */
export function asnRoutes(family: Family): Route[] {
  const require = createRequire(import.meta.url);
  let path: string;
  try {
    path = require.resolve(`@ip-location-db/asn/asn-ipv${family}-num.csv`);
  } catch {
    throw new Error("the real table needs the @ip-location-db/asn package: npm install (with dev dependencies)");
  }
  const split: Route[] = [];
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (line === "") continue;
    const [first, last, asn] = line.split(",", 3);
    const nexthop = `AS${asn}`;
    if (family === 4) splitV4(Number(first), Number(last), nexthop, split);
    else splitV6(BigInt(first), BigInt(last), nexthop, split);
  }
  const seen = new Set<string>();
  return split.filter((r) => {
    const key = r.prefix.toString();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function splitV4(lo: number, hi: number, nexthop: string, out: Route[]): void {
  while (lo <= hi) {
    let len = 32;
    while (len > 0) {
      const size = 2 ** (33 - len);
      if (lo % size !== 0 || lo + size - 1 > hi) break;
      len--;
    }
    out.push({ prefix: Prefix.from(Addr.v4(lo), len) as Prefix, nexthop });
    lo += 2 ** (32 - len);
  }
}

function splitV6(lo: bigint, hi: bigint, nexthop: string, out: Route[]): void {
  const M = 0xffffffffn;
  while (lo <= hi) {
    let len = 128;
    while (len > 0) {
      const size = 1n << BigInt(129 - len);
      if (lo % size !== 0n || lo + size - 1n > hi) break;
      len--;
    }
    const a = Addr.v6(Number((lo >> 96n) & M), Number((lo >> 64n) & M), Number((lo >> 32n) & M), Number(lo & M));
    out.push({ prefix: Prefix.from(a, len) as Prefix, nexthop });
    lo += 1n << BigInt(128 - len);
  }
}
