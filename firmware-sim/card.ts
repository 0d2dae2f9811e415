// The firmware side of a card process: what image its node runs. A line card boots from
// its own slots through its bootloader, which serves its console; until a slot boots, the
// card runs nothing and forwards nothing. Its forwarding engines boot the image of the card
// they sit on: each waits for the card's boot slot to be good and runs its own instance.

import type { KeyObject } from "node:crypto";
import { Bootloader } from "./bootloader.ts";
import { listenConsole, type ConsoleAddress } from "./console.ts";
import { readTrustedKeys, sha256 } from "./image.ts";
import { SlotStore, type SlotName, type SlotRecord } from "./slots.ts";

export interface CardConfig {
  /** The slot folder: the card's own, or (an engine) the card's it sits on. */
  slots: string;
  /** A line card: the public-key files of the build keys it trusts. */
  trustedKeys?: string[];
  /** A line card: where its bootloader listens. */
  console?: ConsoleAddress;
  /** Largest image a slot holds (default 1 MiB). */
  slotBytes?: number;
}

export interface FirmwareStatus {
  /** The slot this process runs; null: none. */
  running: SlotName | null;
  keyId: string | null;
  /** Hex SHA-256 of the running image. */
  sha256: string | null;
  slots: Record<SlotName, Pick<SlotRecord, "state" | "size" | "written" | "keyId" | "reason">>;
  console: ConsoleAddress | null;
}

const ENGINE_POLL_MS = 100;

export class CardFirmware {
  private readonly bootloader: Bootloader | undefined;
  private running: { slot: SlotName; wasm: Uint8Array; sha256: string } | undefined;
  private consoleAt: ConsoleAddress | null = null;
  private closeConsole: (() => void) | undefined;

  constructor(private readonly config: CardConfig, memoryMiB: number, private readonly log: (event: string, fields: Record<string, unknown>) => void) {
    if (config.console) {
      const trusted: ReadonlyMap<string, KeyObject> = readTrustedKeys(config.trustedKeys ?? []);
      this.bootloader = new Bootloader(new SlotStore(config.slots), { memoryMiB, trusted, slotBytes: config.slotBytes ?? 1 << 20, log });
      const wasm = this.bootloader.powerOn();
      if (wasm) this.running = { slot: this.bootloader.running!, wasm, sha256: hex(wasm) };
    }
  }

  /** A line card: starts serving its console; the address it listens on. */
  async listen(): Promise<ConsoleAddress | null> {
    if (!this.bootloader || !this.config.console) return null;
    const served = await listenConsole(this.bootloader, this.config.console);
    this.consoleAt = served.address;
    this.closeConsole = served.close;
    return served.address;
  }

  /** Resolves with the image to run: at once if a slot booted, else once one does. */
  image(): Promise<Uint8Array> {
    if (this.running) return Promise.resolve(this.running.wasm);
    if (this.bootloader) {
      return new Promise((resolve) => this.bootloader!.onBoot((wasm, slot) => {
        this.running = { slot, wasm, sha256: hex(wasm) };
        resolve(wasm);
      }));
    }
    return new Promise((resolve) => {
      const poll = () => {
        const found = this.cardImage();
        if (!found) return void setTimeout(poll, ENGINE_POLL_MS);
        this.running = found;
        this.log("firmware running", { slot: found.slot, reason: "the card's boot slot is good" });
        resolve(found.wasm);
      };
      poll();
    });
  }

  /** The card's boot slot, when it is good and its bytes are what its record says. */
  private cardImage(): { slot: SlotName; wasm: Uint8Array; sha256: string } | undefined {
    const store = new SlotStore(this.config.slots);
    const slot = store.active;
    if (slot === null || store.slot(slot).state !== "good") return undefined;
    const wasm = store.read(slot);
    const digest = hex(wasm);
    return digest === store.slot(slot).sha256 ? { slot, wasm, sha256: digest } : undefined;
  }

  status(): FirmwareStatus {
    const store = this.bootloader?.store ?? new SlotStore(this.config.slots);
    const slot = (s: SlotName) => {
      const r = store.slot(s);
      return { state: r.state, size: r.size, written: r.written, keyId: r.keyId, reason: r.reason };
    };
    const running = this.running ? store.slot(this.running.slot) : undefined;
    return {
      running: this.running?.slot ?? null,
      keyId: running?.keyId ?? null,
      sha256: this.running?.sha256 ?? null,
      slots: { a: slot("a"), b: slot("b") },
      console: this.consoleAt,
    };
  }

  close(): void {
    this.closeConsole?.();
  }
}

function hex(wasm: Uint8Array): string {
  return Buffer.from(sha256(wasm)).toString("hex");
}
