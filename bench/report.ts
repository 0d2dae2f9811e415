// The benchmark report: one run's figures as <date>.json (<date>-quick.json for a quick
// run, which leaves the day's full report alone), and <date>.md that a reader can
// take in at a glance — the machine, a table per benchmark beside its bar, and four SVG
// charts written next to it (<date>-<chart>.svg):
// - lookup rate against table size, fibcast and the peers, per family;
// - bytes a card receives to resync against the share of routes that differ, beside a
//   full copy and what FRR's FPM sends on reconnect;
// - bytes the route processor sends against the number of cards, multicast and unicast;
// - end-to-end programming rate beside SONiC's published figure.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LookupResult, SizePoint } from "./lookup.ts";
import type { WireResult } from "./wire.ts";
import type { ForwardReport } from "./forward.ts";
import type { FlashReport } from "./flash.ts";
import type { ProgramResult } from "./program.ts";
import type { FailoverResult } from "./failover.ts";
import type { MulticastResult } from "./multicast.ts";
import { barChart, lineChart, si, type Series } from "./chart.ts";

export interface BenchReport {
  date: string;
  quick: boolean;
  machine: { node: string; arch: string; cpus: number; cpu?: string };
  cpuCalibration: number;
  lookup?: LookupResult[];
  lookupBySize?: SizePoint[];
  wire?: WireResult[];
  forward?: ForwardReport;
  flash?: FlashReport;
  program?: ProgramResult;
  failover?: FailoverResult;
  multicast?: MulticastResult;
}

/** Writes the report's JSON, Markdown and charts into `dir`; returns the paths written. */
export function writeReport(dir: string, r: BenchReport): string[] {
  mkdirSync(dir, { recursive: true });
  const base = join(dir, reportName(r));
  const written: string[] = [];
  const write = (path: string, text: string) => { writeFileSync(path, text); written.push(path); };
  write(`${base}.json`, `${JSON.stringify(r, null, 2)}\n`);
  const charts = reportCharts(r);
  for (const [name, svg] of Object.entries(charts)) write(`${base}-${name}.svg`, `${svg}\n`);
  write(`${base}.md`, markdown(r, Object.keys(charts)));
  return written;
}

/** The files' name before the suffix: the date, and `-quick` for a quick run (which must not overwrite the day's full one). */
function reportName(r: BenchReport): string {
  return r.quick ? `${r.date}-quick` : r.date;
}

/** The charts the report's figures allow, by file suffix. */
export function reportCharts(r: BenchReport): Record<string, string> {
  const out: Record<string, string> = {};
  if (r.lookupBySize?.length) {
    const series: Series[] = [];
    for (const family of [4, 6] as const) {
      const points = r.lookupBySize.filter((p) => p.family === family);
      if (points.length === 0) continue;
      series.push({ name: `fibcast IPv${family}`, points: points.map((p) => [p.routes, p.lookupsPerSec]) });
      for (const name of points[0].peers.map((p) => p.name)) {
        const pts = points.flatMap((p) => { const q = p.peers.find((x) => x.name === name); return q?.lookupsPerSec ? [[p.routes, q.lookupsPerSec] as [number, number]] : []; });
        series.push({ name: `${name} IPv${family}`, points: pts });
      }
    }
    out["lookup"] = lineChart({ title: "Lookups a second against table size (one core)", x: { label: "routes in the table", log: true }, y: { label: "lookups / s", log: true }, series });
  }
  const f = r.failover;
  if (f?.bySize.length) {
    const x = (p: { diffEntries: number }) => (100 * p.diffEntries) / (f.routes[4] + f.routes[6]);
    const span = f.bySize.map(x);
    const flat = (y: number): [number, number][] => [[Math.min(...span), y], [Math.max(...span), y]];
    out["resync"] = lineChart({
      title: "Bytes a card exchanges to resync, against the routes that differ",
      x: { label: "routes that differ, % of the table", log: true, format: (v) => `${v}%` },
      y: { label: "bytes", log: true },
      series: [
        { name: "digest resync, received", points: f.bySize.map((p) => [x(p), p.bytesIn]) },
        { name: "digest resync, sent up (sketch)", points: f.bySize.map((p) => [x(p), p.bytesUp]) },
        { name: "the difference itself", points: f.bySize.map((p) => [x(p), p.diffBytes]) },
        { name: "copy (measured at 1%)", points: f.modes.copy ? flat(f.modes.copy.bytesIn) : [], reference: true },
        { name: "FPM full resend", points: flat(f.fullResend.fpmBytes), reference: true },
      ],
    });
  }
  const m = r.multicast;
  const clean = m?.runs.filter((run) => run.lossRate === 0) ?? [];
  if (clean.length > 0) {
    const one = clean.find((run) => run.receivers === 1) ?? clean[0];
    const perCard = one.senderBytes / one.receivers;
    out["multicast"] = lineChart({
      title: "Bytes the route processor sends, against the cards it serves",
      x: { label: "line cards" },
      y: { label: "bytes sent" },
      series: [
        { name: "multicast (measured)", points: clean.map((run) => [run.receivers, run.senderBytes]) },
        { name: "unicast: a stream per card", points: clean.map((run) => [run.receivers, perCard * run.receivers]), reference: true },
      ],
    });
  }
  const p = r.program;
  if (p) {
    out["program"] = barChart({
      title: "End-to-end programming rate, RP → LC → NPU",
      y: { label: "routes / s", log: true },
      bars: [
        { label: "fibcast, one chain", value: p.chain.routesPerSec },
        { label: `fibcast, ${p.processes} processes`, value: p.programRoutesPerSec },
        { label: "SONiC (published)", value: p.sonicRoutesPerSec, reference: true },
      ],
    });
  }
  return out;
}

function markdown(r: BenchReport, charts: string[]): string {
  const out: string[] = [];
  const img = (name: string, alt: string) => { if (charts.includes(name)) out.push(`![${alt}](${reportName(r)}-${name}.svg)`, ""); };
  out.push(`# fibcast benchmarks, ${r.date}${r.quick ? " (quick)" : ""}`, "");
  out.push(`Machine: ${r.machine.cpus} × ${r.machine.cpu ?? "unknown CPU"}, ${r.machine.arch}, Node ${r.machine.node}; CPU calibration ${r.cpuCalibration} (higher is faster; compare runs by it).`);
  out.push("Rates are medians of repeated runs on a shared machine; the JSON beside this file has the spreads.", "");
  if (r.lookup) {
    out.push("## Lookup", "");
    const names = [...new Set(r.lookup.flatMap((l) => l.peers.map((p) => p.name)))];
    out.push(`| family | routes | build | batch | single call | updates | bytes/route | ${names.join(" | ")} | fibcast ÷ best peer |`);
    out.push(`|---|---|---|---|---|---|---|${names.map(() => "---|").join("")}---|`);
    for (const l of r.lookup) {
      const peers = names.map((n) => { const p = l.peers.find((x) => x.name === n); return p?.lookupsPerSec ? `${si(p.lookupsPerSec)}/s` : "unavailable"; });
      out.push(`| IPv${l.family} | ${si(l.routes)} | ${l.buildMs} ms | ${si(l.lookupsPerSec)}/s | ${si(l.singleLookupsPerSec)}/s | ${si(l.updatesPerSec)}/s | ${l.bytesPerRoute} | ${peers.join(" | ")} | ${l.speedupVsPeer ?? "–"}× |`);
    }
    out.push("");
    img("lookup", "lookup rate against table size");
  }
  if (r.wire) {
    out.push("## Wire", "");
    out.push("| family | routes | bytes/route | FPM bytes/route | encode | decode | diff |", "|---|---|---|---|---|---|---|");
    for (const w of r.wire) out.push(`| IPv${w.family} | ${si(w.routes)} | ${w.bytesPerRoute} | ${w.fpmBytesPerRoute} | ${si(w.encodeRoutesPerSec)} routes/s | ${si(w.decodeRoutesPerSec)} routes/s | ${si(w.diffEntriesPerSec)} entries/s |`);
    out.push("");
  }
  if (r.forward) {
    out.push("## Forwarding engine", "");
    out.push("| family | traffic | routes | packets/s | wrong |", "|---|---|---|---|---|");
    for (const x of r.forward.runs) out.push(`| IPv${x.family} | ${x.mode} | ${si(x.routes)} | ${si(x.mpps * 1e6)} | ${x.wrong} of ${x.checked} |`);
    out.push("", `Bar: ≥ ${r.forward.bar.mpps} Mpps per engine (IPv4, uniform): ${r.forward.bar.met ? "met" : "not met"}.`, "");
  }
  if (r.flash) {
    out.push("## Flashing", "");
    out.push("| line | image | time | × wire time |", "|---|---|---|---|");
    for (const x of r.flash.runs) out.push(`| ${x.line} ${x.baud / 1e6} Mbit/s | ${si(x.imageBytes)} B | ${x.ms} ms | ${x.ratio} |`);
    out.push("", `Bar: ≤ ${r.flash.bar.ratio}× the wire time: ${r.flash.bar.met ? "met" : "not met"}.`, "");
  }
  if (r.program) {
    const p = r.program;
    out.push("## Programming, cold start, churn", "");
    out.push(`${p.processes} processes over TCP (2 RPs, 4 LCs, 8 NPUs), ${si(p.routes[4])} IPv4 + ${si(p.routes[6])} IPv6 routes.`, "");
    out.push("| figure | measured | bar |", "|---|---|---|");
    out.push(`| programming RP → LC → NPU, one chain of ${p.chain.processes} processes, ${si(p.chain.routes)} IPv4 routes | ${si(p.chain.routesPerSec)} routes/s (median of ${p.chain.programMs.join(", ")} ms; ${Math.round(p.chain.routesPerSec / p.sonicRoutesPerSec)}× SONiC's ${si(p.sonicRoutesPerSec)}/s) | ≥ 1M routes/s |`);
    out.push(`| programming RP → LC → NPU, the whole chassis | ${si(p.programRoutesPerSec)} routes/s (${Math.round(p.programRoutesPerSec / p.sonicRoutesPerSec)}× SONiC) | ≥ 1M routes/s |`);
    out.push(`| cold start to converged | ${p.coldStartMs} ms | ≤ 8000 ms |`);
    out.push(`| churn ${si(p.churn.rate)}/s: converged after the last update | ${p.churn.convergedAfterMs} ms | ≤ 200 ms |`);
    out.push("");
    img("program", "programming rate beside SONiC");
  }
  if (r.failover) {
    const f = r.failover;
    out.push("## Failover", "");
    out.push(`${si(f.routes[4] + f.routes[6])} routes; rp1 changes ${f.differ * 100}% of them while the cards cannot hear it, then rp0 dies. Medians over 4 cards.`, "");
    out.push("| mode | detect | resync after detection | bytes in | share of a snapshot | to each NPU ÷ the difference |", "|---|---|---|---|---|---|");
    for (const [mode, m] of Object.entries(f.modes)) out.push(`| ${mode} | ${m.detectMs} ms | ${m.resyncMs} ms | ${si(m.bytesIn)} B | ${(100 * m.bytesInShare).toFixed(2)}% | ${m.downstreamRatio} |`);
    out.push(`| full resend (FRR FPM) | | | ${si(f.fullResend.fpmBytes)} B | ${(100 * f.fullResend.fpmBytes / f.fullResend.snapshotBytes).toFixed(0)}% | |`);
    out.push("", "Bars: detection ≤ 200 ms; digest resync ≤ 300 ms after detection, ≤ 5% of a snapshot; ≤ 1.5× the difference to each NPU.", "");
    img("resync", "resync bytes against the difference");
  }
  if (r.multicast) {
    out.push("## Multicast", "");
    out.push("| cards | loss | bytes sent | bytes/route | repairs | repair bytes ÷ lost | converged |", "|---|---|---|---|---|---|---|");
    for (const x of r.multicast.runs) out.push(`| ${x.receivers} | ${x.lossRate * 100}% | ${si(x.senderBytes)} B | ${x.senderBytesPerRoute} | ${x.repairs} | ${x.repairRatio ?? "–"} | ${x.convergeMs} ms |`);
    out.push("", `Bytes sent with the most cards ÷ with one: ${r.multicast.senderBytesRatio} (bar: within 5%).`, "");
    img("multicast", "sender bytes against receivers");
  }
  return `${out.join("\n")}\n`;
}
