// fibcast bench: runs the named benchmarks (all by default) and prints their figures.

import { cpus } from "node:os";
import { asnRoutes } from "../asn.ts";
import type { Route } from "../routefile.ts";
import { readRoutesOrFail } from "../fib-from-file.ts";
import { benchLookup, benchLookupBySize } from "../../bench/lookup.ts";
import { benchWire } from "../../bench/wire.ts";
import { benchProgram } from "../../bench/program.ts";
import { benchFailover } from "../../bench/failover.ts";
import { benchMulticast } from "../../bench/multicast.ts";
import { benchForward } from "../../bench/forward.ts";
import { benchFlash } from "../../bench/flash.ts";
import { cpuCalibration } from "../../bench/stats.ts";
import { writeReport, type BenchReport } from "../../bench/report.ts";
import { UsageError, type Context } from "../cli-support.ts";

export interface BenchArgs {
  routes?: string;
  json: boolean;
  quick: boolean;
  /** Where to write the report (JSON, Markdown, charts). */
  out?: string;
}

const BENCHMARKS = ["lookup", "wire", "forward", "flash", "program", "failover", "multicast"];

export async function benchCommand(ctx: Context, names: string[], args: BenchArgs): Promise<number> {
  const unknown = names.filter((n) => !BENCHMARKS.includes(n));
  if (unknown.length > 0) throw new UsageError(`unknown benchmark ${unknown.join(", ")}; known: ${BENCHMARKS.join(", ")}`);
  const chosen = names.length > 0 ? names : BENCHMARKS;
  let routes: Route[] = [];
  if (chosen.includes("lookup") || chosen.includes("wire") || chosen.includes("forward")) {
    if (args.routes) {
      routes = readRoutesOrFail(args.routes);
    } else {
      routes = [...asnRoutes(4), ...asnRoutes(6)];
      ctx.log(`table: @ip-location-db/asn, ${routes.length} prefixes`);
    }
  }
  const calibration = cpuCalibration();
  const report: BenchReport = { date: new Date().toISOString().slice(0, 10), quick: args.quick, machine: machine(), cpuCalibration: calibration };
  if (chosen.includes("lookup")) {
    report.lookup = benchLookup(routes, { quick: args.quick, log: ctx.log });
    report.lookupBySize = benchLookupBySize(routes, { quick: args.quick, log: ctx.log });
  }
  if (chosen.includes("wire")) report.wire = benchWire(routes, { quick: args.quick, log: ctx.log });
  if (chosen.includes("forward")) report.forward = benchForward(routes, { quick: args.quick, log: ctx.log });
  if (chosen.includes("flash")) report.flash = await benchFlash({ quick: args.quick, log: ctx.log });
  if (chosen.includes("program")) report.program = await benchProgram({ quick: args.quick, log: ctx.log });
  if (chosen.includes("failover")) report.failover = await benchFailover({ quick: args.quick, log: ctx.log });
  if (chosen.includes("multicast")) report.multicast = await benchMulticast({ quick: args.quick, log: ctx.log });
  if (args.out) for (const path of writeReport(args.out, report)) ctx.log(`wrote ${path}`);
  if (args.json) {
    await ctx.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    for (const r of report.lookup ?? []) {
      await ctx.write(
        `IPv${r.family}  ${r.routes} routes  build ${r.buildMs} ms  batch ${(r.lookupsPerSec / 1e6).toFixed(1)} M/s ` +
          `(per-route ${(r.lookupsPerSecPerRoute / 1e6).toFixed(1)})  single ${(r.singleLookupsPerSec / 1e6).toFixed(1)} M/s  ` +
          `updates ${(r.updatesPerSec / 1e6).toFixed(2)} M/s  ${r.bytesPerRoute} B/route (total ${r.totalBytesPerRoute})  ` +
          `${r.speedupVsPeer ?? "–"}× the fastest peer\n`,
      );
    }
    for (const r of report.forward?.runs ?? []) {
      await ctx.write(
        `forward  IPv${r.family} ${r.mode}  ${r.mpps} Mpps per engine (in turns: ${r.inTurns.onePassGain}× lookupBatch + JS counting, ` +
          `lookups alone ${r.inTurns.lookupOnlyMpps} M/s)  ` +
          `${r.wrong} wrong of ${r.checked}\n`,
      );
    }
    for (const r of report.flash?.runs ?? []) {
      await ctx.write(`flash  ${r.imageBytes} B over a ${r.line} ${r.baud / 1e6} Mbit/s line  ${r.ms} ms  ${r.ratio}× the wire time\n`);
    }
    const p = report.program;
    if (p) {
      await ctx.write(
        `program  ${p.routes[4] + p.routes[6]} routes, ${p.processes} processes  cold start ${p.coldStartMs} ms  ` +
          `RP → LC → NPU ${(p.programRoutesPerSec / 1e6).toFixed(2)} M routes/s (${Math.round(p.programRoutesPerSec / p.sonicRoutesPerSec)}× SONiC), one chain ${(p.chain.routesPerSec / 1e6).toFixed(2)} M routes/s  ` +
          `churn ${p.churn.rate}/s: converged ${p.churn.convergedAfterMs} ms after the last update\n`,
      );
    }
    const f = report.failover;
    if (f) {
      for (const [mode, m] of Object.entries(f.modes)) {
        await ctx.write(
          `failover (${mode}, ${f.differ * 100}% differ)  detect ${m.detectMs} ms  resync ${m.resyncMs} ms  in ${m.bytesIn} B  ` +
            `${m.diffEntries} entries  to NPUs ${m.bytesDownstream} B (${m.downstreamRatio}× the difference each)  (full resend: FPM ${f.fullResend.fpmBytes} B, snapshot ${f.fullResend.snapshotBytes} B)\n`,
        );
      }
    }
    const m = report.multicast;
    for (const r of m?.runs ?? []) {
      await ctx.write(
        `multicast  ${r.routes} IPv4 routes to ${r.receivers} card(s), ${r.lossRate * 100}% loss  sent ${r.senderBytes} B (${r.senderBytesPerRoute} B/route)  ` +
          `repairs ${r.repairBytes} B for ${r.lostBytes} B lost  converged ${r.convergeMs} ms\n`,
      );
    }
    for (const r of report.wire ?? []) {
      await ctx.write(
        `IPv${r.family}  wire ${r.bytesPerRoute} B/route (FPM ${r.fpmBytesPerRoute})  encode ${(r.encodeRoutesPerSec / 1e6).toFixed(1)} M/s  ` +
          `decode ${(r.decodeRoutesPerSec / 1e6).toFixed(1)} M/s  diff ${(r.diffEntriesPerSec / 1e6).toFixed(1)} M entries/s (${r.diffMs} ms)\n`,
      );
    }
  }
  return 0;
}

function machine(): BenchReport["machine"] {
  return { node: process.version, arch: process.arch, cpus: cpus().length, cpu: cpus()[0]?.model };
}
