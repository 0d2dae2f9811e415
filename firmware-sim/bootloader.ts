// A line card's bootloader: takes a signed image over any byte stream (its console: a serial
// line, a socket), writes it to the slot the card is not running, boots it in a trial
// instance inside the card's memory budget, runs the self-test, and only then marks the
// slot good. It never touches the running slot, so every refusal leaves the card on the
// image it runs, forwarding.
//
// The exchange (messages of docs/protocol.md; "result" is flashResult):
//
//   flasher                         bootloader
//   flashBegin (manifest)   ──▶     checks size, key, signature
//                           ◀──     result ok, slot, resume offset   (or a refusal)
//   flashData (offset, CRC) ──▶ …   writes each chunk that follows the last good one
//                           ◀── …   result ok, offset in: an ack ("" reason), or "resend"
//   flashEnd                ──▶     checks length and SHA-256, boots, self-tests
//                           ◀──     result: booted / good for the next boot, or refused
//
// A chunk that does not follow the last good byte (one lost or corrupted before it) is not
// written; the bootloader asks once for a resend from there and the flasher goes back.
// A stream cut mid-flash leaves the slot "writing" with its good bytes counted: the next
// flashBegin of the same manifest resumes from there.

import type { KeyObject } from "node:crypto";
import type { Message } from "../host/wire/messages.ts";
import { crc32c } from "../host/wire/crc32c.ts";
import { ImageError, sha256, verifyManifest, type Manifest } from "./image.ts";
import { selfTest } from "./selftest.ts";
import { other, type SlotName, type SlotStore } from "./slots.ts";

/** What the bootloader is doing with its console. */
export type FlashPhase =
  | "idle"        // no flash under way: flashData and flashEnd are refused
  | "receiving";  // a manifest was accepted: chunks go to the target slot

/** Reasons of results that are not final: an ack, and a request to go back. */
export const ACK = "";
export const RESEND = "resend";

export interface BootloaderOptions {
  /** The card's RAM: an image must boot and pass its self-test inside it. */
  memoryMiB: number;
  /** The build keys this card trusts, by key id. */
  trusted: ReadonlyMap<string, KeyObject>;
  /** Largest image a slot holds. */
  slotBytes: number;
  log: (event: string, fields: Record<string, unknown>) => void;
}

export class Bootloader {
  private phase: FlashPhase = "idle";
  private target: SlotName = "a";
  private manifest: Manifest | undefined;
  /** The offset a resend was last asked from: asked once per gap, not per chunk after it. */
  private resendAt = -1;
  /** The slot whose image this card runs; null: none (the card forwards nothing). */
  running: SlotName | null = null;
  private readonly booted: ((wasm: Uint8Array, slot: SlotName) => void)[] = [];

  constructor(readonly store: SlotStore, private readonly options: BootloaderOptions) {}

  /**
   * Power-on: boots the slot the boot record names; if it fails its self-test, the other
   * slot if that one is good (and makes it the boot slot). Returns the image it runs, or
   * undefined when there is none to run.
   */
  powerOn(): Uint8Array | undefined {
    const first = this.store.active;
    if (first === null) {
      this.options.log("no firmware: waiting to be flashed", { slots: "empty" });
      return undefined;
    }
    for (const slot of [first, other(first)]) {
      if (this.store.slot(slot).state !== "good") continue;
      const wasm = this.store.read(slot);
      const why = sha256Hex(wasm) === this.store.slot(slot).sha256 ? selfTest(wasm, this.options.memoryMiB) : "its bytes no longer match its SHA-256";
      if (why === undefined) {
        if (slot !== first) this.store.activate(slot);
        this.running = slot;
        this.options.log("firmware running", { slot, keyId: this.store.slot(slot).keyId, reason: slot === first ? "boot slot passed its self-test" : `slot ${first} failed; rolled back` });
        return wasm;
      }
      this.store.mark(slot, "bad", why);
      this.options.log("slot refused at boot", { slot, reason: why });
    }
    this.options.log("no firmware: no slot boots", { reason: "every slot is empty or bad" });
    return undefined;
  }

  /** Called with the image each time a flash makes a card that ran nothing run something. */
  onBoot(listener: (wasm: Uint8Array, slot: SlotName) => void): void {
    this.booted.push(listener);
  }

  /** Answers one message of the console; undefined when there is nothing to say. */
  handle(m: Message): Message | undefined {
    switch (m.type) {
      case "flashBegin": return this.begin({ keyId: m.key, size: m.size, sha256: m.sha256, signature: m.signature });
      case "flashData": return this.data(m.offset, m.crc, m.data);
      case "flashEnd": return this.end();
      default: return this.refuse(`a bootloader takes flash messages, not ${m.type}`);
    }
  }

  /** The console's stream ended: a flash under way stops where it is, resumable. */
  cut(reason: string): void {
    if (this.phase === "idle") return;
    this.setPhase("idle", `console ${reason}; slot ${this.target} resumes from byte ${this.store.slot(this.target).written}`);
  }

  private begin(m: Manifest): Message {
    this.phase = "idle";
    if (m.size > this.options.slotBytes) return this.refuse(new ImageError("oversized", `an image of ${m.size} bytes does not fit a slot of ${this.options.slotBytes}`).message);
    const bad = verifyManifest(m, this.options.trusted);
    if (bad) return this.refuse(bad.message);
    // Never the running slot; with none running, not the boot slot either (it failed, and keeps its record).
    const keep = this.running ?? this.store.active;
    this.target = keep === null ? "a" : other(keep);
    const resume = this.store.resumable(this.target, m);
    if (!resume) this.store.begin(this.target, m);
    this.manifest = m;
    this.resendAt = -1;
    const from = this.store.slot(this.target).written;
    this.setPhase("receiving", resume ? `resuming slot ${this.target} from byte ${from}` : `writing ${m.size} bytes by ${m.keyId} to slot ${this.target}`);
    return this.result(true, from, ACK);
  }

  private data(offset: number, crc: number, data: Uint8Array): Message | undefined {
    if (this.phase !== "receiving") return this.refuse("no flash under way: send flashBegin first");
    const written = this.store.slot(this.target).written;
    if (offset === written && crc32c(data) === crc) {
      if (written + data.length > this.manifest!.size) return this.fail(new ImageError("oversized", `data runs past the ${this.manifest!.size} bytes of the manifest`).message);
      this.store.append(this.target, data);
      return this.result(true, written + data.length, ACK);
    }
    if (offset < written) return undefined;   // sent again after a resend: already in
    if (this.resendAt === written) return undefined;
    this.resendAt = written;
    return this.result(true, written, RESEND);
  }

  private end(): Message {
    if (this.phase !== "receiving") return this.refuse("no flash under way: send flashBegin first");
    const m = this.manifest!;
    const slot = this.target;
    const written = this.store.slot(slot).written;
    if (written < m.size) return this.fail(new ImageError("truncated", `the flash ended after ${written} of ${m.size} bytes`).message);
    const wasm = this.store.read(slot);
    if (sha256Hex(wasm) !== Buffer.from(m.sha256).toString("hex")) return this.fail(new ImageError("tampered", "the image's SHA-256 is not the one its manifest signs: tampered in transit or at rest").message);
    this.store.mark(slot, "written");
    const why = selfTest(wasm, this.options.memoryMiB);
    if (why !== undefined) return this.fail(`self-test failed: ${why}`);
    this.store.mark(slot, "good");
    this.store.activate(slot);
    this.setPhase("idle", `slot ${slot} passed its self-test`);
    if (this.running === null) {
      this.running = slot;
      this.options.log("firmware running", { slot, keyId: m.keyId, reason: "flashed onto a card that ran none" });
      for (const l of this.booted) l(wasm, slot);
      return this.result(true, written, `slot ${slot} booted and passed its self-test; the card runs it`);
    }
    return this.result(true, written, `slot ${slot} passed its self-test and boots at the next restart; slot ${this.running} runs until then`);
  }

  /** Refuses the flash under way: its slot is bad, the running slot stays. */
  private fail(reason: string): Message {
    this.store.mark(this.target, "bad", reason);
    return this.refuse(reason);
  }

  private refuse(reason: string): Message {
    const stay = this.running === null ? "the card runs no firmware" : `the card stays on slot ${this.running}`;
    this.setPhase("idle", `refused: ${reason}`);
    this.options.log("flash refused", { reason, running: this.running });
    return { type: "flashResult", ok: false, slot: slotNumber(this.target), resumeOffset: 0, reason: `${reason}; ${stay}` };
  }

  private result(ok: boolean, offset: number, reason: string): Message {
    return { type: "flashResult", ok, slot: slotNumber(this.target), resumeOffset: offset, reason };
  }

  private setPhase(phase: FlashPhase, reason: string): void {
    if (phase === this.phase && phase === "idle") return;
    this.options.log(`flash ${this.phase} → ${phase}`, { slot: this.target, reason });
    this.phase = phase;
  }
}

export const slotNumber = (s: SlotName): number => (s === "a" ? 0 : 1);

function sha256Hex(bytes: Uint8Array): string {
  return Buffer.from(sha256(bytes)).toString("hex");
}
