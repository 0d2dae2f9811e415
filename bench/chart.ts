// SVG charts for the benchmark report: line charts (a series per implementation, log or
// linear axes) and bar charts. Plain SVG 1.1 with inline styles, so that a Markdown viewer
// showing the file as an image renders it as drawn; no script, no external fonts.
//
//   ┌──────────────────────────────── WIDTH ─┐
//   │ title                                   │
//   │ y label ┌──────── plot ─────────┐ legend│
//   │   ticks │                       │       │
//   │         └───────────────────────┘       │
//   │                 x ticks, x label        │
//   └─────────────────────────────────────────┘

const WIDTH = 860;
const HEIGHT = 400;
const PLOT = { left: 80, top: 40, right: 560, bottom: 330 };
const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];
const FONT = `font-family="Helvetica, Arial, sans-serif"`;

export interface Series {
  name: string;
  points: [x: number, y: number][];
  /** Drawn dashed: a reference (a published figure, a bound), not a measurement of this run. */
  reference?: boolean;
}

export interface Axis {
  label: string;
  log?: boolean;
  /** Tick labels; default: the number with a k/M/G suffix. */
  format?: (v: number) => string;
}

export interface LineChart {
  title: string;
  x: Axis;
  y: Axis;
  series: Series[];
}

export interface BarChart {
  title: string;
  y: Axis;
  bars: { label: string; value: number; reference?: boolean }[];
}

/** A line chart of every series with at least one point; axes span all points. */
export function lineChart(c: LineChart): string {
  const series = c.series.filter((s) => s.points.length > 0);
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const sx = scale(xs, c.x, PLOT.left, PLOT.right);
  const sy = scale(ys, c.y, PLOT.bottom, PLOT.top);
  const out = [header(c.title), axes(sx, sy, c.x, c.y)];
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const pts = [...s.points].sort((a, b) => a[0] - b[0]).map(([x, y]) => `${f(sx.at(x))},${f(sy.at(y))}`);
    const dash = s.reference ? ` stroke-dasharray="6 4"` : "";
    out.push(`<polyline fill="none" stroke="${colour}" stroke-width="2"${dash} points="${pts.join(" ")}"/>`);
    if (!s.reference) for (const p of pts) out.push(`<circle cx="${p.split(",")[0]}" cy="${p.split(",")[1]}" r="3.5" fill="${colour}"/>`);
    const ly = PLOT.top + 10 + i * 22;
    out.push(`<line x1="${PLOT.right + 20}" y1="${ly}" x2="${PLOT.right + 44}" y2="${ly}" stroke="${colour}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${PLOT.right + 50}" y="${ly + 4}" font-size="12" ${FONT}>${escape(s.name)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n");
}

/** A bar chart, one bar per entry, labelled with its value. */
export function barChart(c: BarChart): string {
  const sy = scale([...c.bars.map((b) => b.value), ...(c.y.log ? [] : [0])], c.y, PLOT.bottom, PLOT.top);
  const out = [header(c.title), axes(undefined, sy, undefined, c.y)];
  const slot = (PLOT.right - PLOT.left) / c.bars.length;
  c.bars.forEach((b, i) => {
    const x = PLOT.left + i * slot + slot * 0.2;
    const y = sy.at(b.value);
    const colour = b.reference ? "#999999" : COLOURS[0];
    out.push(`<rect x="${f(x)}" y="${f(y)}" width="${f(slot * 0.6)}" height="${f(PLOT.bottom - y)}" fill="${colour}"/>`);
    out.push(`<text x="${f(x + slot * 0.3)}" y="${f(y - 6)}" font-size="12" text-anchor="middle" ${FONT}>${escape((c.y.format ?? si)(b.value))}</text>`);
    out.push(`<text x="${f(x + slot * 0.3)}" y="${PLOT.bottom + 18}" font-size="12" text-anchor="middle" ${FONT}>${escape(b.label)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n");
}

interface Scale {
  at(v: number): number;
  ticks: number[];
}

/** Maps the span of `values` (log: whole decades around them) onto [from, to]. */
function scale(values: number[], axis: Axis, from: number, to: number): Scale {
  if (axis.log) {
    const lo = Math.floor(Math.log10(Math.min(...values.filter((v) => v > 0))));
    let hi = Math.ceil(Math.log10(Math.max(...values)));
    if (hi === lo) hi++;
    const ticks: number[] = [];
    for (let e = lo; e <= hi; e++) ticks.push(10 ** e);
    return { ticks, at: (v) => from + ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * (to - from) };
  }
  const lo = Math.min(0, ...values);
  const step = niceStep((Math.max(...values) - lo) / 5 || 1);
  const hi = Math.ceil(Math.max(...values) / step) * step || step;
  const ticks: number[] = [];
  for (let v = lo; v <= hi + step / 2; v += step) ticks.push(v);
  return { ticks, at: (v) => from + ((v - lo) / (hi - lo)) * (to - from) };
}

function niceStep(raw: number): number {
  const e = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * e >= raw) return m * e;
  return 10 * e;
}

function header(title: string): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="22" font-size="15" font-weight="bold" text-anchor="middle" ${FONT}>${escape(title)}</text>`,
  ].join("\n");
}

function axes(sx: Scale | undefined, sy: Scale, x: Axis | undefined, y: Axis): string {
  const out = [`<rect x="${PLOT.left}" y="${PLOT.top}" width="${PLOT.right - PLOT.left}" height="${PLOT.bottom - PLOT.top}" fill="none" stroke="#333333"/>`];
  for (const t of sy.ticks) {
    const py = f(sy.at(t));
    out.push(`<line x1="${PLOT.left}" y1="${py}" x2="${PLOT.right}" y2="${py}" stroke="#dddddd"/>`);
    out.push(`<text x="${PLOT.left - 6}" y="${py}" dy="4" font-size="11" text-anchor="end" ${FONT}>${escape((y.format ?? si)(t))}</text>`);
  }
  const cy = (PLOT.top + PLOT.bottom) / 2;
  out.push(`<text x="18" y="${cy}" font-size="12" text-anchor="middle" transform="rotate(-90 18 ${cy})" ${FONT}>${escape(y.label)}</text>`);
  if (sx && x) {
    for (const t of sx.ticks) {
      const px = f(sx.at(t));
      out.push(`<line x1="${px}" y1="${PLOT.top}" x2="${px}" y2="${PLOT.bottom}" stroke="#eeeeee"/>`);
      out.push(`<text x="${px}" y="${PLOT.bottom + 16}" font-size="11" text-anchor="middle" ${FONT}>${escape((x.format ?? si)(t))}</text>`);
    }
    out.push(`<text x="${(PLOT.left + PLOT.right) / 2}" y="${PLOT.bottom + 40}" font-size="12" text-anchor="middle" ${FONT}>${escape(x.label)}</text>`);
  }
  return out.join("\n");
}

/** 1234567 → "1.2M": three significant digits at most, SI suffixes. */
export function si(v: number): string {
  const a = Math.abs(v);
  for (const [d, s] of [[1e9, "G"], [1e6, "M"], [1e3, "k"]] as const) if (a >= d) return `${Number((v / d).toPrecision(3))}${s}`;
  return `${Number(v.toPrecision(3))}`;
}

const f = (v: number) => v.toFixed(1);

function escape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
