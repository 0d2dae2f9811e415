// The report's charts: points land where their values say, on log and linear axes; series
// without points stay out of the legend; a report gets exactly the charts its figures allow.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { barChart, lineChart, si } from "../bench/chart.ts";
import { reportCharts, type BenchReport } from "../bench/report.ts";

/** The circles of a chart, as [cx, cy]. */
function circles(svg: string): [number, number][] {
  return [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"/g)].map((m) => [Number(m[1]), Number(m[2])]);
}

test("a log-log line chart: larger x lies right, larger y lies higher, a decade apart is an equal step", () => {
  const svg = lineChart({
    title: "t <&>", x: { label: "x", log: true }, y: { label: "y", log: true },
    series: [{ name: "a", points: [[10, 100], [100, 1000], [1000, 10000]] }, { name: "empty", points: [] }],
  });
  assert.ok(svg.startsWith("<svg") && svg.endsWith("</svg>"));
  const [p, q, r] = circles(svg);
  assert.ok(p[0] < q[0] && q[0] < r[0], "x grows to the right");
  assert.ok(p[1] > q[1] && q[1] > r[1], "y grows upwards");
  assert.ok(Math.abs((q[0] - p[0]) - (r[0] - q[0])) < 0.2, "equal steps per decade");
  assert.ok(svg.includes("t &lt;&amp;&gt;"), "text is escaped");
  assert.not.ok(svg.includes(">empty<"), "a series without points is not in the legend");
});

test("a linear axis starts at zero; references are dashed and have no markers", () => {
  const svg = lineChart({
    title: "t", x: { label: "cards" }, y: { label: "bytes" },
    series: [{ name: "m", points: [[1, 50], [8, 50]] }, { name: "u", points: [[1, 50], [8, 400]], reference: true }],
  });
  assert.is(circles(svg).length, 2);
  assert.ok(svg.includes('stroke-dasharray="6 4"'));
  assert.ok(svg.includes(">0<"), "the y axis has a 0 tick");
});

test("a bar chart labels each bar with its value", () => {
  const svg = barChart({ title: "t", y: { label: "routes / s", log: true }, bars: [{ label: "fibcast", value: 412000 }, { label: "SONiC", value: 30000, reference: true }] });
  assert.ok(svg.includes(">412k<") && svg.includes(">30k<") && svg.includes(">SONiC<"));
  const heights = [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)"/g)].map((m) => Number(m[1]));
  assert.ok(heights[0] > heights[1], "the larger value has the taller bar");
});

test("si: three significant digits and a suffix", () => {
  assert.equal([si(999), si(1234), si(565000), si(1.2e6), si(131912082), si(0.5)], ["999", "1.23k", "565k", "1.2M", "132M", "0.5"]);
});

test("a report gets the charts its figures allow", () => {
  const base: BenchReport = { date: "2026-12-05", quick: true, machine: { node: "v20", arch: "x64", cpus: 2 }, cpuCalibration: 400 };
  assert.equal(Object.keys(reportCharts(base)), []);
  const withLookup: BenchReport = {
    ...base,
    lookupBySize: [
      { family: 4, routes: 1000, lookupsPerSec: 2e8, wrongAnswers: 0, peers: [{ name: "p", lookupsPerSec: 1e6, wrongAnswers: 0 }, { name: "q", unavailable: "no addon" }] },
      { family: 4, routes: 10000, lookupsPerSec: 1.5e8, wrongAnswers: 0, peers: [{ name: "p", lookupsPerSec: 8e5, wrongAnswers: 0 }, { name: "q", unavailable: "no addon" }] },
    ],
  };
  const charts = reportCharts(withLookup);
  assert.equal(Object.keys(charts), ["lookup"]);
  assert.ok(charts.lookup.includes(">fibcast IPv4<") && charts.lookup.includes(">p IPv4<"));
  assert.not.ok(charts.lookup.includes(">q IPv4<"), "an unavailable peer is not plotted");
  assert.is(circles(charts.lookup).length, 4);
});

test.run();
