import { test } from "uvu";
import * as assert from "uvu/assert";
import fc from "fast-check";
import { crc32c } from "../host/wire/crc32c.ts";
import { cobsDecode, cobsEncode, cobsMaxEncoded } from "../host/wire/cobs.ts";
import { encodeFrame, FrameError, MAX_FRAME, parseFrame, StreamDecoder, streamBytes, WIRE_VERSION } from "../host/wire/frame.ts";
import { decodeMessage, encodeBody, encodeMessage, WireError, type Message } from "../host/wire/messages.ts";
import { Writer } from "../host/wire/bytes.ts";
import { sampleMessages as samples } from "./helpers/messages.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const bytes = (h: string) => new Uint8Array(Buffer.from(h.replace(/ /g, ""), "hex"));

function cobs(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(cobsMaxEncoded(src.length));
  return out.subarray(0, cobsEncode(src, out));
}

function uncobs(enc: Uint8Array): Uint8Array | undefined {
  const out = new Uint8Array(enc.length);
  const n = cobsDecode(enc, 0, enc.length, out);
  return n < 0 ? undefined : out.subarray(0, n);
}

test("CRC-32C check value", () => {
  assert.is(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
  assert.is(crc32c(new Uint8Array(0)), 0);
  assert.is(crc32c(new Uint8Array(32)), 0x8a9136aa);
});

test("COBS: the published examples", () => {
  const cases: [string, string][] = [
    ["00", "01 01"],
    ["00 00", "01 01 01"],
    ["00 11 00", "01 02 11 01"],
    ["11 22 00 33", "03 11 22 02 33"],
    ["11 22 33 44", "05 11 22 33 44"],
    ["11 00 00 00", "02 11 01 01 01"],
  ];
  for (const [raw, enc] of cases) {
    assert.is(hex(cobs(bytes(raw))), hex(bytes(enc)), raw);
    assert.is(hex(uncobs(bytes(enc))!), hex(bytes(raw)));
  }
  const run254 = Uint8Array.from({ length: 254 }, (_, i) => i + 1);
  assert.is(hex(cobs(run254)), "ff" + hex(run254));
  const run255 = Uint8Array.from({ length: 255 }, (_, i) => i + 1);
  assert.is(hex(cobs(run255)), "ff" + hex(run254) + "02ff");
});

// COBS as the paper states it, a byte at a time: the golden encoding the block-copying
// encoder must match.
function cobsGolden(src: Uint8Array): Uint8Array {
  const out = [0];
  let code = 0;           // where the open block's code byte is
  let full = false;       // the last block closed for being full, not at a zero
  for (const b of src) {
    full = false;
    if (b === 0) {
      out[code] = out.length - code;
      code = out.push(0) - 1;
      continue;
    }
    out.push(b);
    if (out.length - code === 255) {
      out[code] = 255;
      code = out.push(0) - 1;
      full = true;
    }
  }
  if (full) out.pop();    // data that ends with a full block takes no empty block after it
  else out[code] = out.length - code;
  return Uint8Array.from(out);
}

test("COBS: round trip, no zero inside, and the byte-at-a-time encoding, for any bytes", () => {
  // Zeros now dense, now rare: blocks that end at a zero, fill up, or both at once.
  const sparse = fc.array(fc.oneof({ weight: 30, arbitrary: fc.integer({ min: 1, max: 255 }) }, fc.constant(0)), { maxLength: 3000 }).map((a) => Uint8Array.from(a));
  fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 2000 }), sparse), (src) => {
    const enc = cobs(src);
    assert.ok(!enc.includes(0));
    assert.ok(enc.length <= cobsMaxEncoded(src.length));
    assert.is(hex(enc), hex(cobsGolden(src)));
    assert.is(hex(uncobs(enc)!), hex(src));
  }), { numRuns: 500 });
  const run254 = Uint8Array.from({ length: 254 }, (_, i) => i + 1);
  for (const src of [Uint8Array.of(...run254, 0), Uint8Array.of(...run254, ...run254), Uint8Array.of(0, ...run254)]) {
    assert.is(hex(cobs(src)), hex(cobsGolden(src)));
    assert.is(hex(uncobs(cobs(src))!), hex(src));
  }
});

test("a frame carries version, type, body and a CRC; damage is reported, not thrown", () => {
  const f = encodeFrame(0x20, bytes("010203"));
  assert.is(f[0], WIRE_VERSION);
  assert.is(f[1], 0x20);
  const ok = parseFrame(f) as { type: number; body: Uint8Array };
  assert.is(ok.type, 0x20);
  assert.is(hex(ok.body), "010203");
  const flipped = f.slice();
  flipped[3] ^= 0x10;
  assert.is((parseFrame(flipped) as FrameError).kind, "crc");
  assert.is((parseFrame(f.subarray(0, 4)) as FrameError).kind, "short");
  const newer = encodeFrame(0x20, new Uint8Array(0));
  newer[0] = WIRE_VERSION + 1;
  const c = crc32c(newer, 0, newer.length - 4);
  newer.set([c & 255, (c >>> 8) & 255, (c >>> 16) & 255, c >>> 24], newer.length - 4);
  const err = parseFrame(newer) as FrameError;
  assert.is(err.kind, "version");
  assert.match(err.message, `protocol version ${WIRE_VERSION + 1} is newer than this node's ${WIRE_VERSION}`);
  assert.throws(() => encodeFrame(1, new Uint8Array(MAX_FRAME)), RangeError);
});

test("every message: encode, decode, encode again gives the same bytes", () => {
  const seen = new Set<string>();
  for (const m of samples) {
    const frame = encodeMessage(m);
    const decoded = decodeMessage(parseFrame(frame) as never);
    assert.not.instance(decoded, WireError, `${m.type}: ${(decoded as Error).message}`);
    assert.equal(decoded, m);
    assert.is(hex(encodeMessage(decoded as Message)), hex(frame), m.type);
    seen.add(m.type);
  }
  assert.is(seen.size, 28, "a sample of every message type");
});

test("a sketch whose cells do not fit its size is malformed", () => {
  const body = (cells: number, first: number, bytes: number) => {
    const frame = encodeMessage({ type: "rangeSketch", family: 4, request: 0, cells: 300, first: 0, data: new Uint8Array(20) });
    const parsed = parseFrame(frame) as { version: number; type: number; body: Uint8Array };
    return { ...parsed, body: new Writer().u8(4).varint(0).varint(cells).varint(first).raw(new Uint8Array(bytes)).done() };
  };
  for (const [cells, first, bytes] of [[300, 0, 19], [300, 299, 40], [300, 0, 0], [3, 3, 20]]) {
    const err = decodeMessage(body(cells, first, bytes)) as WireError;
    assert.instance(err, WireError, `${bytes} bytes at ${first} of ${cells}`);
    assert.is(err.kind, "malformed");
    assert.match(err.message, "rangeSketch");
  }
  assert.not.instance(decodeMessage(body(300, 299, 20)), WireError);
  assert.throws(() => encodeMessage({ type: "rangeSketch", family: 6, request: 0, cells: 3, first: 0, data: new Uint8Array(20) }), RangeError);
});

test("a sketch request for no pieces, or pieces past the first node's, is malformed", () => {
  const frame = parseFrame(encodeMessage({ type: "sketchAsk", family: 4, request: 0, cells: 300, pieces: { from: 0, to: 4096 } })) as { version: number; type: number; body: Uint8Array };
  for (const [from, to] of [[5, 5], [9, 4], [0, 4097]]) {
    const err = decodeMessage({ ...frame, body: new Writer().u8(4).varint(0).varint(300).varint(from).varint(to).done() }) as WireError;
    assert.instance(err, WireError, `pieces ${from}..${to}`);
    assert.is(err.kind, "malformed");
    assert.match(err.message, "sketchAsk");
  }
  assert.not.instance(decodeMessage({ ...frame, body: new Writer().u8(4).varint(0).varint(300).varint(4095).varint(4096).done() }), WireError);
});

test("unknown types, short bodies and trailing bytes are errors with reasons", () => {
  const unknown = decodeMessage({ version: 1, type: 0x66, body: new Uint8Array(0) }) as WireError;
  assert.is(unknown.kind, "unknown-type");
  assert.is(unknown.message, "unknown message type 0x66");
  const ack = parseFrame(encodeMessage({ type: "ack", channel: 1, sequence: 300 })) as { version: number; type: number; body: Uint8Array };
  const short = decodeMessage({ ...ack, body: ack.body.subarray(0, 2) }) as WireError;
  assert.is(short.kind, "truncated");
  const long = decodeMessage({ ...ack, body: new Uint8Array([...ack.body, 0]) }) as WireError;
  assert.is(long.kind, "trailing");
  assert.is(long.message, "ack: 1 trailing bytes");
  const hello = parseFrame(encodeMessage(samples[0])) as { version: number; type: number; body: Uint8Array };
  const badRole = hello.body.slice();
  badRole[12] = 9;       // "lc0" is 1+3 bytes, the session 8, then the role
  assert.is((decodeMessage({ ...hello, body: badRole }) as WireError).kind, "malformed");
});

test("the stream decoder splits frames across any chunking", () => {
  const stream = Buffer.concat(samples.map((m) => streamBytes(encodeMessage(m))));
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: stream.length }), { maxLength: 20 }), (cuts) => {
    const points = [...new Set([0, ...cuts, stream.length])].sort((a, b) => a - b);
    const d = new StreamDecoder();
    const frames = [];
    for (let i = 1; i < points.length; i++) frames.push(...d.push(stream.subarray(points[i - 1], points[i])));
    assert.is(frames.length, samples.length);
    assert.equal(frames.map((f) => decodeMessage(f)), samples);
    assert.equal(d.counters, { frames: samples.length, badFrames: 0, oversized: 0, skippedBytes: 0 });
  }), { numRuns: 200 });
});

test("after garbage, cuts and bit flips the decoder drops and counts only the damaged frames", () => {
  fc.assert(fc.property(
    fc.uint8Array({ maxLength: 300 }),
    fc.array(fc.nat(), { maxLength: 8 }),
    fc.array(fc.integer({ min: 1, max: 200 }), { maxLength: 20 }),
    (garbage, flips, chunkSizes) => {
      const original = samples.map((m) => streamBytes(encodeMessage(m)));
      const frames = original.map((f) => f.slice());
      for (const f of flips) {
        const k = f % frames.length;
        frames[k][(f >> 3) % (frames[k].length - 1)] ^= 1 << (f & 7);     // never the delimiter
      }
      const damaged = frames.map((f, k) => hex(f) !== hex(original[k]));
      const stream = Buffer.concat([garbage, new Uint8Array([0]), ...frames]);
      const d = new StreamDecoder();
      const got: Message[] = [];
      for (let at = 0, i = 0; at < stream.length; i++) {
        const n = chunkSizes.length ? chunkSizes[i % chunkSizes.length] : stream.length;
        for (const f of d.push(stream.subarray(at, at + n))) {
          const m = decodeMessage(f);
          if (!(m instanceof WireError)) got.push(m);
        }
        at += n;
      }
      // Every intact frame arrives, in order, and nothing else: a flipped bit is caught by COBS or the CRC.
      assert.equal(got, samples.filter((_, k) => !damaged[k]));
      assert.ok(d.counters.badFrames + d.counters.oversized >= damaged.filter(Boolean).length);
      assert.is(d.counters.frames, got.length);
    },
  ), { numRuns: 300 });
});

test("a damaged body behind a good CRC decodes to an error, or to a message with exactly those bytes", () => {
  const bodies = samples.map((m) => ({ type: (parseFrame(encodeMessage(m)) as { type: number }).type, body: encodeBody(m) }));
  const edit = fc.oneof(
    fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: fc.nat(255) }),
    fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), value: fc.nat(7) }),
    fc.record({ kind: fc.constant("cut" as const), at: fc.nat(), value: fc.constant(0) }),
    fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), value: fc.nat(255) }),
  );
  fc.assert(fc.property(fc.nat(bodies.length - 1), fc.array(edit, { minLength: 1, maxLength: 4 }), (which, edits) => {
    let body = bodies[which].body.slice();
    for (const e of edits) {
      const at = body.length ? e.at % body.length : 0;
      if (e.kind === "set" && body.length) body[at] = e.value;
      else if (e.kind === "flip" && body.length) body[at] ^= 1 << e.value;
      else if (e.kind === "cut") body = body.slice(0, at);
      else if (e.kind === "insert") body = Uint8Array.from([...body.subarray(0, at), e.value, ...body.subarray(at)]);
    }
    const m = decodeMessage({ version: WIRE_VERSION, type: bodies[which].type, body });
    if (m instanceof WireError) {
      assert.ok(["truncated", "trailing", "malformed"].includes(m.kind), m.message);
      return;
    }
    // One encoding per message: peers never disagree on what bytes mean.
    assert.is(hex(encodeBody(m)), hex(body), m.type);
  }), { numRuns: 3000 });
});

test("random bytes never throw, and memory stays bounded", () => {
  fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 5000 }), { maxLength: 30 }), (chunks) => {
    const d = new StreamDecoder();
    for (const c of chunks) for (const f of d.push(c)) decodeMessage(f);
  }), { numRuns: 300 });
  const d = new StreamDecoder();
  const huge = new Uint8Array(3 * MAX_FRAME).fill(0x41);
  assert.equal(d.push(huge), []);
  d.push(new Uint8Array([0]));
  assert.is(d.counters.oversized, 1);
  assert.is(d.counters.skippedBytes, 3 * MAX_FRAME);
  const good = d.push(streamBytes(encodeMessage(samples[11])));
  assert.equal(good.map(decodeMessage), [samples[11]]);
});

test.run();
