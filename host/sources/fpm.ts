// The FPM route source: a TCP server that FRRouting's zebra (started with
// `-M dplane_fpm_nl`, configured `fpm address 127.0.0.1 port N`) connects to and sends its
// RIB over. Routes of the main table (254) become changes of this source: a route's next
// hop is its gateway address ("if<N>" for an interface route, "blackhole" for one that
// drops), several next hops or a next-hop group become an ECMP group, and a next-hop
// object redefined by zebra moves every route that uses it.
//
// When zebra reconnects it sends its whole RIB again. That is turned into a difference:
// routes re-sent unchanged change nothing downstream, and routes not re-sent within
// RESEND_QUIET_MS of zebra's last message are withdrawn (mark and sweep; until then the
// old routes keep forwarding).

import { createServer, type Server, type Socket } from "node:net";
import { Prefix } from "../netip.ts";
import { FpmDecoder, type FpmEvent, type Hop } from "../fpm/decode.ts";

/** A change of the source: a route to `nexthop` (as written: "a,b" is ECMP), or withdrawn. */
export interface NamedChange {
  prefix: Prefix;
  nexthop?: string;
}

const MAIN_TABLE = 254;
/**
 * How long zebra may stay silent after reconnecting before what it has not sent again is
 * withdrawn. zebra marks no end of its re-send, and daemons such as staticd reconnect to it
 * and push their routes a little after it comes up: so a hold time, as graceful restart has.
 */
const RESEND_QUIET_MS = 3000;

export class FpmSource {
  readonly counters = { connections: 0, routes: 0, withdrawn: 0, otherTables: 0, swept: 0 };
  private server: Server | undefined;
  private decoder = new FpmDecoder();
  private readonly objects = new Map<number, { hop?: Hop; group?: number[] }>();
  private readonly routes = new Map<string, { prefix: Prefix; nexthop: string; nhId?: number }>();
  private stale: Set<string> | undefined;
  private sweepTimer: ReturnType<typeof setTimeout> | undefined;
  private pending: NamedChange[] = [];
  private flushing = false;

  constructor(private readonly deliver: (changes: NamedChange[]) => void, private readonly log: (event: string, fields: Record<string, unknown>) => void = () => {}) {}

  /** Listens for zebra; resolves with the port. */
  listen(port: number, host = "127.0.0.1"): Promise<number> {
    this.server = createServer((socket) => this.connected(socket));
    return new Promise((resolve, reject) => {
      this.server!.once("error", reject);
      this.server!.listen(port, host, () => resolve((this.server!.address() as { port: number }).port));
    });
  }

  close(): void {
    this.server?.close();
    clearTimeout(this.sweepTimer);
  }

  /** Decoder counters: frames, messages, and what was skipped and why. */
  get decoderCounters() {
    return this.decoder.counters;
  }

  private connected(socket: Socket): void {
    this.counters.connections++;
    this.decoder = new FpmDecoder();
    // Everything held is stale until zebra sends it again. Next-hop ids are the old zebra's:
    // the new one numbers its objects afresh, so held routes no longer follow them.
    this.stale = new Set(this.routes.keys());
    this.objects.clear();
    for (const r of this.routes.values()) delete r.nhId;
    this.log("zebra connected", { routesHeld: this.routes.size });
    socket.on("data", (chunk: Buffer) => {
      for (const e of this.decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length))) this.event(e);
      this.armSweep();
    });
    socket.on("error", () => {});
    socket.on("close", () => this.log("zebra disconnected; its routes are kept until it comes back", { routes: this.routes.size }));
    this.armSweep();
  }

  private armSweep(): void {
    if (!this.stale) return;
    clearTimeout(this.sweepTimer);
    this.sweepTimer = setTimeout(() => this.sweep(), RESEND_QUIET_MS);
  }

  /** Withdraws what zebra did not send again after reconnecting. */
  private sweep(): void {
    const stale = this.stale;
    this.stale = undefined;
    if (!stale) return;
    for (const key of stale) {
      const r = this.routes.get(key);
      if (!r) continue;
      this.routes.delete(key);
      this.counters.swept++;
      this.emit({ prefix: r.prefix });
    }
    if (stale.size > 0) this.log("swept routes zebra did not send again", { routes: stale.size });
  }

  private event(e: FpmEvent): void {
    switch (e.kind) {
      case "nexthop":
        this.objects.set(e.id, e.group ? { group: e.group } : { hop: e.hop! });
        // Routes through this object (or a group holding it) move with it.
        for (const r of this.routes.values()) {
          if (r.nhId === undefined) continue;
          const name = this.objectName(r.nhId);
          if (name && name !== r.nexthop) { r.nexthop = name; this.emit({ prefix: r.prefix, nexthop: name }); }
        }
        return;
      case "nexthopGone":
        this.objects.delete(e.id);
        return;
      case "route": case "withdraw": {
        if (e.table !== MAIN_TABLE) { this.counters.otherTables++; return; }
        const prefix = Prefix.from(e.addr, e.len) as Prefix;
        const key = prefix.toString();
        this.stale?.delete(key);
        if (e.kind === "withdraw") {
          if (this.routes.delete(key)) { this.counters.withdrawn++; this.emit({ prefix }); }
          return;
        }
        const name = e.nhId !== undefined ? this.objectName(e.nhId) : hopsName(e.hops);
        if (!name) return;
        this.counters.routes++;
        const held = this.routes.get(key);
        this.routes.set(key, { prefix, nexthop: name, ...(e.nhId === undefined ? {} : { nhId: e.nhId }) });
        // Replace semantics: the same route again is no change.
        if (held?.nexthop !== name) this.emit({ prefix, nexthop: name });
      }
    }
  }

  private objectName(id: number): string | undefined {
    const o = this.objects.get(id);
    if (!o) return undefined;
    if (o.hop) return hopName(o.hop);
    const members = (o.group ?? []).map((m) => this.objects.get(m)?.hop).filter((h): h is Hop => h !== undefined);
    return members.length ? hopsName(members) : undefined;
  }

  /** Changes go out in batches, one per turn of the event loop. */
  private emit(c: NamedChange): void {
    this.pending.push(c);
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => {
      const batch = this.pending;
      this.pending = [];
      this.flushing = false;
      this.deliver(batch);
    });
  }
}

function hopName(h: Hop): string {
  if (h.blackhole) return "blackhole";
  return h.gateway ? h.gateway.toString() : `if${h.ifindex ?? 0}`;
}

function hopsName(hops: readonly Hop[]): string | undefined {
  if (hops.length === 0) return undefined;
  return [...new Set(hops.map(hopName))].sort().join(",");
}
