// The messages of the registration/update protocol (docs/protocol.md has the byte diagrams
// and the registration state diagram). The codec is pure: a message in, frame bytes out;
// frame bytes in, a message or a WireError out. Decoding rejects unknown types, bodies that
// end early, and trailing bytes.

import { Addr, type Family, Prefix } from "../netip.ts";
import { encodeFrame, type Frame } from "./frame.ts";
import { Reader, ShortRead, Writer } from "./bytes.ts";
import { sketchCellWords } from "../fib.ts";

export type Role = "rp" | "lc" | "npu";
export type ServerRole = "primary" | "standby";

/** The piece of the table a client asks for. Empty lists mean "all". */
export interface Subset {
  families: Family[];
  vrfs: number[];
  prefixes: Prefix[];
}

/** A multicast channel a grant opens to a client. */
export interface Channel {
  id: number;
  subset: Subset;
  group: string;
  port: number;
  keyEpoch: number;
  /** The channel key, wrapped for this client. */
  key: Uint8Array;
}

/** What a next-hop id means: how it was written, its interface, its ECMP members. */
export interface NextHopEntry {
  id: number;
  name: string;
  interface: string;
  members: number[];
}

/** Capability bits of hello. */
/** A route source a route processor runs, as its peers learn of it. */
export interface SourceEntry {
  /** Chassis-wide: the snapshot id and update channel of its table on RP–RP links. */
  id: number;
  name: string;
  protocol: string;
  distance: number;
  metric: number;
  /** The route processor that runs it. */
  origin: string;
}

export const CAP_SNAPSHOT = 1;
export const CAP_DIGEST_RESYNC = 2;
export const CAP_MULTICAST = 4;
export const CAP_FLASH = 8;
export const CAP_ENCRYPTION = 16;

/**
 * How a server brings a client that activates it to equality: a full copy of the subset
 * (the client applies the difference), or range digests then only the parts that differ.
 */
export type ResyncMode = "copy" | "digest";

/** A range of the address space a client describes by its digests (assembly/ranges.ts). */
export interface RangeNode {
  prefix: Prefix;
  depth: number;
  /**
   * One per piece, 2^depth: the low 32 bits of the digest of the routes whose address lies
   * in it. Short on purpose: the client sends these for much of its table, and a piece
   * that differs yet looks equal (odds 2^-32) shows as a different table digest at the end.
   */
  digests: Uint32Array;
}

/**
 * A piece of a node that differs: its routes are in the repair, or (descend) it holds too
 * many to send and the client describes it further.
 */
export interface RangeVerdict {
  piece: number;
  descend: boolean;
  /**
   * Descend only: a prefix inside the piece that holds every route the server has there.
   * The client drops its own routes in the rest of the piece and describes this prefix
   * instead: routes close together deep inside a wide piece take one descent, not one per
   * few bits.
   */
  within?: Prefix;
}

/**
 * Pieces [from, to) of a family's first range node (the whole address space split
 * MAX_DIGEST_DEPTH levels down): what a sketch is of. A difference too wide for one sketch
 * is sketched a range of pieces at a time.
 */
export interface PieceRange {
  from: number;
  to: number;
}

/** Codes of the error message. */
export const ERROR_NOT_REGISTERED = 1;   // the server has no session for this client: say hello again
export const ERROR_BEYOND_BACKLOG = 2;   // a repair asked for updates the server no longer holds: activate again

export type Message =
  | { type: "hello"; node: string; session: bigint; role: Role; maxVersion: number; capabilities: number; subset: Subset }
  | { type: "challenge"; server: string; nonce: Uint8Array }
  | { type: "auth"; node: string; method: "hmac-sha256" | "ed25519"; share: Uint8Array; proof: Uint8Array }
  | { type: "grant"; server: string; role: ServerRole; stream: bigint; sequence: number; heartbeatMs: number; deadAfter: number; serving: boolean; share: Uint8Array; channels: Channel[] }
  | { type: "channels"; channels: Channel[] }
  | { type: "deny"; code: number; reason: string }
  | { type: "nexthops"; entries: NextHopEntry[] }
  | { type: "sources"; entries: SourceEntry[] }
  | { type: "snapshotBegin"; snapshot: number; family: Family; routes: number; digest: bigint; sequence: number }
  | { type: "snapshotChunk"; snapshot: number; index: number; family: Family; count: number; data: Uint8Array }
  | { type: "snapshotEnd"; snapshot: number; family: Family; chunks: number; digest: bigint }
  | { type: "update"; channel: number; sequence: number; family: Family; count: number; data: Uint8Array }
  | { type: "ack"; channel: number; sequence: number }
  | { type: "nak"; channel: number; ranges: [from: number, count: number][] }
  | { type: "retransmission"; channel: number; sequence: number; family: Family; count: number; data: Uint8Array }
  | { type: "heartbeat"; timeMs: number; serving: boolean; sequences: [channel: number, sequence: number][] }
  | { type: "activate"; stream: bigint; sequence: number; digest4: bigint; digest6: bigint; routes: number; nexthops: bigint; resync: ResyncMode; multicast: boolean }
  | { type: "resync"; mode: ResyncMode | "catch-up"; sequence: number; through: number; digest4: bigint; digest6: bigint }
  | { type: "rangeDigests"; family: Family; request: number; nodes: RangeNode[] }
  | { type: "rangeRepair"; family: Family; request: number; first: number; nodes: RangeVerdict[][]; last?: { digest: bigint }; count: number; data: Uint8Array }
  | { type: "sketchAsk"; family: Family; request: number; cells: number; pieces: PieceRange }
  | { type: "rangeSketch"; family: Family; request: number; cells: number; first: number; data: Uint8Array }
  | { type: "sketchRepair"; family: Family; request: number; last?: { digest: bigint }; count: number; data: Uint8Array }
  | { type: "flashBegin"; size: number; chunkSize: number; sha256: Uint8Array; signature: Uint8Array; key: string }
  | { type: "flashData"; offset: number; crc: number; data: Uint8Array }
  | { type: "flashEnd"; chunks: number }
  | { type: "flashResult"; ok: boolean; slot: number; resumeOffset: number; reason: string }
  | { type: "error"; code: number; message: string };

export type MessageType = Message["type"];
type Of<T extends MessageType> = Extract<Message, { type: T }>;

/** A frame whose body is not a message this node understands. */
export class WireError extends Error {
  override name = "WireError";
  constructor(readonly kind: "unknown-type" | "truncated" | "trailing" | "malformed", message: string) {
    super(message);
  }
}

/** Largest depth of a range node: 2^12 pieces. */
export const MAX_DIGEST_DEPTH = 12;
/** Pieces of the first range node, which a sketch's PieceRange counts in. */
export const TOP_PIECES = 1 << MAX_DIGEST_DEPTH;

const RESYNC_MODES = ["copy", "digest", "catch-up"] as const;

const ROLES: readonly Role[] = ["rp", "lc", "npu"];
const SERVER_ROLES: readonly ServerRole[] = ["primary", "standby"];
const METHODS = ["hmac-sha256", "ed25519"] as const;

function family(r: Reader): Family {
  const f = r.u8();
  if (f !== 4 && f !== 6) throw new RangeError(`address family ${f}`);
  return f;
}

function pick<T>(list: readonly T[], i: number, what: string): T {
  if (i >= list.length) throw new RangeError(`${what} ${i}`);
  return list[i];
}

function fixed(r: Reader, n: number): Uint8Array {
  return r.raw(n);
}

function writeFixed(w: Writer, b: Uint8Array, n: number, what: string): Writer {
  if (b.length !== n) throw new RangeError(`${what} must be ${n} bytes, got ${b.length}`);
  return w.raw(b);
}

/** Prefix: family u8 · len u8 · the address bytes the length covers. */
function writePrefix(w: Writer, p: Prefix): void {
  w.u8(p.family).u8(p.len);
  const a = p.addr;
  const words = [a.w0, a.w1, a.w2, a.w3];
  for (let k = 0; k < Math.ceil(p.len / 8); k++) w.u8(words[k >> 2] >>> (24 - 8 * (k & 3)));
}

function readPrefix(r: Reader): Prefix {
  const f = family(r);
  const len = r.u8();
  if (len > (f === 4 ? 32 : 128)) throw new RangeError(`prefix length ${len}`);
  const words = [0, 0, 0, 0];
  for (let k = 0; k < Math.ceil(len / 8); k++) words[k >> 2] |= r.u8() << (24 - 8 * (k & 3));
  const addr = f === 4 ? Addr.v4(words[0]) : Addr.v6(words[0], words[1], words[2], words[3]);
  const p = Prefix.from(addr, len) as Prefix;
  if (!p.addr.equals(addr)) throw new RangeError(`prefix ${addr}/${len} has host bits set`);
  return p;
}

function flag(r: Reader): boolean {
  const b = r.u8();
  if (b > 1) throw new RangeError(`flag ${b}`);
  return b === 1;
}

function depthOf(r: Reader): number {
  const depth = r.u8();
  if (depth > MAX_DIGEST_DEPTH) throw new RangeError(`range depth ${depth}`);
  return depth;
}

/**
 * A range node: prefix · depth u8 · a bitmap of the 2^depth pieces whose digest is not zero
 * (an empty piece's is) · those digests, u32 each. The last bitmap byte's unused bits are
 * zero.
 */
function writeRangeNode(w: Writer, f: Family, node: RangeNode): void {
  const parts = 2 ** node.depth;
  if (node.prefix.family !== f || node.depth > MAX_DIGEST_DEPTH || node.prefix.len + node.depth > node.prefix.addr.bitLen || node.digests.length !== parts) {
    throw new RangeError(`range node ${node.prefix} at depth ${node.depth} with ${node.digests.length} digests`);
  }
  writePrefix(w, node.prefix);
  w.u8(node.depth);
  const digests = node.digests;
  for (let i = 0; i < parts; i += 8) {
    let byte = 0;
    for (let k = 0; k < 8 && i + k < parts; k++) if (digests[i + k] !== 0) byte |= 1 << k;
    w.u8(byte);
  }
  for (let i = 0; i < parts; i++) if (digests[i] !== 0) w.u32(digests[i]);
}

/** Set bits of each byte value. */
const POPCOUNT = Uint8Array.from({ length: 256 }, (_, b) => { let n = 0; for (let x = b; x; x &= x - 1) n++; return n; });

function readRangeNode(r: Reader, f: Family): RangeNode {
  const prefix = readPrefix(r);
  if (prefix.family !== f) throw new RangeError("range prefix of another family");
  const depth = depthOf(r);
  if (prefix.len + depth > prefix.addr.bitLen) throw new RangeError(`${prefix} split ${depth} levels goes beyond the address`);
  const parts = 2 ** depth;
  const bitmap = r.view(Math.ceil(parts / 8));
  if (parts % 8 !== 0 && bitmap[bitmap.length - 1] >> (parts % 8) !== 0) throw new RangeError("range bitmap has bits past its pieces");
  let present = 0;
  for (let i = 0; i < bitmap.length; i++) present += POPCOUNT[bitmap[i]];
  const bytes = r.view(4 * present);
  const digests = new Uint32Array(parts);
  for (let i = 0, k = 0; i < parts; i++) {
    if (((bitmap[i >> 3] >> (i & 7)) & 1) === 0) continue;
    const d = (bytes[k] | (bytes[k + 1] << 8) | (bytes[k + 2] << 16) | (bytes[k + 3] << 24)) >>> 0;
    k += 4;
    if (d === 0) throw new RangeError("a zero digest marked present");
    digests[i] = d;
  }
  return { prefix, depth, digests };
}

/**
 * A node's verdicts, pieces in increasing order: a count, then per piece a varint of the
 * gap from the previous piece (the first's from −1) less one, times three, plus the kind:
 * 0 replace, 1 descend, 2 descend within the prefix that follows.
 */
function writeVerdicts(w: Writer, verdicts: readonly RangeVerdict[]): void {
  w.varint(verdicts.length);
  let piece = -1;
  for (const v of verdicts) {
    if (v.piece <= piece) throw new RangeError("range pieces out of order");
    if (v.within && !v.descend) throw new RangeError("a replaced piece has no prefix within");
    w.varint((v.piece - piece - 1) * 3 + (v.within ? 2 : v.descend ? 1 : 0));
    if (v.within) writePrefix(w, v.within);
    piece = v.piece;
  }
}

function readVerdicts(r: Reader): RangeVerdict[] {
  let piece = -1;
  return list(r, () => {
    const x = r.varint();
    piece += Math.floor(x / 3) + 1;
    const kind = x % 3;
    return kind === 2 ? { piece, descend: true, within: readPrefix(r) } : { piece, descend: kind === 1 };
  });
}

function writeSubset(w: Writer, s: Subset): void {
  w.varint(s.families.length);
  for (const f of s.families) w.u8(f);
  w.varint(s.vrfs.length);
  for (const v of s.vrfs) w.varint(v);
  w.varint(s.prefixes.length);
  for (const p of s.prefixes) writePrefix(w, p);
}

function readSubset(r: Reader): Subset {
  const families = list(r, () => family(r));
  const vrfs = list(r, () => r.varint());
  const prefixes = list(r, () => readPrefix(r));
  return { families, vrfs, prefixes };
}

/** A grant's key share: none (registration without authorization) or an X25519 public key. */
function keyShare(r: Reader): Uint8Array {
  const share = r.bytes(32);
  if (share.length !== 0 && share.length !== 32) throw new RangeError(`key share of ${share.length} bytes`);
  return share;
}

/** Channels: id · subset · group · port · key epoch · the channel key wrapped for the client. */
function writeChannels(w: Writer, channels: readonly Channel[]): void {
  w.varint(channels.length);
  for (const c of channels) {
    w.varint(c.id);
    writeSubset(w, c.subset);
    w.string(c.group).u16(c.port).varint(c.keyEpoch).bytes(c.key);
  }
}

function readChannels(r: Reader): Channel[] {
  return list(r, () => ({ id: r.varint(), subset: readSubset(r), group: r.string(), port: r.u16(), keyEpoch: r.varint(), key: r.bytes(256) }));
}

function list<T>(r: Reader, item: () => T): T[] {
  const n = r.varint();
  if (n > r.left) throw new ShortRead(`a list of ${n} items in ${r.left} bytes`);
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(item());
  return out;
}

interface Codec<M> {
  code: number;
  write(w: Writer, m: M): void;
  read(r: Reader): M;
}

// Type codes: grouped by purpose, never reused.
const CODECS: { [T in MessageType]: Codec<Of<T>> } = {
  hello: {
    code: 0x01,
    write: (w, m) => { w.string(m.node).u64(m.session).u8(ROLES.indexOf(m.role)).u8(m.maxVersion).varint(m.capabilities); writeSubset(w, m.subset); },
    read: (r) => ({ type: "hello", node: r.string(), session: r.u64(), role: pick(ROLES, r.u8(), "role"), maxVersion: r.u8(), capabilities: r.varint(), subset: readSubset(r) }),
  },
  challenge: {
    code: 0x02,
    write: (w, m) => { w.string(m.server); writeFixed(w, m.nonce, 32, "nonce"); },
    read: (r) => ({ type: "challenge", server: r.string(), nonce: fixed(r, 32) }),
  },
  auth: {
    code: 0x03,
    write: (w, m) => { w.string(m.node).u8(METHODS.indexOf(m.method)); writeFixed(w, m.share, 32, "key share"); w.bytes(m.proof); },
    read: (r) => ({ type: "auth", node: r.string(), method: pick(METHODS, r.u8(), "auth method"), share: fixed(r, 32), proof: r.bytes(1024) }),
  },
  grant: {
    code: 0x04,
    write: (w, m) => {
      w.string(m.server).u8(SERVER_ROLES.indexOf(m.role)).u64(m.stream).varint(m.sequence).varint(m.heartbeatMs).u8(m.deadAfter).u8(m.serving ? 1 : 0).bytes(m.share);
      writeChannels(w, m.channels);
    },
    read: (r) => ({
      type: "grant", server: r.string(), role: pick(SERVER_ROLES, r.u8(), "server role"), stream: r.u64(), sequence: r.varint(),
      heartbeatMs: r.varint(), deadAfter: r.u8(), serving: flag(r), share: keyShare(r), channels: readChannels(r),
    }),
  },
  channels: {
    code: 0x06,
    write: (w, m) => writeChannels(w, m.channels),
    read: (r) => ({ type: "channels", channels: readChannels(r) }),
  },
  deny: {
    code: 0x05,
    write: (w, m) => { w.varint(m.code).string(m.reason); },
    read: (r) => ({ type: "deny", code: r.varint(), reason: r.string() }),
  },
  nexthops: {
    code: 0x13,
    write: (w, m) => {
      w.varint(m.entries.length);
      for (const e of m.entries) {
        w.varint(e.id).string(e.name).string(e.interface).varint(e.members.length);
        for (const x of e.members) w.varint(x);
      }
    },
    read: (r) => ({ type: "nexthops", entries: list(r, () => ({ id: r.varint(), name: r.string(), interface: r.string(), members: list(r, () => r.varint()) })) }),
  },
  sources: {
    code: 0x14,
    write: (w, m) => {
      w.varint(m.entries.length);
      for (const e of m.entries) w.varint(e.id).string(e.name).string(e.protocol).varint(e.distance).varint(e.metric).string(e.origin);
    },
    read: (r) => ({ type: "sources", entries: list(r, () => ({ id: r.varint(), name: r.string(), protocol: r.string(), distance: r.varint(), metric: r.varint(), origin: r.string() })) }),
  },
  snapshotBegin: {
    code: 0x10,
    write: (w, m) => { w.varint(m.snapshot).u8(m.family).varint(m.routes).u64(m.digest).varint(m.sequence); },
    read: (r) => ({ type: "snapshotBegin", snapshot: r.varint(), family: family(r), routes: r.varint(), digest: r.u64(), sequence: r.varint() }),
  },
  snapshotChunk: {
    code: 0x11,
    write: (w, m) => { w.varint(m.snapshot).varint(m.index).u8(m.family).varint(m.count).raw(m.data); },
    read: (r) => ({ type: "snapshotChunk", snapshot: r.varint(), index: r.varint(), family: family(r), count: r.varint(), data: r.raw(r.left) }),
  },
  snapshotEnd: {
    code: 0x12,
    write: (w, m) => { w.varint(m.snapshot).u8(m.family).varint(m.chunks).u64(m.digest); },
    read: (r) => ({ type: "snapshotEnd", snapshot: r.varint(), family: family(r), chunks: r.varint(), digest: r.u64() }),
  },
  update: {
    code: 0x20,
    write: (w, m) => { w.varint(m.channel).varint(m.sequence).u8(m.family).varint(m.count).raw(m.data); },
    read: (r) => ({ type: "update", channel: r.varint(), sequence: r.varint(), family: family(r), count: r.varint(), data: r.raw(r.left) }),
  },
  ack: {
    code: 0x21,
    write: (w, m) => { w.varint(m.channel).varint(m.sequence); },
    read: (r) => ({ type: "ack", channel: r.varint(), sequence: r.varint() }),
  },
  nak: {
    code: 0x22,
    write: (w, m) => { w.varint(m.channel).varint(m.ranges.length); for (const [from, count] of m.ranges) w.varint(from).varint(count); },
    read: (r) => ({ type: "nak", channel: r.varint(), ranges: list(r, () => [r.varint(), r.varint()] as [number, number]) }),
  },
  retransmission: {
    code: 0x23,
    write: (w, m) => { w.varint(m.channel).varint(m.sequence).u8(m.family).varint(m.count).raw(m.data); },
    read: (r) => ({ type: "retransmission", channel: r.varint(), sequence: r.varint(), family: family(r), count: r.varint(), data: r.raw(r.left) }),
  },
  heartbeat: {
    code: 0x24,
    write: (w, m) => { w.varint(m.timeMs).u8(m.serving ? 1 : 0).varint(m.sequences.length); for (const [c, s] of m.sequences) w.varint(c).varint(s); },
    read: (r) => ({ type: "heartbeat", timeMs: r.varint(), serving: flag(r), sequences: list(r, () => [r.varint(), r.varint()] as [number, number]) }),
  },
  activate: {
    code: 0x30,
    write: (w, m) => { w.u64(m.stream).varint(m.sequence).u64(m.digest4).u64(m.digest6).varint(m.routes).u64(m.nexthops).u8(RESYNC_MODES.indexOf(m.resync)).u8(m.multicast ? 1 : 0); },
    read: (r) => ({
      type: "activate", stream: r.u64(), sequence: r.varint(), digest4: r.u64(), digest6: r.u64(), routes: r.varint(), nexthops: r.u64(),
      resync: pick(RESYNC_MODES.slice(0, 2) as ResyncMode[], r.u8(), "resync mode"), multicast: flag(r),
    }),
  },
  resync: {
    code: 0x33,
    write: (w, m) => {
      if (m.through < m.sequence) throw new RangeError(`resync through ${m.through}, before ${m.sequence}`);
      w.u8(RESYNC_MODES.indexOf(m.mode)).varint(m.sequence).varint(m.through - m.sequence).u64(m.digest4).u64(m.digest6);
    },
    read: (r) => {
      const mode = pick(RESYNC_MODES, r.u8(), "resync mode");
      const sequence = r.varint();
      return { type: "resync", mode, sequence, through: sequence + r.varint(), digest4: r.u64(), digest6: r.u64() };
    },
  },
  rangeDigests: {
    code: 0x31,
    write: (w, m) => {
      w.u8(m.family).varint(m.request).varint(m.nodes.length);
      for (const node of m.nodes) writeRangeNode(w, m.family, node);
    },
    read: (r) => {
      const f = family(r);
      return { type: "rangeDigests", family: f, request: r.varint(), nodes: list(r, () => readRangeNode(r, f)) };
    },
  },
  rangeRepair: {
    code: 0x32,
    write: (w, m) => {
      w.u8(m.family).varint(m.request).varint(m.first).varint(m.nodes.length);
      for (const verdicts of m.nodes) writeVerdicts(w, verdicts);
      w.u8(m.last ? 1 : 0);
      if (m.last) w.u64(m.last.digest);
      w.varint(m.count).raw(m.data);
    },
    read: (r) => {
      const head = { type: "rangeRepair" as const, family: family(r), request: r.varint(), first: r.varint(), nodes: list(r, () => readVerdicts(r)) };
      const last = flag(r) ? { last: { digest: r.u64() } } : {};
      return { ...head, ...last, count: r.varint(), data: r.raw(r.left) };
    },
  },
  sketchAsk: {
    code: 0x34,
    write: (w, m) => { w.u8(m.family).varint(m.request).varint(m.cells).varint(m.pieces.from).varint(m.pieces.to); },
    read: (r) => {
      const m = { type: "sketchAsk" as const, family: family(r), request: r.varint(), cells: r.varint(), pieces: { from: r.varint(), to: r.varint() } };
      if (m.pieces.from >= m.pieces.to || m.pieces.to > TOP_PIECES) throw new RangeError(`pieces ${m.pieces.from}..${m.pieces.to} of ${TOP_PIECES}`);
      return m;
    },
  },
  rangeSketch: {
    code: 0x35,
    write: (w, m) => {
      const cell = 4 * sketchCellWords(m.family);
      if (m.data.length === 0 || m.data.length % cell !== 0 || m.first + m.data.length / cell > m.cells) throw new RangeError(`cells ${m.first}+${m.data.length / cell} of a sketch of ${m.cells}`);
      w.u8(m.family).varint(m.request).varint(m.cells).varint(m.first).raw(m.data);
    },
    read: (r) => {
      const m = { type: "rangeSketch" as const, family: family(r), request: r.varint(), cells: r.varint(), first: r.varint(), data: r.raw(r.left) };
      const cell = 4 * sketchCellWords(m.family);
      if (m.data.length === 0 || m.data.length % cell !== 0 || m.first + m.data.length / cell > m.cells) {
        throw new WireError("malformed", `rangeSketch: ${m.data.length} bytes at cell ${m.first} of ${m.cells} (${cell}-byte cells)`);
      }
      return m;
    },
  },
  sketchRepair: {
    code: 0x36,
    write: (w, m) => {
      w.u8(m.family).varint(m.request).u8(m.last ? 1 : 0);
      if (m.last) w.u64(m.last.digest);
      w.varint(m.count).raw(m.data);
    },
    read: (r) => {
      const head = { type: "sketchRepair" as const, family: family(r), request: r.varint() };
      const last = flag(r) ? { last: { digest: r.u64() } } : {};
      return { ...head, ...last, count: r.varint(), data: r.raw(r.left) };
    },
  },
  flashBegin: {
    code: 0x40,
    write: (w, m) => { w.varint(m.size).varint(m.chunkSize); writeFixed(w, m.sha256, 32, "sha256"); writeFixed(w, m.signature, 64, "signature"); w.string(m.key); },
    read: (r) => ({ type: "flashBegin", size: r.varint(), chunkSize: r.varint(), sha256: fixed(r, 32), signature: fixed(r, 64), key: r.string() }),
  },
  flashData: {
    code: 0x41,
    write: (w, m) => { w.varint(m.offset).u32(m.crc).raw(m.data); },
    read: (r) => ({ type: "flashData", offset: r.varint(), crc: r.u32(), data: r.raw(r.left) }),
  },
  flashEnd: {
    code: 0x42,
    write: (w, m) => { w.varint(m.chunks); },
    read: (r) => ({ type: "flashEnd", chunks: r.varint() }),
  },
  flashResult: {
    code: 0x43,
    write: (w, m) => { w.u8(m.ok ? 1 : 0).u8(m.slot).varint(m.resumeOffset).string(m.reason); },
    read: (r) => ({ type: "flashResult", ok: flag(r), slot: r.u8(), resumeOffset: r.varint(), reason: r.string() }),
  },
  error: {
    code: 0x7f,
    write: (w, m) => { w.varint(m.code).string(m.message); },
    read: (r) => ({ type: "error", code: r.varint(), message: r.string() }),
  },
};

const BY_CODE = new Map<number, MessageType>(Object.entries(CODECS).map(([type, c]) => [c.code, type as MessageType]));

/** Type code of a message type. */
export function typeCode(type: MessageType): number {
  return CODECS[type].code;
}

/** The body of a message (without frame header and CRC). Throws RangeError on a value that cannot be encoded. */
export function encodeBody(m: Message): Uint8Array {
  const w = new Writer();
  (CODECS[m.type] as Codec<Message>).write(w, m);
  return w.done();
}

/** The frame of a message. */
export function encodeMessage(m: Message): Uint8Array {
  return encodeFrame(typeCode(m.type), encodeBody(m));
}

/** The message in a frame, or why it is not one. Never throws. */
export function decodeMessage(frame: Frame): Message | WireError {
  const type = BY_CODE.get(frame.type);
  if (type === undefined) return new WireError("unknown-type", `unknown message type 0x${frame.type.toString(16).padStart(2, "0")}`);
  const r = new Reader(frame.body);
  let m: Message;
  try {
    m = CODECS[type].read(r);
  } catch (e) {
    if (e instanceof ShortRead) return new WireError("truncated", `${type}: ${e.message}`);
    return new WireError("malformed", `${type}: ${(e as Error).message}`);
  }
  if (r.left > 0) return new WireError("trailing", `${type}: ${r.left} trailing bytes`);
  return m;
}
