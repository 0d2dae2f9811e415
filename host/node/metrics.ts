// Prometheus metrics of a node (prom-client), served over HTTP on /metrics when the
// topology asks (`metrics: { port }`). Every figure is read from the node's status at
// scrape time, so the metrics say exactly what `status` says: the table, the active server
// and the failovers, the sessions, the counters, the multicast channels and the firmware.
// Each node has a registry of its own (a test may run several nodes in one process), with
// the process's default metrics.
//
// The FIB digest is not a metric: as a label it would make a new series with every update,
// and 64 bits do not fit a sample's float. Compare digests through status.

import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";
import { promClient } from "../lazy.ts";
import type { NodeStatus } from "./node.ts";

export interface MetricsServer {
  /** The port it listens on (the one asked for, or the one it got for 0). */
  port: number;
  close(): Promise<void>;
}

type Labels = Record<string, string>;
/** A metric's values in one status: put(value, labels) for each series (values of equal labels add up). */
type Read = (s: NodeStatus, put: (value: number, labels?: Labels) => void) => void;

/** NodeStatus.counters that only grow, as Prometheus counters: key → name, help. */
const COUNTERS: Record<string, [string, string]> = {
  updatesIn: ["fibcast_updates_received_total", "Update batches applied from the active server"],
  routesIn: ["fibcast_routes_received_total", "Route changes applied from update batches"],
  refused: ["fibcast_routes_refused_total", "Route changes the FIB could not hold (memory full)"],
  bytesIn: ["fibcast_link_received_bytes_total", "Bytes received on the links"],
  bytesOut: ["fibcast_link_sent_bytes_total", "Bytes sent on the links"],
  badFrames: ["fibcast_bad_frames_total", "Frames dropped: bad CRC, bad COBS, too long"],
  badMessages: ["fibcast_bad_messages_total", "Whole frames that were not a message this node understands"],
  backpressured: ["fibcast_backpressured_sends_total", "Sends refused because a client read too slowly"],
  fpmConnections: ["fibcast_fpm_connections_total", "Connections from zebra (FPM)"],
  fpmRoutes: ["fibcast_fpm_routes_total", "Routes zebra sent over FPM"],
  fpmSwept: ["fibcast_fpm_swept_routes_total", "Routes zebra did not send again after reconnecting, removed"],
};

/** NodeStatus.counters that are levels, not counts: metrics of their own below. */
const LEVELS = new Set(["nexthops", "memoryBytes", "staleSince"]);

/** A multicast channel's sender counters (ChannelStatus.counters): key → name, help. */
const CHANNEL_SENT: Record<keyof NodeStatus["channels"]["serving"][number]["counters"], [string, string]> = {
  datagrams: ["fibcast_channel_sent_datagrams_total", "Sealed datagrams multicast on a channel"],
  bytes: ["fibcast_channel_sent_bytes_total", "Bytes of sealed datagrams multicast on a channel (each once, whatever the receivers)"],
  updates: ["fibcast_channel_sent_updates_total", "Update batches multicast on a channel"],
  updateBytes: ["fibcast_channel_sent_update_bytes_total", "Of the bytes multicast, the update batches'"],
  heartbeats: ["fibcast_channel_sent_heartbeats_total", "Heartbeats multicast on a channel"],
  repairs: ["fibcast_channel_repairs_sent_total", "Updates sent again by unicast to members that missed them"],
  repairBytes: ["fibcast_channel_repair_bytes_total", "Bytes of the repairs sent"],
  naks: ["fibcast_channel_naks_received_total", "Repair requests from members"],
  rekeys: ["fibcast_channel_rekeys_total", "Times a channel's key was changed"],
};

type Receiving = NodeStatus["channels"]["receiving"][number];

/** A received channel's counters (status.channels.receiving): key → name, help. */
const CHANNEL_RECEIVED: Partial<Record<keyof Receiving, [string, string]>> = {
  datagrams: ["fibcast_channel_received_datagrams_total", "Datagrams received on a channel"],
  updates: ["fibcast_channel_received_updates_total", "Update batches received on a channel"],
  heartbeats: ["fibcast_channel_received_heartbeats_total", "Heartbeats received on a channel"],
  naks: ["fibcast_channel_naks_sent_total", "Repair requests sent to the channel's server"],
  repairs: ["fibcast_channel_repairs_received_total", "Missed updates received again by unicast"],
  duplicates: ["fibcast_channel_duplicate_updates_total", "Updates that arrived twice (by channel and by repair), taken once"],
  reactivations: ["fibcast_channel_reactivations_total", "Times the card asked its server to resync it (more lost than a repair brings back)"],
};

const REJECTED = ["badTag", "oldEpoch", "unknownEpoch", "malformed"] as const;
const RESYNC_MODES = ["copy", "digest", "catch-up"] as const;

/**
 * A registry of `status`'s metrics. `read()` must be called before each scrape: it takes the
 * status every metric of that scrape reports (prom-client collects them all at once).
 */
function nodeRegistry(status: () => NodeStatus): { registry: Registry; read(): void } {
  const { Counter, Gauge, Registry, collectDefaultMetrics } = promClient();
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let s: NodeStatus = status();
  const gauge = (name: string, help: string, labelNames: string[], read: Read) =>
    new Gauge({ name, help, labelNames, registers: [registry], collect() { this.reset(); read(s, (v, labels = {}) => this.inc(labels, v)); } });
  const counter = (name: string, help: string, labelNames: string[], read: Read) =>
    new Counter({ name, help, labelNames, registers: [registry], collect() { this.reset(); read(s, (v, labels = {}) => this.inc(labels, v)); } });

  // The table.
  gauge("fibcast_routes", "Routes in the FIB", ["family"], (s, put) => { put(s.routes[4], { family: "4" }); put(s.routes[6], { family: "6" }); });
  gauge("fibcast_nexthops", "Next hops in the next-hop table", [], (s, put) => put(s.counters.nexthops ?? 0));
  gauge("fibcast_fib_memory_bytes", "Bytes of the firmware's memory the FIB holds", [], (s, put) => put(s.counters.memoryBytes ?? 0));
  gauge("fibcast_stale", "1 when no active server keeps the table", [], (s, put) => put(s.stale ? 1 : 0));
  gauge("fibcast_stale_since_timestamp_seconds", "When the last failover left the table stale (Unix time; 0: it is not)", [], (s, put) => put((s.counters.staleSince ?? 0) / 1000));

  // Servers, failovers and resyncs.
  gauge("fibcast_active_server", "1 for the server this card takes its table from", ["server"], (s, put) => { if (s.active) put(1, { server: s.active }); });
  counter("fibcast_failovers_total", "Times the active server was lost", [], (s, put) => put(s.failovers));
  counter("fibcast_resyncs_total", "Resyncs (first syncs, failovers, catch-ups), by how the server brought the table to its own", ["mode"], (s, put) => {
    for (const mode of RESYNC_MODES) put(s.resyncs.filter((r) => r.mode === mode).length, { mode });
  });
  const last = (s: NodeStatus, put: (v: number) => void, value: (r: NodeStatus["resyncs"][number]) => number) => { const r = s.resyncs.at(-1); if (r) put(value(r)); };
  gauge("fibcast_last_resync_seconds", "The last resync: from detection (or activation) to a table equal to the new server's", [], (s, put) => last(s, put, (r) => r.ms / 1000));
  gauge("fibcast_last_resync_detect_seconds", "The last resync: how long the lost server had been silent when declared dead (0: its link closed)", [], (s, put) => last(s, put, (r) => r.detectMs / 1000));
  gauge("fibcast_last_resync_received_bytes", "The last resync: bytes received from the new server", [], (s, put) => last(s, put, (r) => r.bytesIn));
  gauge("fibcast_last_resync_uploaded_bytes", "The last resync: bytes sent to the new server (a digest resync's descriptions of the table)", [], (s, put) => last(s, put, (r) => r.bytesUp));
  gauge("fibcast_last_resync_difference_routes", "The last resync: routes that differed", [], (s, put) => last(s, put, (r) => r.diffEntries));
  gauge("fibcast_last_resync_difference_bytes", "The last failover: the difference as update batches (what passing it on costs at least, per client)", [], (s, put) => last(s, put, (r) => r.diffBytes));
  gauge("fibcast_last_resync_forwarded_bytes", "The last resync: bytes sent to this node's own clients because of it", [], (s, put) => last(s, put, (r) => r.bytesOut));

  // Sessions with servers (or peers) and with clients.
  gauge("fibcast_session", "Sessions with a server, by state (1 each)", ["server", "state"], (s, put) => { for (const x of s.sessions) put(1, { server: x.server, state: x.state }); });
  gauge("fibcast_session_silent", "1 for a server silent past the limit", ["server"], (s, put) => { for (const x of s.sessions) put(x.suspect ? 1 : 0, { server: x.server }); });
  gauge("fibcast_client", "Sessions with a client, by state (1 each)", ["client", "state"], (s, put) => { for (const x of s.clients) put(1, { client: x.client, state: x.state }); });
  gauge("fibcast_client_silent", "1 for a client silent past the limit", ["client"], (s, put) => { for (const x of s.clients) put(x.suspect ? 1 : 0, { client: x.client }); });
  gauge("fibcast_client_sequence", "The last update sequence sent to a client", ["client"], (s, put) => { for (const x of s.clients) put(x.sequence, { client: x.client }); });

  // The node's counters.
  for (const [key, [name, help]] of Object.entries(COUNTERS)) counter(name, help, [], (s, put) => put(s.counters[key] ?? 0));
  gauge("fibcast_status_counter", "Node counters without a metric of their own yet, by their name in status", ["name"], (s, put) => {
    for (const [name, value] of Object.entries(s.counters)) if (!(name in COUNTERS) && !LEVELS.has(name)) put(value, { name });
  });

  // Multicast channels this node serves, and those it receives.
  for (const [key, [name, help]] of Object.entries(CHANNEL_SENT) as [keyof typeof CHANNEL_SENT, [string, string]][]) {
    counter(name, help, ["channel"], (s, put) => { for (const ch of s.channels.serving) put(ch.counters[key], { channel: String(ch.id) }); });
  }
  counter("fibcast_channel_rate_decreases_total", "Times repair requests lowered a channel's rate", ["channel"], (s, put) => { for (const ch of s.channels.serving) put(ch.rateDecreases, { channel: String(ch.id) }); });
  gauge("fibcast_channel_rate_bytes_per_second", "A channel's multicast rate now", ["channel"], (s, put) => { for (const ch of s.channels.serving) put(ch.rateBytes, { channel: String(ch.id) }); });
  gauge("fibcast_channel_members", "Clients granted a channel", ["channel"], (s, put) => { for (const ch of s.channels.serving) put(ch.members, { channel: String(ch.id) }); });
  gauge("fibcast_channel_receiving_members", "Members that take their updates by the channel now", ["channel"], (s, put) => { for (const ch of s.channels.serving) put(ch.receiving, { channel: String(ch.id) }); });
  gauge("fibcast_channel_key_epoch", "The epoch of a channel's key", ["channel"], (s, put) => { for (const ch of s.channels.serving) put(ch.epoch, { channel: String(ch.id) }); });
  for (const [key, [name, help]] of Object.entries(CHANNEL_RECEIVED) as [keyof Receiving, [string, string]][]) {
    counter(name, help, ["server", "channel"], (s, put) => { for (const r of s.channels.receiving) put(Number(r[key]), { server: r.server, channel: String(r.channel) }); });
  }
  counter("fibcast_channel_rejected_datagrams_total", "Datagrams a receiver rejected, by why", ["server", "channel", "reason"], (s, put) => {
    for (const r of s.channels.receiving) for (const reason of REJECTED) put(r[reason], { server: r.server, channel: String(r.channel), reason });
  });

  // Firmware (cards that boot flashed images).
  gauge("fibcast_firmware", "1 for the firmware slot this card runs", ["slot", "key_id", "sha256"], (s, put) => {
    const f = s.firmware;
    if (f?.running) put(1, { slot: f.running, key_id: f.keyId ?? "", sha256: f.sha256 ?? "" });
  });

  return { registry, read: () => { s = status(); } };
}

/**
 * Serves `status()` as Prometheus metrics on http://host:port/metrics (host default
 * 127.0.0.1; port 0: any free port). Any other request is 404. Rejects if it cannot listen.
 */
export async function serveMetrics(status: () => NodeStatus, options: { port: number; host?: string }): Promise<MetricsServer> {
  const { registry, read } = nodeRegistry(status);
  const server: Server = createServer((req, res) => {
    if (req.method !== "GET" || req.url?.split("?")[0] !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found: metrics are at /metrics\n");
      return;
    }
    read();
    registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
      (e: Error) => res.writeHead(500, { "content-type": "text/plain" }).end(`${e.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "127.0.0.1", resolve);
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : options.port,
    // close() also ends idle keep-alive connections (a scraper's): the port is free when it resolves.
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
