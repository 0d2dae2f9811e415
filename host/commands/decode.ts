// fibcast decode [--routes-out F]: any framed stream on stdin (a capture of a serial line,
// a snapshot file) as one JSON line per frame, bad bytes and frames skipped and counted,
// then a JSON summary line. With --routes-out, the table rebuilt from the snapshots in the
// stream is written as a route file, next hops as the sender named them.

import { writeFileSync } from "node:fs";
import { Fib } from "../fib.ts";
import { firmwareImage } from "../firmware.ts";
import { FrameError, StreamDecoder } from "../wire/frame.ts";
import { decodeMessage, WireError, type Message } from "../wire/messages.ts";
import { SnapshotError, SnapshotReceiver } from "../wire/snapshot.ts";
import type { Context } from "../cli-support.ts";
import { Prefix } from "../netip.ts";

export async function decodeCommand(ctx: Context, args: { routesOut?: string; memoryMiB: number }): Promise<number> {
  const fib = Fib.fromImage(firmwareImage(), { memoryMiB: args.memoryMiB });
  const receiver = new SnapshotReceiver(fib);
  let undecodable = 0;
  let snapshotErrors = 0;
  const decoder = new StreamDecoder((e: FrameError) => void ctx.write(`${JSON.stringify({ dropped: e.kind, reason: e.message })}\n`));
  let out = "";
  const flush = async () => {
    if (out) await ctx.write(out);
    out = "";
  };
  for await (const chunk of ctx.stdin) {
    for (const frame of decoder.push(chunk as Uint8Array)) {
      const m = decodeMessage(frame);
      if (m instanceof WireError) {
        undecodable++;
        out += `${JSON.stringify({ type: frame.type, error: m.message })}\n`;
        continue;
      }
      out += `${JSON.stringify(describe(m))}\n`;
      const result = receiver.feed(m);
      if (result instanceof SnapshotError) {
        snapshotErrors++;
        out += `${JSON.stringify({ snapshotError: result.message })}\n`;
      } else if (result) {
        out += `${JSON.stringify({ snapshotComplete: `IPv${result.family}`, routes: result.routes, digest: result.digest.toString(16).padStart(16, "0") })}\n`;
      }
    }
    await flush();
  }
  // A stream cut mid-frame: the tail is dropped too.
  decoder.push(new Uint8Array([0]));
  const c = decoder.counters;
  const routes = fib.count(4) + fib.count(6);
  await ctx.write(`${JSON.stringify({ frames: c.frames, badFrames: c.badFrames + c.oversized + undecodable, skippedBytes: c.skippedBytes, routes, snapshotErrors })}\n`);
  if (args.routesOut) {
    let text = "";
    for (const family of [4, 6] as const) for (const [p, nh] of fib.routes(family)) text += `${p} ${receiver.name(nh)}\n`;
    writeFileSync(args.routesOut, text);
    ctx.log(`wrote ${routes} routes to ${args.routesOut}`);
  }
  return 0;
}

/** A message as JSON: route bodies as their length, other bytes in hex, 64-bit values in hex, prefixes as text. */
function describe(m: Message): Record<string, unknown> {
  const { data, ...rest } = m as Message & { data?: Uint8Array };
  const json = JSON.stringify(rest, (key, v) => {
    if (typeof v === "bigint") return v.toString(16).padStart(16, "0");
    if (v instanceof Uint8Array) return Buffer.from(v).toString("hex");
    if (v instanceof Prefix) return v.toString();
    if (key === "entries") return (v as unknown[]).length;
    return v;
  });
  return data === undefined ? JSON.parse(json) : { ...JSON.parse(json), bytes: data.length };
}
