// Frames: the unit everything travels in.
//
//   frame     ┌ version u8 ┬ type u8 ┬ body … ┬ crc32c u32 LE ┐   at most MAX_FRAME bytes
//             └──────── covered by the CRC ───┘
//   stream    COBS(frame) 0x00 COBS(frame) 0x00 …      (byte streams: TCP, Unix, serial)
//   datagram  frame                                    (UDP multicast, the simulated backplane)
//
// COBS leaves no 0x00 inside a frame, so 0x00 marks every frame's end: a receiver that
// starts mid-stream, or meets garbage, a cut or a corrupt frame, drops what it holds at the
// next 0x00 and goes on with the next frame. The stream decoder never throws, counts what it
// drops, and holds at most one maximum-size frame.

import { cobsDecode, cobsEncode, cobsMaxEncoded } from "./cobs.ts";
import { crc32c } from "./crc32c.ts";

/** The protocol version this code speaks. */
export const WIRE_VERSION = 1;
/** Largest frame, header and CRC included, before COBS. */
export const MAX_FRAME = 65536;
/** Bytes of a frame besides its body. */
export const FRAME_OVERHEAD = 6;

export interface Frame {
  version: number;
  type: number;
  body: Uint8Array;
}

/** A frame that could not be read. */
export class FrameError extends Error {
  override name = "FrameError";
  constructor(readonly kind: "short" | "crc" | "version" | "oversized" | "cobs", message: string) {
    super(message);
  }
}

/** The frame for a body: header, body, CRC. Throws RangeError if it would exceed MAX_FRAME. */
export function encodeFrame(type: number, body: Uint8Array): Uint8Array {
  const n = body.length + FRAME_OVERHEAD;
  if (n > MAX_FRAME) throw new RangeError(`frame of ${n} bytes exceeds ${MAX_FRAME}`);
  const f = new Uint8Array(n);
  f[0] = WIRE_VERSION;
  f[1] = type;
  f.set(body, 2);
  const c = crc32c(f, 0, n - 4);
  f[n - 4] = c;
  f[n - 3] = c >>> 8;
  f[n - 2] = c >>> 16;
  f[n - 1] = c >>> 24;
  return f;
}

/** A frame as it goes on a byte stream: COBS-encoded, then 0x00. */
export function streamBytes(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(cobsMaxEncoded(frame.length) + 1);
  const end = cobsEncode(frame, out);
  out[end] = 0;
  return out.subarray(0, end + 1);
}

/** Reads a whole frame (a datagram, or a frame out of the stream decoder). */
export function parseFrame(bytes: Uint8Array): Frame | FrameError {
  if (bytes.length < FRAME_OVERHEAD) return new FrameError("short", `frame of ${bytes.length} bytes is shorter than its ${FRAME_OVERHEAD}-byte header and CRC`);
  if (bytes.length > MAX_FRAME) return new FrameError("oversized", `frame of ${bytes.length} bytes exceeds ${MAX_FRAME}`);
  const n = bytes.length;
  const stored = (bytes[n - 4] | (bytes[n - 3] << 8) | (bytes[n - 2] << 16) | (bytes[n - 1] << 24)) >>> 0;
  if (crc32c(bytes, 0, n - 4) !== stored) return new FrameError("crc", "CRC-32C mismatch");
  if (bytes[0] !== WIRE_VERSION) {
    return new FrameError("version", bytes[0] > WIRE_VERSION
      ? `protocol version ${bytes[0]} is newer than this node's ${WIRE_VERSION}`
      : `protocol version ${bytes[0]} is not spoken here (this node speaks ${WIRE_VERSION})`);
  }
  return { version: bytes[0], type: bytes[1], body: bytes.slice(2, n - 4) };
}

export interface StreamCounters {
  /** Good frames delivered. */
  frames: number;
  /** Frames dropped: bad COBS, bad CRC, too short, another version. */
  badFrames: number;
  /** Frames dropped for exceeding MAX_FRAME. */
  oversized: number;
  /** Bytes thrown away with dropped frames. */
  skippedBytes: number;
}

/**
 * Splits a byte stream into frames. push() takes any chunk (a frame may span chunks, a
 * chunk may hold many frames) and returns the good frames it completed, with each dropped
 * one reported through onDrop.
 */
export class StreamDecoder {
  readonly counters: StreamCounters = { frames: 0, badFrames: 0, oversized: 0, skippedBytes: 0 };
  private readonly pending = new Uint8Array(cobsMaxEncoded(MAX_FRAME));
  private readonly decoded = new Uint8Array(MAX_FRAME);
  private held = 0;
  private overflowing = false;

  constructor(private readonly onDrop: (e: FrameError) => void = () => {}) {}

  push(chunk: Uint8Array): Frame[] {
    const out: Frame[] = [];
    let start = 0;
    for (let i = chunk.indexOf(0); i >= 0; i = chunk.indexOf(0, start)) {
      this.take(chunk, start, i);
      this.finish(out);
      start = i + 1;
    }
    this.take(chunk, start, chunk.length);
    return out;
  }

  private take(chunk: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (n === 0) return;
    if (this.overflowing || this.held + n > this.pending.length) {
      if (!this.overflowing) {
        this.overflowing = true;
        this.counters.skippedBytes += this.held;
        this.held = 0;
      }
      this.counters.skippedBytes += n;
      return;
    }
    this.pending.set(chunk.subarray(start, end), this.held);
    this.held += n;
  }

  private finish(out: Frame[]): void {
    if (this.overflowing) {
      this.overflowing = false;
      this.counters.oversized++;
      this.onDrop(new FrameError("oversized", `frame exceeds ${MAX_FRAME} bytes`));
      return;
    }
    const held = this.held;
    this.held = 0;
    if (held === 0) return;
    const n = cobsDecode(this.pending, 0, held, this.decoded);
    const frame = n < 0 ? new FrameError("cobs", "bad COBS encoding") : parseFrame(this.decoded.subarray(0, n));
    if (frame instanceof FrameError) {
      if (frame.kind === "oversized") this.counters.oversized++;
      else this.counters.badFrames++;
      this.counters.skippedBytes += held + 1;
      this.onDrop(frame);
      return;
    }
    this.counters.frames++;
    out.push(frame);
  }
}
