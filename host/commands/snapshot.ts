// fibcast snapshot --routes FILE [--out F]: the table of a route file as a framed snapshot
// stream (nexthops, then per family begin, chunks, end), on stdout or into F.

import { createWriteStream } from "node:fs";
import { loadRouteFileFib } from "../fib-from-file.ts";
import { streamBytes } from "../wire/frame.ts";
import { encodeMessage } from "../wire/messages.ts";
import { snapshotMessages } from "../wire/snapshot.ts";
import { UsageError, type Context } from "../cli-support.ts";

export async function snapshotCommand(ctx: Context, args: { routes?: string; out?: string }): Promise<number> {
  if (!args.routes) throw new UsageError("snapshot needs --routes FILE");
  const { fib, nexthops } = loadRouteFileFib(args.routes, ctx);
  const file = args.out ? createWriteStream(args.out) : undefined;
  const write = file
    ? (b: Uint8Array) => new Promise<void>((resolve, reject) => (file.write(b) ? resolve() : file.once("drain", resolve).once("error", reject)))
    : (b: Uint8Array) => ctx.writeBytes(b);
  // A stream starts with a delimiter: whatever a receiver held before is dropped there.
  await write(new Uint8Array([0]));
  let frames = 0;
  let bytes = 1;
  for (const m of snapshotMessages(fib, nexthops, { snapshot: 1, sequence: 0 })) {
    const b = streamBytes(encodeMessage(m));
    await write(b);
    frames++;
    bytes += b.length;
  }
  if (file) await new Promise<void>((resolve, reject) => file.end((e?: Error | null) => (e ? reject(e) : resolve())));
  const routes = fib.count(4) + fib.count(6);
  ctx.log(`snapshot: ${routes} routes in ${frames} frames, ${bytes} bytes (${(bytes / Math.max(1, routes)).toFixed(2)} bytes a route)`);
  return 0;
}
