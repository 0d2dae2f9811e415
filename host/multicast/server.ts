// The server side of multicast distribution: the channels a node serves, who is on them,
// and their keys. A proven client is granted its subset's channel (channels.ts) with the
// channel key wrapped for it alone; once it activates this server with multicast on, the
// channel carries its updates (sender.ts) and its session carries only repairs. Evicting a
// client re-keys every channel it was on and hands the new key to the others: it cannot
// read what follows. Each channel's heartbeat datagram names its last sequence; each
// client's heartbeats name what it applied, so the slowest receiver is known.

import type { Channel, Message, Subset } from "../wire/messages.ts";
import type { MulticastTransport } from "../links/multicast.ts";
import { FRAME_OVERHEAD } from "../wire/frame.ts";
import { channelAad, wrapKey } from "../auth/keys.ts";
import { ChannelPlan, type ChannelSpec } from "./channels.ts";
import { ChannelSender, type SenderCounters } from "./sender.ts";
import { SEAL_OVERHEAD } from "./seal.ts";

type Update = Extract<Message, { type: "update" }>;

export interface MulticastOptions {
  transport: MulticastTransport;
  /** The group this node's channels use, and the port of its first channel. */
  group: string;
  port: number;
  /** Ceiling of each channel's rate, bytes a second. */
  rateBytes: number;
  /** Largest datagram (default 8 KiB). */
  datagramBytes?: number;
  /** Channels this node may open; past it subsets share a channel that holds them (default 16). */
  maxChannels?: number;
}

export const DEFAULT_DATAGRAM_BYTES = 8192;

/** What a channel member is to the channel server (a server session). */
export interface ChannelMember {
  readonly name: string;
  /** The channel it was granted. */
  readonly channel: Channel | undefined;
  readonly kek: Uint8Array | undefined;
  readonly viaMulticast: boolean;
  readonly state: string;
  /** The last update it said it applied. */
  readonly acked: number;
  rekeyed(channel: Channel): void;
}

export interface ChannelStatus {
  id: number;
  group: string;
  port: number;
  epoch: number;
  members: number;
  receiving: number;
  rateBytes: number;
  /** Times NAKs lowered the rate. */
  rateDecreases: number;
  /** The member furthest behind, and the last update it applied. */
  slowest: { client: string; acked: number } | null;
  counters: SenderCounters;
}

export class ChannelServer {
  private readonly plan: ChannelPlan;
  private readonly senders = new Map<number, ChannelSender>();
  private readonly members = new Map<number, Set<ChannelMember>>();
  private readonly beat: ReturnType<typeof setInterval>;

  /**
   * `sequenceOf`: the last sequence of the feed of a channel's subset (its heartbeat names
   * it). Heartbeats go every `heartbeatMs` on channels someone receives.
   */
  constructor(private readonly options: MulticastOptions, private readonly sequenceOf: (subset: Subset) => number, heartbeatMs: number) {
    this.plan = new ChannelPlan({ group: options.group, port: options.port, maxChannels: options.maxChannels ?? 16 });
    this.beat = setInterval(() => this.heartbeats(), heartbeatMs);
    this.beat.unref?.();
  }

  /** Route bytes an update may carry so that, sealed, it fits a datagram. */
  get chunkBytes(): number {
    return (this.options.datagramBytes ?? DEFAULT_DATAGRAM_BYTES) - SEAL_OVERHEAD - FRAME_OVERHEAD - 24;
  }

  /** The channel a proven client of this subset is granted, its key wrapped with `kek`; undefined: it goes by unicast. */
  grantFor(member: ChannelMember, subset: Subset, kek: Uint8Array): Channel | undefined {
    const spec = this.plan.channelFor(subset);
    if (!spec) return undefined;
    let sender = this.senders.get(spec.id);
    if (!sender) this.senders.set(spec.id, (sender = new ChannelSender(spec, this.options.transport, this.options.rateBytes)));
    if (!this.members.has(spec.id)) this.members.set(spec.id, new Set());
    this.members.get(spec.id)!.add(member);
    return this.entry(sender, kek, member.name);
  }

  /** A member activated with multicast on: its channel starts a heartbeat at once, so a loss at the start shows. */
  activated(member: ChannelMember): void {
    const sender = this.senderOf(member);
    sender?.heartbeat(this.sequenceOf(sender.spec.subset));
  }

  /** The last update a member's channel has put on the wire. */
  lastSent(member: ChannelMember): number {
    return this.senderOf(member)?.lastSent ?? 0;
  }

  leave(member: ChannelMember): void {
    for (const set of this.members.values()) set.delete(member);
  }

  /** The feed of `subset` numbered these updates: its channel multicasts them if anyone receives it. */
  publish(subset: Subset, updates: readonly Update[]): void {
    const key = JSON.stringify(subset);
    for (const [id, sender] of this.senders) {
      if (JSON.stringify(sender.spec.subset) !== key || !this.receiving(id)) continue;
      sender.publish(updates);
    }
  }

  /** A member's NAK was answered with these repairs. */
  nakked(member: ChannelMember, repairs: number, bytes: number): void {
    this.senderOf(member)?.nakked(repairs, bytes);
  }

  /**
   * A client is no longer trusted: every channel it was on gets a new key and epoch, and
   * every other member the new key. Returns the channels re-keyed.
   */
  evict(client: string): number[] {
    const rekeyed: number[] = [];
    for (const [id, set] of this.members) {
      const gone = [...set].filter((m) => m.name === client);
      if (gone.length === 0) continue;
      for (const m of gone) set.delete(m);
      const sender = this.senders.get(id)!;
      sender.rekey();
      rekeyed.push(id);
      for (const m of set) if (m.kek) m.rekeyed(this.entry(sender, m.kek, m.name));
    }
    return rekeyed;
  }

  status(): ChannelStatus[] {
    return [...this.senders.values()].map((s) => {
      const on = [...(this.members.get(s.spec.id) ?? [])];
      const receiving = on.filter((m) => m.viaMulticast && m.state === "active");
      const slowest = receiving.sort((a, b) => a.acked - b.acked)[0];
      return {
        id: s.spec.id, group: s.spec.group, port: s.spec.port, epoch: s.epoch, members: on.length, receiving: receiving.length,
        rateBytes: Math.round(s.rate.rate), rateDecreases: s.rate.decreases, slowest: slowest ? { client: slowest.name, acked: slowest.acked } : null, counters: { ...s.counters },
      };
    });
  }

  close(): void {
    clearInterval(this.beat);
    for (const s of this.senders.values()) s.close();
  }

  private senderOf(member: ChannelMember): ChannelSender | undefined {
    return member.channel && this.members.get(member.channel.id)?.has(member) ? this.senders.get(member.channel.id) : undefined;
  }

  private receiving(id: number): boolean {
    for (const m of this.members.get(id) ?? []) if (m.viaMulticast && m.state === "active") return true;
    return false;
  }

  private heartbeats(): void {
    for (const [id, sender] of this.senders) if (this.receiving(id)) sender.heartbeat(this.sequenceOf(sender.spec.subset));
  }

  private entry(sender: ChannelSender, kek: Uint8Array, node: string): Channel {
    const spec: ChannelSpec = sender.spec;
    const key = wrapKey(kek, sender.currentKey, channelAad(spec.id, sender.epoch, node));
    return { id: spec.id, subset: spec.subset, group: spec.group, port: spec.port, keyEpoch: sender.epoch, key };
  }
}
