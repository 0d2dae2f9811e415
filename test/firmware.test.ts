// Signed images, the bootloader and the flasher: every refusal names its reason and leaves
// the card on the image it runs; a good image boots only after its self-test; a cut flash
// resumes; a corrupting line costs resends, not a bad slot.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { builtPath, firmwareImage } from "../host/firmware.ts";
import { FramedLink } from "../host/links/framed.ts";
import { SimLink } from "../host/links/sim.ts";
import { Bootloader } from "../firmware-sim/bootloader.ts";
import { formatConsoleAddress, listenConsole, serveConsole } from "../firmware-sim/console.ts";
import { spawn } from "node:child_process";
import { flashImage, FlashError, type FlashOptions } from "../firmware-sim/flasher.ts";
import { encodeImage, generateBuildKey, ImageError, keyId, parseImage, readTrustedKeys, sha256, signImage, type BuildKey, type SignedImage } from "../firmware-sim/image.ts";
import { SlotStore } from "../firmware-sim/slots.ts";

const wasm = new Uint8Array(firmwareImage());
/** Byte equality, without uvu's diff of two 50 KiB arrays when they differ. */
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

function buildKey(): { key: BuildKey; trusted: Map<string, KeyObject> } {
  const k = generateBuildKey();
  const privateKey = createPrivateKey(k.privatePem);
  return { key: { id: k.id, privateKey }, trusted: new Map([[k.id, createPublicKey(k.publicPem)]]) };
}

const build = buildKey();
const good = parseImage(signImage(wasm, build.key)) as SignedImage;

interface Card {
  boot: Bootloader;
  store: SlotStore;
  lines: { event: string; fields: Record<string, unknown> }[];
  booted: string[];
}

function card(options: { memoryMiB?: number; slotBytes?: number; dir?: string } = {}): Card {
  const store = new SlotStore(options.dir ?? mkdtempSync(join(tmpdir(), "fibcast-slots-")));
  const lines: Card["lines"] = [];
  const boot = new Bootloader(store, {
    memoryMiB: options.memoryMiB ?? 32, trusted: build.trusted, slotBytes: options.slotBytes ?? 1 << 20,
    log: (event, fields) => lines.push({ event, fields }),
  });
  const booted: string[] = [];
  boot.onBoot((_w, slot) => booted.push(slot));
  boot.powerOn();
  return { boot, store, lines, booted };
}

/** Flashes over a simulated line; the card's console is the far end. */
async function flashOver(c: Card, image: SignedImage, line: ConstructorParameters<typeof SimLink>[0] = {}, options: FlashOptions = {}) {
  const sim = new SimLink({ seed: 7, ...line });
  serveConsole(c.boot, sim.b);
  const link = new FramedLink(sim.a);
  try {
    return await flashImage(link, image, { timeoutMs: 3000, ...options });
  } finally {
    sim.cut();
  }
}

async function refusal(c: Card, image: SignedImage): Promise<string> {
  try {
    await flashOver(c, image);
  } catch (e) {
    assert.instance(e, FlashError);
    assert.is((e as FlashError).kind, "refused");
    return (e as Error).message;
  }
  throw new Error("the card took the image");
}

test("a signed image reads back as it was signed, under a key id both sides derive", () => {
  assert.is(good.size, wasm.length);
  assert.ok(same(good.wasm, wasm));
  assert.ok(same(good.sha256, sha256(wasm)));
  assert.match(good.keyId, /^ed25519:[0-9a-f]{16}$/);
  assert.is(keyId(createPublicKey(createPrivateKey(build.key.privateKey.export({ format: "pem", type: "pkcs8" })))), good.keyId);
});

test("a blank card forwards nothing until flashed; the first good flash boots at once", async () => {
  const c = card();
  assert.is(c.boot.running, null);
  assert.ok(c.lines.some((l) => l.event.startsWith("no firmware")));
  const out = await flashOver(c, good, { bandwidthBps: 1e6 });
  assert.is(out.slot, "a");
  assert.match(out.reason, /booted/);
  assert.equal(c.booted, ["a"]);
  assert.is(c.store.slot("a").state, "good");
  assert.is(c.store.active, "a");
});

test("a running card writes the other slot and switches at its next power-on", async () => {
  const dir = mkdtempSync(join(tmpdir(), "fibcast-slots-"));
  const c = card({ dir });
  await flashOver(c, good);
  const second = await flashOver(c, good);
  assert.is(second.slot, "b");
  assert.match(second.reason, /next restart/);
  assert.is(c.boot.running, "a");
  const again = card({ dir });
  assert.is(again.boot.running, "b");
});

test("every byte region of a signed image, flipped, is refused and the card stays on its slot", async () => {
  const file = signImage(wasm, build.key);
  const keyIdLength = good.keyId.length;
  const sizeBytes = 3;   // a varint of ~54k
  const regions: [string, number][] = [
    ["magic", 0], ["format", 4], ["key id length", 5], ["key id", 6 + 9], ["size", 6 + keyIdLength],
    ["SHA-256", 6 + keyIdLength + sizeBytes + 5], ["signature", 6 + keyIdLength + sizeBytes + 32 + 10],
    ["WASM header", 6 + keyIdLength + sizeBytes + 96], ["WASM middle", Math.floor(file.length / 2)], ["WASM end", file.length - 1],
  ];
  const c = card();
  await flashOver(c, good);
  for (const [region, at] of regions) {
    const bad = file.slice();
    bad[at] ^= 0x20;
    const parsed = parseImage(bad);
    const reason = parsed instanceof ImageError ? parsed.message : await refusal(c, parsed);
    assert.ok(reason.length > 10, `${region}: ${reason}`);
    assert.is(c.boot.running, "a", region);
    assert.is(c.store.active, "a", region);
  }
});

test("refusals name the reason: unsigned, wrong key, forged manifest, tampered body, truncated, oversized", async () => {
  const c = card();
  await flashOver(c, good);
  const check = async (image: SignedImage, pattern: RegExp) => {
    const reason = await refusal(c, image);
    assert.match(reason, pattern);
    assert.match(reason, /stays on slot a/);
    assert.is(c.boot.running, "a");
  };
  await check({ ...good, signature: new Uint8Array(64) }, /not signed/);
  await check(parseImage(signImage(wasm, buildKey().key)) as SignedImage, /trusts ed25519:/);
  await check({ ...good, size: good.size - 1, wasm: wasm.subarray(0, wasm.length - 1) }, /does not verify/);
  const tampered = wasm.slice();
  tampered[100] ^= 1;
  await check({ ...good, wasm: tampered }, /SHA-256/);
  await check({ ...good, wasm: wasm.subarray(0, 10000) }, /ended after 10000 of/);
  const small = card({ slotBytes: 16384 });
  const reason = await refusal(small, good);
  assert.match(reason, /does not fit a slot of 16384/);
  assert.match(reason, /runs no firmware/);
  const bare = parseImage(wasm);
  assert.instance(bare, ImageError);
  assert.is((bare as ImageError).kind, "unsigned");
  const cut = parseImage(signImage(wasm, build.key).subarray(0, 5000));
  assert.is((cut as ImageError).kind, "truncated");
});

test("an image that fails its self-test is rolled back: a module without the FIB, a budget too small", async () => {
  const c = card();
  await flashOver(c, good);
  const empty = new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
  const reason = await refusal(c, parseImage(signImage(empty, build.key)) as SignedImage);
  assert.match(reason, /self-test failed: .*lacks exports/);
  assert.is(c.store.slot("b").state, "bad");
  assert.is(c.boot.running, "a");
  const tiny = card({ memoryMiB: 1 });
  assert.match(await refusal(tiny, good), /self-test failed: the memory budget/);
  assert.is(tiny.boot.running, null);
});

test("a flash cut in the middle resumes from the last good chunk", async () => {
  const c = card();
  const sim = new SimLink({ seed: 3, bandwidthBps: 2e6 });
  serveConsole(c.boot, sim.b);
  let acked = 0;
  const cut = flashImage(new FramedLink(sim.a), good, {
    timeoutMs: 3000,
    onProgress: (n) => { acked = n; if (n >= 20000) sim.cut(); },
  });
  try {
    await cut;
    assert.unreachable("the cut flash finished");
  } catch (e) {
    assert.is((e as FlashError).kind, "cut");
  }
  assert.is(c.store.slot("a").state, "writing");
  const done = await flashOver(c, good);
  assert.ok(done.resumedFrom >= acked && done.resumedFrom > 0, `resumed from ${done.resumedFrom}, acked ${acked}`);
  assert.ok(done.bytesSent <= good.size - done.resumedFrom, `${done.bytesSent} sent`);
  assert.is(c.store.slot("a").state, "good");
  assert.ok(same(c.store.read("a"), wasm));
});

test("a corrupting line costs resends, never a bad slot", async () => {
  const c = card();
  const out = await flashOver(c, good, { corrupt: 2e-5, bandwidthBps: 8e6 });
  assert.is(c.store.slot("a").state, "good");
  assert.ok(same(c.store.read("a"), wasm));
  assert.ok(out.bytesSent >= good.size);
});

test("power-on rolls back to the other good slot when the boot slot's bytes went bad", async () => {
  const dir = mkdtempSync(join(tmpdir(), "fibcast-slots-"));
  const c = card({ dir });
  await flashOver(c, good);
  await flashOver(c, good);   // b is good and the boot slot
  const file = join(dir, "slot-b.bin");
  const bytes = readFileSync(file);
  bytes[200] ^= 0xff;
  writeFileSync(file, bytes);
  const after = card({ dir });
  assert.is(after.boot.running, "a");
  assert.is(after.store.active, "a");
  assert.match(after.store.slot("b").reason, /SHA-256/);
});

test("trusted keys come from PEM files; a file without one is refused by name", () => {
  const dir = mkdtempSync(join(tmpdir(), "fibcast-keys-"));
  const k = generateBuildKey();
  writeFileSync(join(dir, "build.pub"), k.publicPem);
  writeFileSync(join(dir, "junk.pub"), "hello");
  assert.equal([...readTrustedKeys([join(dir, "build.pub")]).keys()], [k.id]);
  assert.throws(() => readTrustedKeys([join(dir, "junk.pub")]), /junk.pub: holds no public key/);
  assert.ok(same(encodeImage(good), signImage(wasm, build.key)));   // Ed25519 signs deterministically
});

test("fibcast flash: a card on a TCP console takes a signed image; a tampered one exits 1 with the card's reason", async () => {
  const dir = mkdtempSync(join(tmpdir(), "fibcast-flash-cli-"));
  const c = card();
  const served = await listenConsole(c.boot, { tcp: 0, host: "127.0.0.1" });
  const file = join(dir, "fib.fw");
  writeFileSync(file, signImage(wasm, build.key));
  const bad = signImage(wasm, build.key);
  bad[bad.length - 1] ^= 1;
  writeFileSync(join(dir, "bad.fw"), bad);
  const flash = (image: string) => new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const p = spawn(process.execPath, [builtPath("fibcast.mjs"), "flash", "--card", formatConsoleAddress(served.address), "--image", image], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    p.on("exit", (code) => resolve({ code, stderr }));
  });
  const ok = await flash(file);
  assert.is(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /slot a booted and passed its self-test/);
  const refused = await flash(join(dir, "bad.fw"));
  assert.is(refused.code, 1);
  assert.match(refused.stderr, /SHA-256 is not the one its manifest signs.*stays on slot a/);
  served.close();
});

test.run();
