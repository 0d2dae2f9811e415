// fibcast bench wire: the table on the wire. Snapshot bytes per route (framed, as sent),
// route encode and decode rates in WASM, diff rate, and the same table as FRR's FPM sends
// it (4-byte header + one netlink RTM_NEWROUTE per route), for comparison.

import { Fib, encodeChanges, type Change } from "../host/fib.ts";
import { firmwareImage } from "../host/firmware.ts";
import { NextHopTable } from "../host/nexthops.ts";
import { Addr, type Family, type Prefix } from "../host/netip.ts";
import type { Route } from "../host/routefile.ts";
import { Random } from "../host/random.ts";
import { fpmNewRoute } from "../host/fpm/netlink.ts";
import { streamBytes } from "../host/wire/frame.ts";
import { encodeMessage } from "../host/wire/messages.ts";
import { snapshotMessages, CHUNK_BYTES } from "../host/wire/snapshot.ts";
import { measureRate, round } from "./stats.ts";

export interface WireResult {
  family: Family;
  routes: number;
  /** Snapshot bytes as sent on a byte stream (begin, route chunks, end: frames, COBS, delimiters) per route. */
  bytesPerRoute: number;
  /** Bytes of the next-hop table that goes before the routes (names as written; the real table has one per origin AS). */
  nexthopsBytes: number;
  /** Routes encoded per second in WASM (change records to wire routes). */
  encodeRoutesPerSec: number;
  /** Routes per second from the table to wire routes: the walk in prefix order, then the encoding. */
  snapshotRoutesPerSec: number;
  decodeRoutesPerSec: number;
  /** Entries (both tables) a diff goes through per second: the table against a copy with 1% changed. */
  diffEntriesPerSec: number;
  diffMs: number;
  /** The same routes as FRR's FPM sends them: FPM header + netlink RTM_NEWROUTE each. */
  fpmBytesPerRoute: number;
}

export function benchWire(routes: readonly Route[], options: { quick?: boolean; log?: (s: string) => void } = {}): WireResult[] {
  const out: WireResult[] = [];
  for (const family of [4, 6] as const) {
    const own = routes.filter((r) => r.prefix.family === family);
    if (own.length > 0) out.push(benchFamily(family, own, options.quick ?? false, options.log ?? (() => {})));
  }
  return out;
}

function benchFamily(family: Family, routes: readonly Route[], quick: boolean, log: (s: string) => void): WireResult {
  const nexthops = new NextHopTable();
  const changes: Change[] = routes.map((r) => ({ prefix: r.prefix, nh: nexthops.intern(r.nexthop) }));
  const records = encodeChanges(family, [...changes].sort((a, b) => a.prefix.compare(b.prefix)));
  // Room in the I/O buffer for a diff: both tables and its output.
  const fib = Fib.fromImage(firmwareImage(), { memoryMiB: 512, ioBytes: 16 * records.length + (1 << 20) });
  fib.apply(changes);
  const n = fib.count(family);
  const words = family === 4 ? 3 : 6;
  const runs = quick ? 3 : 7;

  let snapshotBytes = 0;
  let nexthopsBytes = 0;
  for (const m of snapshotMessages(fib, nexthops, { snapshot: 1, sequence: 0, families: [family] })) {
    const size = streamBytes(encodeMessage(m)).length;
    if (m.type === "nexthops") nexthopsBytes += size;
    else snapshotBytes += size;
  }

  const chunks: { bytes: Uint8Array; count: number }[] = [];
  const encode = measureRate(n, runs, () => {
    chunks.length = 0;
    for (let at = 0; at < records.length; ) {
      const c = fib.encodeRoutes(family, records.subarray(at), CHUNK_BYTES);
      chunks.push(c);
      at += c.count * words;
    }
  });
  const snapshot = measureRate(n, runs, () => {
    for (const chunk of fib.snapshotChunks(family, CHUNK_BYTES)) void chunk;
  });
  const decode = measureRate(n, runs, () => {
    for (const c of chunks) fib.decodeRoutes(family, c.bytes, c.count, false);
  });

  const rnd = new Random(7);
  const changed = encodeChanges(family, [...changes].sort((a, b) => a.prefix.compare(b.prefix)).map((c) => (rnd.float() < 0.01 ? { prefix: c.prefix, nh: (c.nh! + 1) % 0xfffffe } : c)));
  const diff = measureRate(2 * n, runs, () => fib.diff(family, records, changed));

  const fpm = fpmBytes(changes.map((c) => c.prefix));

  const result: WireResult = {
    family,
    routes: n,
    bytesPerRoute: round(snapshotBytes / n),
    nexthopsBytes,
    encodeRoutesPerSec: Math.round(encode.median),
    snapshotRoutesPerSec: Math.round(snapshot.median),
    decodeRoutesPerSec: Math.round(decode.median),
    diffEntriesPerSec: Math.round(diff.median),
    diffMs: round((2 * n) / diff.median * 1000),
    fpmBytesPerRoute: round(fpm / n),
  };
  log(`IPv${family}: ${result.bytesPerRoute} B/route + ${nexthopsBytes} B of next hops (FPM ${result.fpmBytesPerRoute} B/route), encode ${round(encode.median / 1e6)} M/s (walk + encode ${round(snapshot.median / 1e6)} M/s), decode ${round(decode.median / 1e6)} M/s, diff ${round(diff.median / 1e6)} M entries/s`);
  return result;
}

/** Bytes of routes as zebra's FPM sends them (again, after every reconnect): one RTM_NEWROUTE each. */
export function fpmBytes(prefixes: Iterable<Prefix>): number {
  const gateway = { 4: Addr.mustParse("192.0.2.1"), 6: Addr.mustParse("2001:db8::1") };
  let n = 0;
  for (const p of prefixes) n += fpmNewRoute(p, gateway[p.family], 2, 20).length;
  return n;
}
