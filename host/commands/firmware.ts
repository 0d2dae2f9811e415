// fibcast keygen · sign · flash: making a build key, signing an image with it, and flashing
// a signed image onto a card through its console.

import { writeFileSync, readFileSync } from "node:fs";
import { cliProgress } from "../lazy.ts";
import { FramedLink } from "../links/framed.ts";
import { FailedError, UsageError, type Context } from "../cli-support.ts";
import { generateBuildKey, parseImage, readBuildKey, signImage, ImageError } from "../../firmware-sim/image.ts";
import { dialConsole, formatConsoleAddress, parseConsoleAddress } from "../../firmware-sim/console.ts";
import { flashImage, FlashError } from "../../firmware-sim/flasher.ts";

/** Writes PREFIX.key (private, mode 0600) and PREFIX.pub (for cards to trust). */
export async function keygenCommand(ctx: Context, args: { out?: string }): Promise<number> {
  if (!args.out) throw new UsageError("--out PREFIX is required");
  const k = generateBuildKey();
  writeFileSync(`${args.out}.key`, k.privatePem, { mode: 0o600 });
  writeFileSync(`${args.out}.pub`, k.publicPem);
  await ctx.write(`${k.id}\n`);
  ctx.log(`wrote ${args.out}.key (keep it secret) and ${args.out}.pub (give it to cards)`);
  return 0;
}

export async function signCommand(ctx: Context, args: { key?: string; image?: string; out?: string }): Promise<number> {
  if (!args.key || !args.image || !args.out) throw new UsageError("--key, --image and --out are required");
  const key = failing(() => readBuildKey(args.key!));
  const wasm = new Uint8Array(failing(() => readFileSync(args.image!)));
  if (!WebAssembly.validate(wasm)) throw new FailedError(`${args.image}: not a WebAssembly module`);
  writeFileSync(args.out, signImage(wasm, key));
  ctx.log(`signed ${args.image} (${wasm.length} bytes) with ${key.id}: ${args.out}`);
  return 0;
}

export async function flashCommand(ctx: Context, args: { card?: string; image?: string; baud: number; chunk: number }): Promise<number> {
  if (!args.card || !args.image) throw new UsageError("--card and --image are required");
  const address = failing(() => parseConsoleAddress(args.card!));
  const image = parseImage(new Uint8Array(failing(() => readFileSync(args.image!))));
  if (image instanceof ImageError) throw new FailedError(`${args.image}: ${image.message}`);
  const link = new FramedLink(await dialConsole(address, args.baud).catch((e: Error) => { throw new FailedError(e.message); }));
  // A bar on a terminal; in a pipe or CI, a line every quarter of the image.
  const bar = process.stderr.isTTY ? new (cliProgress().SingleBar)({ format: "flashing [{bar}] {percentage}% {value}/{total} bytes {eta}s" }, cliProgress().Presets.shades_classic) : undefined;
  bar?.start(image.size, 0);
  let quarter = 0;
  try {
    const out = await flashImage(link, image, {
      chunkBytes: args.chunk,
      onProgress: (acked, total) => {
        bar?.update(acked);
        if (!bar && acked >= ((quarter + 1) * total) / 4) ctx.log(`flashing: ${acked} of ${total} bytes (${Math.round((100 * ++quarter) / 4)}%)`);
      },
    });
    bar?.stop();
    const wire = (image.size * 8) / args.baud;
    ctx.log(`${formatConsoleAddress(address)}: ${out.reason}` +
      (out.resumedFrom > 0 ? ` (resumed from byte ${out.resumedFrom})` : "") +
      ` in ${(out.ms / 1000).toFixed(2)} s` + ("serial" in address ? `, ${(out.ms / 1000 / wire).toFixed(2)}× the wire time at ${args.baud} bit/s` : ""));
    return 0;
  } catch (e) {
    bar?.stop();
    if (e instanceof FlashError) throw new FailedError(`${formatConsoleAddress(address)}: ${e.message}`);
    throw e;
  } finally {
    link.close();
  }
}

function failing<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new FailedError((e as Error).message);
  }
}
