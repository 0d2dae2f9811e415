// A server's update stream for one subset: every change of the subset, encoded once,
// numbered, and kept in a bounded backlog (in the spirit of Redis's replication backlog).
//
// Clients asking for the same subset share a feed. Its sequence is the stream's position:
// a client that loses its session and comes back to the same server (the same stream,
// which is new every time the server starts) with the sequence it had applied catches up
// from the backlog, if the backlog still holds everything after that sequence; otherwise
// it resyncs by digest or copy. A feed, once a client has activated its server, takes
// every change of its subset whether or not any client is active, so that its sequence
// always means the same table.

import type { Fib } from "../fib.ts";
import type { Family } from "../netip.ts";
import type { Message, Subset } from "../wire/messages.ts";
import { numberedUpdates, recordChunks } from "../wire/snapshot.ts";
import { filterRecords } from "./subset.ts";

type Update = Extract<Message, { type: "update" }>;

/** Bytes of route data a feed keeps for clients that come back. */
export const DEFAULT_BACKLOG_BYTES = 8 << 20;

export class Feed {
  /** Sequence of the last update: the stream's position. */
  sequence = 0;
  private readonly backlog: Update[] = [];
  private first = 0;
  private bytes = 0;

  constructor(readonly subset: Subset, private readonly maxBytes = DEFAULT_BACKLOG_BYTES) {}

  /**
   * Takes a change of the table (sorted records, of any subset): the part of it in this
   * subset, as numbered update messages, kept in the backlog; returns them (none if the
   * change does not touch the subset).
   */
  append(fib: Fib, family: Family, records: Uint32Array): Update[] {
    const mine = filterRecords(this.subset, family, records);
    if (mine.length === 0) return [];
    const updates = [...numberedUpdates([...recordChunks(fib, family, mine)], family, 0, this.sequence + 1)] as Update[];
    this.sequence += updates.length;
    for (const u of updates) {
      this.backlog.push(u);
      this.bytes += u.data.length;
    }
    while (this.bytes > this.maxBytes && this.first < this.backlog.length) this.bytes -= this.backlog[this.first++].data.length;
    if (this.first > 1024 && this.first * 2 > this.backlog.length) this.backlog.splice(0, this.first), (this.first = 0);
    return updates;
  }

  /**
   * The updates after `sequence`, in order, if the backlog holds every one of them (none
   * when the client is at the stream's position); undefined if it does not, or if
   * `sequence` is ahead of the stream.
   */
  since(sequence: number): Update[] | undefined {
    if (sequence > this.sequence) return undefined;
    const oldest = this.first < this.backlog.length ? this.backlog[this.first].sequence : this.sequence + 1;
    if (sequence + 1 < oldest) return undefined;
    return this.backlog.slice(this.first + (sequence + 1 - oldest));
  }
}
