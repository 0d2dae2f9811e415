// One message of every type, with edge values: the codec tests and the fuzzer's seeds.

import { Prefix } from "../../host/netip.ts";
import type { Message } from "../../host/wire/messages.ts";

const bytes = (h: string) => new Uint8Array(Buffer.from(h, "hex"));
const P = Prefix.mustParse;
const subset = { families: [4, 6] as (4 | 6)[], vrfs: [0, 7], prefixes: [P("10.0.0.0/8"), P("2001:db8::/32"), P("0.0.0.0/0")] };
export const sampleMessages: Message[] = [
  { type: "hello", node: "lc0", session: 0x0123456789abcdefn, role: "lc", maxVersion: 1, capabilities: 31, subset },
  { type: "challenge", server: "rp0", nonce: new Uint8Array(32).fill(7) },
  { type: "auth", node: "lc0", method: "hmac-sha256", share: new Uint8Array(32).fill(4), proof: new Uint8Array(32).fill(9) },
  { type: "auth", node: "lc1", method: "ed25519", share: new Uint8Array(32).fill(5), proof: new Uint8Array(64).fill(1) },
  { type: "grant", server: "rp0", role: "standby", stream: 0xfedcba9876543210n, sequence: 12345678901, heartbeatMs: 50, deadAfter: 3, serving: true, share: new Uint8Array(32).fill(8),
    channels: [{ id: 1, subset, group: "239.1.2.3", port: 5400, keyEpoch: 2, key: new Uint8Array(60).fill(3) }] },
  { type: "grant", server: "lc0", role: "standby", stream: 1n, sequence: 0, heartbeatMs: 50, deadAfter: 3, serving: false, share: new Uint8Array(0), channels: [] },
  { type: "channels", channels: [{ id: 4, subset: { families: [4], vrfs: [0], prefixes: [] }, group: "239.1.2.3", port: 5403, keyEpoch: 3, key: new Uint8Array(60).fill(1) }] },
  { type: "deny", code: 3, reason: "unknown client lc9" },
  { type: "nexthops", entries: [{ id: 0, name: "192.0.2.1", interface: "", members: [] }, { id: 5, name: "a,b", interface: "eth1", members: [0, 3] }] },
  { type: "sources", entries: [{ id: 257, name: "ospf", protocol: "ospf", distance: 110, metric: 20, origin: "rp1" }] },
  { type: "snapshotBegin", snapshot: 4, family: 6, routes: 168000, digest: 0x0123456789abcdefn, sequence: 99 },
  { type: "snapshotChunk", snapshot: 4, index: 17, family: 6, count: 3, data: bytes("0a0b0c0d00") },
  { type: "snapshotEnd", snapshot: 4, family: 6, chunks: 18, digest: 0xffffffffffffffffn },
  { type: "update", channel: 2, sequence: 2 ** 40, family: 4, count: 2, data: bytes("00ff00") },
  { type: "ack", channel: 2, sequence: 77 },
  { type: "nak", channel: 2, ranges: [[10, 3], [20, 1]] },
  { type: "retransmission", channel: 2, sequence: 10, family: 4, count: 1, data: bytes("01") },
  { type: "heartbeat", timeMs: 1700000000000, serving: true, sequences: [[1, 5], [2, 9]] },
  { type: "activate", stream: 5n, sequence: 1000, digest4: 1n, digest6: 2n, routes: 731483, nexthops: 3n, resync: "digest", multicast: true },
  { type: "resync", mode: "catch-up", sequence: 1000, through: 1042, digest4: 0n, digest6: 2n ** 64n - 1n },
  { type: "rangeDigests", family: 4, request: 3, nodes: [
    { prefix: P("10.0.0.0/8"), depth: 2, digests: Uint32Array.from([2, 3, 0, 5]) },
    { prefix: P("0.0.0.0/0"), depth: 3, digests: Uint32Array.from([1, 0, 0, 0, 0, 0, 0, 2 ** 32 - 1]) },
    { prefix: P("192.0.2.1/32"), depth: 0, digests: Uint32Array.from([7]) },
    { prefix: P("172.16.0.0/12"), depth: 12, digests: Uint32Array.from({ length: 4096 }, (_, i) => (i % 3 === 0 ? Math.imul(i, 0x9e3779b9) >>> 0 : 0)) },
  ] },
  { type: "rangeDigests", family: 6, request: 0, nodes: [] },
  { type: "rangeRepair", family: 6, request: 3, first: 7,
    nodes: [[{ piece: 0, descend: false }, { piece: 2, descend: true }, { piece: 4095, descend: false }], [], [{ piece: 1, descend: true }, { piece: 3, descend: true, within: P("2001:db8:1:2::/64") }]], last: { digest: 8n }, count: 2, data: bytes("0102") },
  { type: "rangeRepair", family: 4, request: 0, first: 0, nodes: [], count: 0, data: bytes("") },
  { type: "sketchAsk", family: 6, request: 0, cells: 21000, pieces: { from: 1024, to: 2048 } },
  { type: "rangeSketch", family: 4, request: 0, cells: 300, first: 297, data: new Uint8Array(60).fill(9) },
  { type: "sketchRepair", family: 6, request: 2, last: { digest: 0xfedcba9876543210n }, count: 2, data: bytes("0102") },
  { type: "sketchRepair", family: 4, request: 0, count: 0, data: bytes("") },
  { type: "flashBegin", size: 30720, chunkSize: 1024, sha256: new Uint8Array(32).fill(5), signature: new Uint8Array(64).fill(6), key: "build-2026" },
  { type: "flashData", offset: 2048, crc: 0xdeadbeef, data: new Uint8Array(1024).fill(0) },
  { type: "flashEnd", chunks: 30 },
  { type: "flashResult", ok: false, slot: 1, resumeOffset: 4096, reason: "signature does not verify" },
  { type: "error", code: 1, message: "no such subset" },
];

