// Messages over a byte stream: frames out (COBS, 0x00), frames in (StreamDecoder), with a
// bounded send queue. A slow reader never makes a sender buffer without bound: past
// maxQueuedBytes, send() refuses and counts it, and the caller decides (wait for onDrain,
// drop a redundant update, or give up on the peer).

import { StreamDecoder, streamBytes, type FrameError, type StreamCounters } from "../wire/frame.ts";
import { decodeMessage, encodeMessage, WireError, type Message } from "../wire/messages.ts";
import type { ByteStream } from "./stream.ts";

export interface LinkCounters extends StreamCounters {
  messagesOut: number;
  messagesIn: number;
  bytesOut: number;
  bytesIn: number;
  /** Frames that arrived whole but were not a message this node understands. */
  badMessages: number;
  /** Sends refused because the peer was not reading fast enough. */
  backpressured: number;
}

export interface FramedLinkOptions {
  /** Bytes a link may hold for a slow reader before send() refuses (default 4 MiB). */
  maxQueuedBytes?: number;
  /** Told about every frame or message dropped on the way in. */
  onDrop?: (reason: string) => void;
}

export class FramedLink {
  readonly counters: LinkCounters;
  private readonly decoder: StreamDecoder;
  private readonly maxQueued: number;
  private listeners: ((m: Message) => void)[] = [];
  private closed = false;

  constructor(readonly stream: ByteStream, options: FramedLinkOptions = {}) {
    this.maxQueued = options.maxQueuedBytes ?? 4 << 20;
    const onDrop = options.onDrop ?? (() => {});
    this.decoder = new StreamDecoder((e: FrameError) => onDrop(`frame dropped: ${e.message}`));
    this.counters = Object.assign(this.decoder.counters, { messagesOut: 0, messagesIn: 0, bytesOut: 0, bytesIn: 0, badMessages: 0, backpressured: 0 });
    stream.onClose(() => (this.closed = true));
    // A stream starts with a delimiter: whatever the peer held before is dropped there.
    stream.write(new Uint8Array([0]));
    stream.onData((chunk) => {
      this.counters.bytesIn += chunk.length;
      for (const frame of this.decoder.push(chunk)) {
        const m = decodeMessage(frame);
        if (m instanceof WireError) {
          this.counters.badMessages++;
          onDrop(`message dropped: ${m.message}`);
          continue;
        }
        this.counters.messagesIn++;
        for (const l of this.listeners) l(m);
      }
    });
  }

  /** Sends a message; false when the link is closed, or (counted) when the peer is too slow to take it now. */
  send(m: Message): boolean {
    return this.sendEncoded(streamBytes(encodeMessage(m)));
  }

  /** Sends a message already encoded for a stream (streamBytes): one encoding sent to many links. */
  sendEncoded(bytes: Uint8Array): boolean {
    if (this.closed) return false;
    if (this.stream.buffered > this.maxQueued) {
      this.counters.backpressured++;
      return false;
    }
    this.stream.write(bytes);
    this.counters.messagesOut++;
    this.counters.bytesOut += bytes.length;
    return true;
  }

  onMessage(listener: (m: Message) => void): void {
    this.listeners.push(listener);
  }

  onDrain(listener: () => void): void {
    this.stream.onDrain(listener);
  }

  onClose(listener: (reason: string) => void): void {
    this.stream.onClose(listener);
  }

  close(): void {
    this.stream.close();
  }
}
