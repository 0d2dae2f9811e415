// A server's update stream for one subset: every change of the subset, encoded once,
// numbered, and kept in a bounded backlog (in the spirit of Redis's replication backlog).
//
// Clients asking for the same subset share a feed. A feed is made when the first client
// registers for the subset and takes every change of it from then on, whether or not any
// client is active, so that its sequence always means the same table. A client catches up
// from the backlog, receiving only the updates after a point it holds, when the backlog
// still holds them all and the client can name the point:
//   - by position: it comes back to the same stream (the same server process: the stream
//     is new every time the server starts) with the sequence it had applied;
//   - by digest: its table's digests are the subset's digests at some point the backlog
//     starts from. A card that followed another route processor holds such a point when
//     the two agreed before they drifted apart (a failover after a split): like a Redis
//     replica that can continue from a promoted peer's history. The feed keeps the
//     digests after every change it took, for whole-family subsets.
// Otherwise the client resyncs by range digests or by copy.

import type { Fib } from "../fib.ts";
import type { Family } from "../netip.ts";
import type { Message, Subset } from "../wire/messages.ts";
import { numberedUpdates, recordChunks } from "../wire/snapshot.ts";
import { filterRecords, wholeFamily } from "./subset.ts";

type Update = Extract<Message, { type: "update" }>;

/** Bytes of route data a feed keeps for clients that come back. */
export const DEFAULT_BACKLOG_BYTES = 8 << 20;

/** The subset's digests after the update numbered `sequence` (0: when the feed began). */
interface Checkpoint {
  sequence: number;
  digest4: bigint;
  digest6: bigint;
}

export class Feed {
  /** Sequence of the last update: the stream's position. */
  sequence = 0;
  private readonly backlog: Update[] = [];
  private first = 0;
  private bytes = 0;
  /** Points a client may catch up from by digest, oldest first; none for a subset within a family. */
  private readonly checkpoints: Checkpoint[] = [];
  private readonly matchable: boolean;

  /**
   * `chunkBytes`: most route bytes in one update — what fits a multicast datagram when the
   * feed is also a channel (its sequences are the channel's), a frame otherwise.
   */
  constructor(readonly subset: Subset, fib: Fib, private readonly maxBytes = DEFAULT_BACKLOG_BYTES, private readonly chunkBytes?: number) {
    this.matchable = subset.families.every((f) => wholeFamily(subset, f));
    this.checkpoint(fib);
  }

  /**
   * Notes the subset's digests now, after a change the feed took in full (every family of
   * it appended): a client holding exactly these can continue from here.
   */
  checkpoint(fib: Fib): void {
    if (!this.matchable) return;
    const digest = (f: Family) => (this.subset.families.includes(f) ? fib.digest(f) : 0n);
    const last = this.checkpoints.at(-1);
    if (last?.sequence === this.sequence) this.checkpoints.pop();
    this.checkpoints.push({ sequence: this.sequence, digest4: digest(4), digest6: digest(6) });
    // Points the backlog no longer reaches back to are no use.
    const oldest = this.oldestHeld() - 1;
    let drop = 0;
    while (drop < this.checkpoints.length - 1 && this.checkpoints[drop].sequence < oldest) drop++;
    if (drop > 0) this.checkpoints.splice(0, drop);
  }

  /**
   * The latest point whose digests are these and whose updates the backlog still holds:
   * where a client holding that table continues from; undefined if there is none.
   */
  matching(digest4: bigint, digest6: bigint): number | undefined {
    const oldest = this.oldestHeld();
    for (let i = this.checkpoints.length - 1; i >= 0 && this.checkpoints[i].sequence + 1 >= oldest; i--) {
      const c = this.checkpoints[i];
      if (c.digest4 === digest4 && c.digest6 === digest6) return c.sequence;
    }
    return undefined;
  }

  private oldestHeld(): number {
    return this.first < this.backlog.length ? this.backlog[this.first].sequence : this.sequence + 1;
  }

  /**
   * Takes a change of the table (sorted records, of any subset): the part of it in this
   * subset, as numbered update messages, kept in the backlog; returns them (none if the
   * change does not touch the subset).
   */
  append(fib: Fib, family: Family, records: Uint32Array): Update[] {
    const mine = filterRecords(this.subset, family, records);
    if (mine.length === 0) return [];
    const updates = [...numberedUpdates([...recordChunks(fib, family, mine, this.chunkBytes)], family, 0, this.sequence + 1)] as Update[];
    this.sequence += updates.length;
    for (const u of updates) {
      this.backlog.push(u);
      this.bytes += u.data.length;
    }
    while (this.bytes > this.maxBytes && this.first < this.backlog.length) this.bytes -= this.backlog[this.first++].data.length;
    if (this.first > 1024 && this.first * 2 > this.backlog.length) this.backlog.splice(0, this.first), (this.first = 0);
    return updates;
  }

  /** Updates `from` to `from + count − 1` that the backlog still holds, in order: a repair. */
  range(from: number, count: number): { held: Update[]; beyond: boolean } {
    const oldest = this.oldestHeld();
    const start = Math.max(from, oldest);
    const end = Math.min(from + count, this.sequence + 1);
    const held = end > start ? this.backlog.slice(this.first + (start - oldest), this.first + (end - oldest)) : [];
    return { held, beyond: from < oldest };
  }

  /**
   * The updates after `sequence`, in order, if the backlog holds every one of them (none
   * when the client is at the stream's position); undefined if it does not, or if
   * `sequence` is ahead of the stream.
   */
  since(sequence: number): Update[] | undefined {
    if (sequence > this.sequence) return undefined;
    const oldest = this.oldestHeld();
    if (sequence + 1 < oldest) return undefined;
    return this.backlog.slice(this.first + (sequence + 1 - oldest));
  }
}
