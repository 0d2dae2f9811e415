// A card's two firmware slots, A and B, on disk: what survives a power cut. The card runs
// one slot; a flash writes the other and switches only after the new image has booted and
// passed its self-test, so a bad image never leaves a card without a good one.
//
//   <dir>/slot-a.bin, slot-b.bin   the image bytes written so far
//   <dir>/boot.json                which slot boots, and each slot's manifest and state
//
// boot.json is replaced whole (written aside, then renamed), so a cut leaves the old record
// or the new one, never half of each. A slot being written records how many bytes are in
// and checked: a flash cut in the middle resumes there.

import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Manifest } from "./image.ts";

export type SlotName = "a" | "b";

/** A slot's life: empty → writing → written → good | bad; a new flash starts it over. */
export type SlotState =
  | "empty"     // never written
  | "writing"   // a flash is (or was, when cut) under way: `written` bytes are in and checked
  | "written"   // every byte is in and matches the manifest's SHA-256; not yet booted
  | "good"      // booted and passed its self-test
  | "bad";      // refused: `reason` says why

export interface SlotRecord {
  state: SlotState;
  keyId: string;
  size: number;
  /** Hex. */
  sha256: string;
  /** Hex. */
  signature: string;
  written: number;
  reason: string;
}

export interface BootRecord {
  /** The slot the card boots; null: none yet (a card fresh from the factory). */
  active: SlotName | null;
  slots: Record<SlotName, SlotRecord>;
}

const EMPTY: SlotRecord = { state: "empty", keyId: "", size: 0, sha256: "", signature: "", written: 0, reason: "" };

export const other = (s: SlotName): SlotName => (s === "a" ? "b" : "a");

export class SlotStore {
  private record: BootRecord;

  /** Opens (making it if needed) the slot folder of a card. */
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    const file = join(dir, "boot.json");
    this.record = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as BootRecord) : { active: null, slots: { a: { ...EMPTY }, b: { ...EMPTY } } };
  }

  get active(): SlotName | null {
    return this.record.active;
  }

  slot(name: SlotName): Readonly<SlotRecord> {
    return this.record.slots[name];
  }

  /** Starts writing a slot for a manifest: its old contents are gone. */
  begin(name: SlotName, m: Manifest): void {
    writeFileSync(this.path(name), new Uint8Array(0));
    this.record.slots[name] = {
      state: "writing", keyId: m.keyId, size: m.size, sha256: hex(m.sha256), signature: hex(m.signature), written: 0, reason: "",
    };
    this.save();
  }

  /** True when the slot holds a cut flash of exactly this manifest, which can resume. */
  resumable(name: SlotName, m: Manifest): boolean {
    const s = this.record.slots[name];
    return s.state === "writing" && s.keyId === m.keyId && s.size === m.size && s.sha256 === hex(m.sha256) && s.signature === hex(m.signature);
  }

  /** Writes bytes checked by the caller at the slot's end; they count as in. */
  append(name: SlotName, data: Uint8Array): void {
    const s = this.record.slots[name];
    const fd = openSync(this.path(name), "r+");
    try {
      writeSync(fd, data, 0, data.length, s.written);
    } finally {
      closeSync(fd);
    }
    s.written += data.length;
    this.save();
  }

  /** The bytes written to a slot. */
  read(name: SlotName): Uint8Array {
    const bytes = readFileSync(this.path(name));
    return new Uint8Array(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, this.record.slots[name].written));
  }

  mark(name: SlotName, state: SlotState, reason = ""): void {
    Object.assign(this.record.slots[name], { state, reason });
    this.save();
  }

  /** The slot to boot from now on. */
  activate(name: SlotName): void {
    this.record.active = name;
    this.save();
  }

  private path(name: SlotName): string {
    return join(this.dir, `slot-${name}.bin`);
  }

  private save(): void {
    const file = join(this.dir, "boot.json");
    writeFileSync(`${file}.new`, JSON.stringify(this.record, null, 2));
    renameSync(`${file}.new`, file);
  }
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}
