// The host side of flashing (bootloader.ts has the exchange): sends the manifest, then the
// image in CRC-checked chunks with a window of them in flight, so a slow serial line is kept
// busy instead of waiting a round trip per chunk; goes back when the card asks for a
// resend; starts where the card says a cut flash left off.

import type { FramedLink } from "../host/links/framed.ts";
import type { Message } from "../host/wire/messages.ts";
import { crc32c } from "../host/wire/crc32c.ts";
import { ACK, RESEND } from "./bootloader.ts";
import type { SignedImage } from "./image.ts";

export interface FlashOptions {
  /** Image bytes per flashData (default 2048). */
  chunkBytes?: number;
  /** Chunks sent ahead of the card's acks (default 8). */
  window?: number;
  /** Silence from the card that ends the flash (default 10 s). */
  timeoutMs?: number;
  /** Told the image bytes the card has acked, as they grow. */
  onProgress?: (acked: number, total: number) => void;
}

export interface FlashOutcome {
  slot: "a" | "b";
  /** What the card said: whether it runs the image now or at its next restart. */
  reason: string;
  /** Where the card said to start: above 0 when a cut flash resumed. */
  resumedFrom: number;
  /** Image bytes sent, resends included. */
  bytesSent: number;
  ms: number;
}

/** A flash that did not end with a good slot: refused by the card (its reason), cut, or silent. */
export class FlashError extends Error {
  override name = "FlashError";
  constructor(readonly kind: "refused" | "cut" | "timeout", message: string) {
    super(message);
  }
}

/** Flashes `image` over a link to a card's bootloader; rejects with FlashError. */
export function flashImage(link: FramedLink, image: SignedImage, options: FlashOptions = {}): Promise<FlashOutcome> {
  const chunk = options.chunkBytes ?? 2048;
  const ahead = chunk * (options.window ?? 8);
  const timeoutMs = options.timeoutMs ?? 10000;
  const started = performance.now();
  // What the manifest announces, and what there is to send: a forged image may differ, and the card is the one to refuse it.
  const size = image.size;
  const body = image.wasm.length;
  return new Promise((resolve, reject) => {
    let phase: "begin" | "data" | "end" | "done" = "begin";
    let next = 0;
    let acked = 0;
    let resumedFrom = 0;
    let bytesSent = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = (e: FlashError | FlashOutcome) => {
      if (phase === "done") return;
      phase = "done";
      clearTimeout(timer);
      if (e instanceof FlashError) reject(e);
      else resolve(e);
    };
    const quiet = () => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(new FlashError("timeout", `the card said nothing for ${timeoutMs} ms (${acked} of ${size} bytes acked)`)), timeoutMs);
    };
    const pump = () => {
      while (phase === "data" && next < body && next - acked < ahead) {
        const data = image.wasm.subarray(next, Math.min(body, next + chunk));
        if (!link.send({ type: "flashData", offset: next, crc: crc32c(data), data })) return;   // the link drains first
        next += data.length;
        bytesSent += data.length;
      }
      if (phase === "data" && acked >= body) {
        phase = "end";
        link.send({ type: "flashEnd", chunks: Math.ceil((body - resumedFrom) / chunk) });
      }
    };
    link.onDrain(pump);
    link.onClose((reason) => finish(new FlashError("cut", `the link to the card closed (${reason}) after ${acked} of ${size} bytes; flash again to resume`)));
    link.onMessage((m: Message) => {
      if (m.type !== "flashResult") return;
      quiet();
      if (!m.ok) return finish(new FlashError("refused", m.reason));
      const slot = m.slot === 0 ? "a" : "b";
      if (phase === "begin") {
        phase = "data";
        next = acked = resumedFrom = m.resumeOffset;
      } else if (m.reason === ACK) {
        acked = Math.max(acked, m.resumeOffset);
      } else if (m.reason === RESEND) {
        next = acked = m.resumeOffset;
      } else {
        return finish({ slot, reason: m.reason, resumedFrom, bytesSent, ms: performance.now() - started });
      }
      options.onProgress?.(acked, size);
      pump();
    });
    quiet();
    link.send({ type: "flashBegin", size, chunkSize: chunk, sha256: image.sha256, signature: image.signature, key: image.keyId });
  });
}
