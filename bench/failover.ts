// fibcast bench failover: what losing the active route processor costs each line card, when
// the secondary's table differs from the card's by a known share of the routes.
//
// The chassis (2 RPs, 4 LCs, 8 NPUs as processes over TCP) runs the real IPv4 + IPv6 tables
// as rp1's source; the cards take them from rp0, their primary. Then the two route
// processors are cut apart, rp1 churns 1% of the routes (the cards do not hear of it), and,
// once every node has settled (its kept sketches current: NodeStatus.sketch), rp0 is frozen
// (SIGSTOP: its links stay open, so only heartbeats can tell). Each card
// detects the silence, activates rp1, makes up the difference and passes it on to its NPUs.
// Once per way of resyncing: copy and digest (catch-up off: no backlog), and catch-up (the
// default: the cards' tables are rp1's own as it was before the split, so rp1 sends its
// updates since then). Per card: detectMs, resyncMs (detection to the table
// equal to rp1's), bytesIn and bytesUp (what the card received and sent for it), bytesInShare
// (bytesIn over a full snapshot), diffEntries, bytesDownstream (to its NPUs) against
// diffBytes (the difference as one update batch), medians over the cards; beside what a
// full resend costs: the table as FRR's FPM sends it again on reconnect (netlink), and as
// our own snapshot.

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asnRoutes } from "../host/asn.ts";
import { formatRoutes, type Route } from "../host/routefile.ts";
import { Chassis } from "../host/run/chassis.ts";
import { waitConverged } from "../host/run/runner.ts";
import { parseTopology } from "../host/run/topology.ts";
import type { Resync } from "../host/node/node.ts";
import { median, round } from "./stats.ts";
import { fpmBytes } from "./wire.ts";

export interface FailoverFigures {
  cards: number;
  detectMs: number;
  resyncMs: number;
  bytesIn: number;
  /** bytesIn over a full snapshot of the table (bar ≤ 0.05 in digest mode). */
  bytesInShare: number;
  /** Bytes the card sent its new server for the resync (the digests it described its table by). */
  bytesUp: number;
  diffEntries: number;
  /** Bytes the card sent its forwarding engines, all of them. */
  bytesDownstream: number;
  /** The difference as update batches: what each forwarding engine must get at least. */
  diffBytes: number;
  /** Bytes per forwarding engine over diffBytes (bar ≤ 1.5). */
  downstreamRatio: number;
}

export interface FailoverResult {
  routes: { 4: number; 6: number };
  /** Share of the routes rp1 changed while the cards could not hear it. */
  differ: number;
  modes: Record<string, FailoverFigures>;
  fullResend: { fpmBytes: number; snapshotBytes: number };
  /** Digest resync against the share of routes that differ (the 1% point is modes.digest). */
  bySize: ({ differ: number } & FailoverFigures)[];
}

/** Copy first: its bytes in are the full snapshot the other modes are measured against. */
const MODES = ["copy", "digest", "catch-up"] as const;
const NPUS_PER_CARD = 2;

export async function benchFailover(options: { quick?: boolean; log?: (s: string) => void } = {}): Promise<FailoverResult> {
  const log = options.log ?? (() => {});
  let routes: Route[] = [...asnRoutes(4), ...asnRoutes(6)];
  if (options.quick) routes = routes.filter((_, i) => i % 8 === 0);
  const dir = mkdtempSync(join(tmpdir(), "fibcast-bench-failover-"));
  const file = join(dir, "table.routes");
  writeFileSync(file, formatRoutes(routes));
  const count = { 4: routes.filter((r) => r.prefix.family === 4).length, 6: routes.filter((r) => r.prefix.family === 6).length };
  const differ = 0.01;
  const result: FailoverResult = { routes: count, differ, modes: {}, fullResend: { fpmBytes: fpmBytes(routes.map((r) => r.prefix)), snapshotBytes: 0 }, bySize: [] };
  for (const mode of MODES) {
    const { figures, snapshotBytes } = await failover(file, mode, Math.round(differ * routes.length), result.fullResend.snapshotBytes);
    result.modes[mode] = figures;
    if (mode === "copy") result.fullResend.snapshotBytes = snapshotBytes;
    log(`${mode}: detect ${figures.detectMs} ms, resync ${figures.resyncMs} ms after it, ${figures.bytesIn} B in (${round(100 * figures.bytesInShare)}% of a snapshot), ${figures.bytesUp} B up, ${figures.diffEntries} entries differed, ${figures.bytesDownstream} B to the NPUs, ${figures.downstreamRatio}× the difference's ${figures.diffBytes} B per NPU (medians over ${figures.cards} cards)`);
  }
  log(`full resend: ${result.fullResend.fpmBytes} B as FPM netlink, ${result.fullResend.snapshotBytes} B as a fibcast snapshot`);
  for (const share of options.quick ? [0.001, 0.05] : [0.001, 0.003, 0.03, 0.1]) {
    const { figures } = await failover(file, "digest", Math.round(share * routes.length), result.fullResend.snapshotBytes);
    result.bySize.push({ differ: share, ...figures });
    log(`digest, ${share * 100}% changed: ${figures.diffEntries} entries differed, ${figures.bytesIn} B in (${round(100 * figures.bytesInShare)}% of a snapshot), resync ${figures.resyncMs} ms after detection`);
  }
  result.bySize.push({ differ, ...result.modes.digest });
  result.bySize.sort((a, b) => a.differ - b.differ);
  return result;
}

/** Waits, up to 10 s, until none of `nodes` has a stale kept sketch. */
async function settled(chassis: Chassis, nodes: string[]): Promise<void> {
  const end = performance.now() + 10000;
  for (;;) {
    const stale = [];
    for (const id of nodes) if ((await chassis.status(id))?.sketch === "stale") stale.push(id);
    if (stale.length === 0) return;
    if (performance.now() > end) throw new Error(`${stale.join(", ")} still had stale sketches after 10 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function failover(file: string, mode: (typeof MODES)[number], updates: number, fullSnapshot: number): Promise<{ figures: FailoverFigures; snapshotBytes: number }> {
  const nodes: Record<string, unknown> = {
    rp0: { role: "rp", sources: [] },
    rp1: { role: "rp", peers: ["rp0"], sources: [{ protocol: "bgp", distance: 20, routes: file }] },
  };
  const lcs = ["lc0", "lc1", "lc2", "lc3"];
  for (const lc of lcs) {
    nodes[lc] = { role: "lc", servers: ["rp0", "rp1"] };
    for (let j = 0; j < NPUS_PER_CARD; j++) nodes[`${lc}.npu${j}`] = { role: "npu", servers: [lc] };
  }
  const topology = parseTopology({ nodes, links: { stream: "tcp" }, resync: mode === "copy" ? "copy" : "digest", backlogMiB: mode === "catch-up" ? 8 : 0 }, join(file, "..", "failover.yaml"));
  const chassis = await Chassis.start(topology);
  try {
    // Every card on rp0, its primary (a card that started on rp1 moves back after failbackMs).
    const end = performance.now() + 60000;
    let onRp0: string[] = [];
    while (onRp0.length < lcs.length) {
      if (performance.now() > end) throw new Error(`only ${onRp0.join(", ") || "no card"} took the table from rp0, the primary, within 60 s`);
      await waitConverged(chassis, 120000);
      onRp0 = [];
      for (const lc of lcs) if ((await chassis.status(lc))?.active === "rp0") onRp0.push(lc);
      if (onRp0.length < lcs.length) await new Promise((r) => setTimeout(r, 100));
    }
    await chassis.cut("rp1", "rp0", false);
    const reply = await chassis.request("rp1", "churn", { updates, rate: 1e6, seed: 7 }, 120000);
    if (reply.error) throw new Error(String(reply.error));
    // The churn keeps rp1 busy for a while, long enough that its standby cards may find it
    // silent; rp0 dies once they hear from it again, so the failover measured is one to a
    // server that answers, not one that waits out rp1's churn.
    await new Promise((r) => setTimeout(r, 1000));
    // A chassis fails over long after it was programmed, when every table's sketch is kept
    // up again (the nodes refresh them once settled); a failover on the heels of the cold
    // start walks the tables instead.
    await settled(chassis, [...lcs, ...lcs.flatMap((lc) => Array.from({ length: NPUS_PER_CARD }, (_, j) => `${lc}.npu${j}`)), "rp1"]);
    chassis.freeze("rp0");
    await waitConverged(chassis, 60000);
    const resyncs: Resync[] = [];
    let snapshotBytes = 0;
    for (const lc of onRp0) {
      const s = (await chassis.status(lc))!;
      const r = s.resyncs.at(-1);
      if (!r || r.from !== "rp0") throw new Error(`${lc} did not fail over from rp0`);
      if (r.mode !== mode) throw new Error(`${lc} resynced by ${r.mode}, not ${mode}`);
      resyncs.push(r);
      snapshotBytes = Math.max(snapshotBytes, r.bytesIn);
    }
    const m = (pick: (r: Resync) => number) => median(resyncs.map(pick));
    return {
      figures: {
        cards: resyncs.length, detectMs: m((r) => r.detectMs), resyncMs: m((r) => r.ms), bytesIn: m((r) => r.bytesIn),
        bytesInShare: round(m((r) => r.bytesIn) / (fullSnapshot || snapshotBytes), 4), bytesUp: m((r) => r.bytesUp), diffEntries: m((r) => r.diffEntries),
        bytesDownstream: m((r) => r.bytesOut), diffBytes: m((r) => r.diffBytes), downstreamRatio: round(m((r) => r.bytesOut / NPUS_PER_CARD / r.diffBytes)),
      },
      snapshotBytes,
    };
  } finally {
    await chassis.stop();
  }
}
