// fibcast demo (npm start, until the chassis runs): the WASM FIB on the embedded default
// table: generate, load into a card-sized memory, look up, check every answer of a sample
// against the golden table, churn, check the digest, summarise.

import { Fib, type Change } from "../fib.ts";
import { firmwareImage } from "../firmware.ts";
import { tableDigest } from "../digest.ts";
import { generateRoutes } from "../generate.ts";
import { loadRoutes } from "../load.ts";
import { NextHopTable } from "../nexthops.ts";
import { ReferenceTable } from "../reference.ts";
import type { Route } from "../routefile.ts";
import { readRoutesOrFail } from "../fib-from-file.ts";
import { Random } from "../random.ts";
import { addressBatch, batchAddress } from "../traffic.ts";
import type { Context } from "../cli-support.ts";
import { measureRate } from "../../bench/stats.ts";

export interface DemoArgs {
  routes?: string;
  v4: number;
  v6: number;
  seed: number;
  memoryMiB: number;
}

export async function demoCommand(ctx: Context, args: DemoArgs): Promise<number> {
  let routes: Route[];
  if (args.routes) {
    routes = readRoutesOrFail(args.routes);
    ctx.log(`table: ${routes.length} routes from ${args.routes}`);
  } else {
    routes = [
      ...generateRoutes({ family: 4, routes: args.v4, seed: args.seed }),
      ...generateRoutes({ family: 6, routes: args.v6, seed: args.seed }),
    ];
    ctx.log(`table: ${args.v4} IPv4 + ${args.v6} IPv6 routes, synthetic, seed ${args.seed}`);
  }

  const fib = Fib.fromImage(firmwareImage(), { memoryMiB: args.memoryMiB });
  const nexthops = new NextHopTable();
  let t = performance.now();
  const loaded = loadRoutes(fib, routes, nexthops);
  const loadMs = performance.now() - t;
  ctx.log(`loaded ${loaded.loaded} routes in ${loadMs.toFixed(0)} ms into a ${args.memoryMiB} MiB card` +
    (loaded.full > 0 ? `; ${loaded.full} refused: the card's memory is full` : ""));

  const golden = new ReferenceTable();
  for (const r of routes) golden.set(r.prefix, nexthops.intern(r.nexthop));

  const rows: string[][] = [["family", "routes", "lookups/s", "checked", "wrong", "bytes/route", "digest"]];
  let wrong = 0;
  for (const family of [4, 6] as const) {
    const prefixes = routes.filter((r) => r.prefix.family === family).map((r) => r.prefix);
    if (prefixes.length === 0) continue;
    const n = 1 << 20;
    const addrs = addressBatch(prefixes, family, n, "space", args.seed);
    const out = new Uint32Array(n);
    const rate = measureRate(n, 5, () => fib.lookupBatch(family, addrs, out)).median;
    const checked = 100000;
    let bad = 0;
    for (let i = 0; i < checked; i++) {
      const expected = golden.lookup(batchAddress(addrs, family, i));
      if ((expected ?? 0xffffff) !== out[i]) bad++;
    }
    wrong += bad;
    rows.push([
      `IPv${family}`, String(fib.count(family)), `${(rate / 1e6).toFixed(1)} M`, String(checked), String(bad),
      (fib.memoryUsed(family) / fib.count(family)).toFixed(1), fib.digest(family).toString(16).padStart(16, "0"),
    ]);
  }

  // Churn: replace and remove a sample, then compare the digest with the golden table's.
  const churn = churnSample(routes, nexthops, args.seed);
  t = performance.now();
  fib.apply(churn);
  const churnMs = performance.now() - t;
  for (const c of churn) {
    if (c.nh === undefined) golden.remove(c.prefix);
    else golden.set(c.prefix, c.nh);
  }
  let digestsAgree = true;
  for (const family of [4, 6] as const) {
    if (fib.digest(family) !== tableDigest(golden.routes(family))) digestsAgree = false;
  }

  await ctx.write(table(rows));
  await ctx.write(
    `churn: ${churn.length} updates in ${churnMs.toFixed(1)} ms (${(churn.length / churnMs / 1000).toFixed(2)} M/s); ` +
      `digests ${digestsAgree ? "equal the golden table's" : "DIFFER from the golden table's"}\n` +
      `memory: ${(fib.memoryBytes() / (1 << 20)).toFixed(1)} MiB of ${args.memoryMiB} MiB; next hops: ${nexthops.size}\n`,
  );
  return wrong === 0 && digestsAgree && loaded.invalid === 0 ? 0 : 1;
}

function churnSample(routes: readonly Route[], nexthops: NextHopTable, seed: number): Change[] {
  const rnd = new Random(seed + 1);
  const changes: Change[] = [];
  const n = Math.min(100000, routes.length);
  const seen = new Set<number>();
  while (changes.length < n) {
    const i = rnd.below(routes.length);
    if (seen.has(i)) continue;
    seen.add(i);
    const r = routes[i];
    changes.push(rnd.float() < 0.5 ? { prefix: r.prefix } : { prefix: r.prefix, nh: nexthops.intern(routes[rnd.below(routes.length)].nexthop) });
  }
  return changes;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd()).join("\n") + "\n";
}
