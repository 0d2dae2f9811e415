// The client's multicast side of one channel: joins the channel's address, opens each
// datagram with the channel key (seal.ts), and hands on the updates and heartbeats inside.
// Whatever does not open — another key, an old epoch, a forged or corrupted datagram — is
// counted by reason and dropped; the session's sequencer decides what to do with the rest.

import { parseFrame, FrameError } from "../wire/frame.ts";
import { decodeMessage, WireError, type Message } from "../wire/messages.ts";
import type { Membership, MulticastTransport } from "../links/multicast.ts";
import { Opener, SealError } from "./seal.ts";
import type { ChannelSpec } from "./channels.ts";

type Update = Extract<Message, { type: "update" }>;
type Heartbeat = Extract<Message, { type: "heartbeat" }>;

export interface ReceiverCounters {
  datagrams: number;
  updates: number;
  heartbeats: number;
  /** Datagrams that did not open: a bad tag (forged, corrupt, another key). */
  badTag: number;
  /** Sealed under an epoch before the current one (a replay, or one in flight at a re-key). */
  oldEpoch: number;
  /** Sealed under an epoch this receiver has no key for yet. */
  unknownEpoch: number;
  /** Opened, yet not an update or heartbeat of this channel. */
  malformed: number;
}

export class ChannelReceiver {
  readonly counters: ReceiverCounters = { datagrams: 0, updates: 0, heartbeats: 0, badTag: 0, oldEpoch: 0, unknownEpoch: 0, malformed: 0 };
  private readonly opener: Opener;
  private membership: Membership | undefined;

  constructor(
    readonly spec: ChannelSpec,
    private readonly deliver: (m: Update | Heartbeat) => void,
    private readonly rejected: (reason: string) => void,
  ) {
    this.opener = new Opener(spec.id);
  }

  rekey(epoch: number, key: Uint8Array): void {
    this.opener.rekey(epoch, key);
  }

  async join(transport: MulticastTransport): Promise<void> {
    this.membership = await transport.join(this.spec, (d) => this.datagram(d));
  }

  close(): void {
    this.membership?.close();
    this.membership = undefined;
  }

  private datagram(d: Uint8Array): void {
    this.counters.datagrams++;
    const plain = this.opener.open(d);
    if (plain instanceof SealError) {
      if (plain.kind === "old-epoch") this.counters.oldEpoch++;
      else if (plain.kind === "unknown-epoch") this.counters.unknownEpoch++;
      else this.counters.badTag++;
      // A channel's datagrams that fail to open are worth a log line only when forged or
      // corrupt; an epoch behind or ahead is the re-key in flight.
      if (plain.kind !== "old-epoch" && plain.kind !== "unknown-epoch") this.rejected(`channel ${this.spec.id}: datagram rejected: ${plain.message}`);
      return;
    }
    const frame = parseFrame(plain);
    const m = frame instanceof FrameError ? frame : decodeMessage(frame);
    if (m instanceof FrameError || m instanceof WireError || (m.type !== "update" && m.type !== "heartbeat")) {
      this.counters.malformed++;
      return this.rejected(`channel ${this.spec.id}: a sealed datagram holds no update: ${m instanceof Error ? m.message : m.type}`);
    }
    if (m.type === "update") this.counters.updates++;
    else this.counters.heartbeats++;
    this.deliver(m);
  }
}
