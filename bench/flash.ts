// fibcast bench flash: the release image, signed, flashed onto a card's bootloader over a
// simulated 1 Mbit/s serial line (a paced link in this process) and over a real PTY pair
// paced at the same rate (socat; skipped when it is missing), against the line's wire time:
// the image's bytes at the line rate. The card's part — signature, writes to its slot,
// SHA-256, a trial boot and the self-test — is inside the time.

import { createPrivateKey, createPublicKey } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { firmwareImage } from "../host/firmware.ts";
import { FramedLink } from "../host/links/framed.ts";
import { SimLink } from "../host/links/sim.ts";
import { ptyPair } from "../host/links/pty.ts";
import { Bootloader } from "../firmware-sim/bootloader.ts";
import { dialConsole, listenConsole, serveConsole } from "../firmware-sim/console.ts";
import { flashImage } from "../firmware-sim/flasher.ts";
import { generateBuildKey, parseImage, signImage, type SignedImage } from "../firmware-sim/image.ts";
import { SlotStore } from "../firmware-sim/slots.ts";
import { median, round } from "./stats.ts";

export interface FlashRun {
  line: "simulated" | "pty";
  imageBytes: number;
  baud: number;
  wireMs: number;
  /** Median of the runs, and their spread. */
  ms: number;
  msSpread: [number, number];
  /** ms / wireMs: the bar is ≤ 1.2. */
  ratio: number;
}

export interface FlashReport {
  runs: FlashRun[];
  bar: { ratio: number; met: boolean };
}

const BAUD = 1_000_000;
const BAR = 1.2;

export async function benchFlash(options: { quick: boolean; log: (s: string) => void }): Promise<FlashReport> {
  const key = generateBuildKey();
  const image = parseImage(signImage(firmwareImage(), { id: key.id, privateKey: createPrivateKey(key.privatePem) })) as SignedImage;
  const trusted = new Map([[key.id, createPublicKey(key.publicPem)]]);
  const dir = mkdtempSync(join(tmpdir(), "fibcast-bench-flash-"));
  const repeats = options.quick ? 3 : 7;
  const card = (i: number) => new Bootloader(new SlotStore(join(dir, `card${i}`)), { memoryMiB: 64, trusted, slotBytes: 1 << 20, log: () => {} });
  const runs: FlashRun[] = [];
  try {
    const times: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const line = new SimLink({ bandwidthBps: BAUD });
      serveConsole(card(i), line.b);
      times.push((await flashImage(new FramedLink(line.a), image)).ms);
      line.cut();
    }
    runs.push(result("simulated", image, times));
    options.log(`flash: ${image.size} bytes over a simulated ${BAUD / 1e6} Mbit/s line: ${round(median(times))} ms, ${round(runs[0].ratio)}× the wire time`);
    let pair;
    try {
      pair = await ptyPair(join(dir, "host.tty"), join(dir, "card.tty"));
    } catch (e) {
      options.log(`flash: no PTY run (${(e as Error).message})`);
    }
    if (pair) {
      const ptyTimes: number[] = [];
      for (let i = 0; i < repeats; i++) {
        const served = await listenConsole(card(100 + i), { serial: pair.b });
        const link = new FramedLink(await dialConsole({ serial: pair.a }, BAUD));
        ptyTimes.push((await flashImage(link, image)).ms);
        link.close();
        served.close();
      }
      pair.close();
      runs.push(result("pty", image, ptyTimes));
      options.log(`flash: over a PTY pair paced at ${BAUD / 1e6} Mbit/s: ${round(median(ptyTimes))} ms, ${round(runs[1].ratio)}× the wire time`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const worst = Math.max(...runs.map((r) => r.ratio));
  return { runs, bar: { ratio: BAR, met: worst <= BAR } };
}

function result(line: FlashRun["line"], image: SignedImage, times: number[]): FlashRun {
  const wireMs = (image.size * 8 * 1000) / BAUD;
  const ms = median(times);
  return { line, imageBytes: image.size, baud: BAUD, wireMs: round(wireMs, 3), ms: round(ms, 3), msSpread: [round(Math.min(...times), 3), round(Math.max(...times), 3)], ratio: round(ms / wireMs, 3) };
}
