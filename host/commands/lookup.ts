// fibcast lookup --routes FILE: addresses on stdin, one a line, answered in input order as
// `ADDRESS NEXTHOP` (the next hop as written in the route file) or `ADDRESS -`. Lines are
// answered in batches through the WASM batch lookup, so a million addresses stream through
// without a million-line buffer. A malformed address prints `ADDRESS !error` and its reason
// on stderr; the run goes on.

import { Addr, ParseError } from "../netip.ts";
import { NO_ROUTE } from "../fib.ts";
import { UsageError, type Context } from "../cli-support.ts";
import { loadRouteFileFib } from "../fib-from-file.ts";

const BATCH = 8192;

export async function lookupCommand(ctx: Context, args: { routes?: string }): Promise<number> {
  if (!args.routes) throw new UsageError("lookup needs --routes FILE");
  const { fib, nexthops } = loadRouteFileFib(args.routes, ctx);
  const v4 = new Uint32Array(BATCH);
  const v6 = new Uint32Array(4 * BATCH);
  const out4 = new Uint32Array(BATCH);
  const out6 = new Uint32Array(BATCH);
  let lineNo = 0;
  let bad = 0;

  const answer = async (lines: string[]): Promise<void> => {
    const kinds = new Int32Array(lines.length);   // index into v4 (≥ 0), v6 (< -1), or -1 for an error
    let n4 = 0;
    let n6 = 0;
    const errors: (string | undefined)[] = new Array(lines.length);
    for (let i = 0; i < lines.length; i++) {
      const a = Addr.parse(lines[i]);
      if (a instanceof ParseError) {
        kinds[i] = -1;
        errors[i] = a.reason;
      } else if (a.family === 4) {
        kinds[i] = n4;
        v4[n4++] = a.w0;
      } else {
        kinds[i] = -2 - n6;
        v6.set([a.w0, a.w1, a.w2, a.w3], 4 * n6++);
      }
    }
    if (n4 > 0) fib.lookupBatch(4, v4.subarray(0, n4), out4);
    if (n6 > 0) fib.lookupBatch(6, v6.subarray(0, 4 * n6), out6);
    let text = "";
    for (let i = 0; i < lines.length; i++) {
      const k = kinds[i];
      if (k === -1) {
        text += `${lines[i]} !error\n`;
        ctx.stderr.write(`line ${lineNo - lines.length + i + 1}: ${JSON.stringify(lines[i])}: ${errors[i]}\n`);
        bad++;
        continue;
      }
      const nh = k >= 0 ? out4[k] : out6[-2 - k];
      text += `${lines[i]} ${nh === NO_ROUTE ? "-" : nexthops.name(nh)}\n`;
    }
    await ctx.write(text);
  };

  let pending: string[] = [];
  let partial = "";
  for await (const chunk of ctx.stdin) {
    const parts = (partial + chunk.toString("utf8")).split("\n");
    partial = parts.pop()!;
    for (const raw of parts) {
      lineNo++;
      const line = raw.trim();
      if (line === "") continue;
      pending.push(line);
      if (pending.length === BATCH) {
        await answer(pending);
        pending = [];
      }
    }
  }
  if (partial.trim() !== "") {
    lineNo++;
    pending.push(partial.trim());
  }
  if (pending.length > 0) await answer(pending);
  return bad > 0 ? 1 : 0;
}
