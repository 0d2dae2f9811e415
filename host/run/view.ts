// A live view of a running chassis on a terminal: one row per card (role, firmware slot,
// active server, routes, digest, programming rate), redrawn in place a few times a second,
// with the run's progress lines scrolling above it. Without a terminal there is no table:
// the progress lines are the whole output.

import type { Chassis } from "./chassis.ts";
import type { NodeStatus } from "../node/node.ts";

const REDRAW_MS = 250;

export class LiveView {
  private drawn = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private last = new Map<string, { routes: number; at: number }>();
  private drawing = false;

  constructor(private readonly chassis: Chassis, private readonly out: NodeJS.WriteStream) {}

  /** True when the output is a terminal the table can be redrawn on. */
  get live(): boolean {
    return this.out.isTTY === true;
  }

  start(): void {
    if (!this.live) return;
    this.timer = setInterval(() => void this.redraw(), REDRAW_MS);
  }

  /** A progress line: above the table on a terminal, a plain line otherwise. */
  line(text: string): void {
    if (!this.live) return void this.out.write(`${text}\n`);
    this.erase();
    this.out.write(`${text}\n`);
    void this.redraw();
  }

  /** Draws the table a last time and leaves it on the screen. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    if (!this.live) return;
    await this.redraw();
    this.drawn = 0;
  }

  private erase(): void {
    if (this.drawn > 0) this.out.write(`\x1b[${this.drawn}A\x1b[0J`);
    this.drawn = 0;
  }

  private async redraw(): Promise<void> {
    if (this.drawing) return;
    this.drawing = true;
    try {
      const statuses = await Promise.all(this.chassis.nodes.map(async (n) => ({ id: n.id, role: n.role, s: this.chassis.isUp(n.id) ? await this.chassis.status(n.id) : undefined })));
      const rows = [["card", "role", "firmware", "state", "IPv4", "IPv6", "digest v4", "routes/s", "failovers"]];
      const now = performance.now();
      for (const { id, role, s } of statuses) rows.push(this.row(id, role, s, now));
      const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
      const text = rows.map((r, i) => `${i === 0 ? "\x1b[1m" : ""}${r.map((c, j) => (j < 3 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join("  ")}${i === 0 ? "\x1b[0m" : ""}`);
      this.erase();
      this.out.write(`${text.join("\n")}\n`);
      this.drawn = text.length;
    } finally {
      this.drawing = false;
    }
  }

  private row(id: string, role: string, s: NodeStatus | undefined, now: number): string[] {
    if (!s) return [id, role, "", "down", "", "", "", "", ""];
    const routes = s.routes[4] + s.routes[6];
    const before = this.last.get(id);
    this.last.set(id, { routes, at: now });
    const rate = before && now > before.at ? Math.abs(routes - before.routes) / ((now - before.at) / 1000) : 0;
    const firmware = s.firmware ? (s.firmware.running ? `slot ${s.firmware.running}` : flashing(s)) : "build";
    const state = s.firmware && !s.firmware.running ? "no firmware" : role === "rp" ? "serving" : s.active ? `${s.stale ? "stale, " : ""}from ${s.active}` : s.stale ? "stale: no server" : "registering";
    return [id, role, firmware, state, String(s.routes[4]), String(s.routes[6]), s.digest[4].slice(0, 8), rate > 0 ? Math.round(rate).toLocaleString("en-US") : "", String(s.failovers)];
  }
}

function flashing(s: NodeStatus): string {
  const writing = Object.values(s.firmware!.slots).find((x) => x.state === "writing");
  return writing ? `flashing ${Math.floor((100 * writing.written) / Math.max(1, writing.size))}%` : "blank";
}
