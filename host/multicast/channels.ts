// Which channel carries which data. A client asks for a subset (families, VRFs, prefix
// ranges); the server maps subsets to channels:
//   - clients asking for the same subset share its channel: one copy of each update
//     serves them all;
//   - a subset asked for first gets a channel of its own while the server has addresses
//     left (`maxChannels`);
//   - past that, a subset shares the smallest channel that holds all of it, and its
//     clients filter out the rest: the sender sends nothing more, the receivers decode a
//     little more. A subset no channel holds goes by unicast.
// Channel n is at the configured group, port base + n − 1: one socket per channel on the
// receiving side, so a receiver hears only the channels it joined.

import type { Family } from "../netip.ts";
import type { Subset } from "../wire/messages.ts";
import type { ChannelAddress } from "../links/multicast.ts";

export interface ChannelSpec extends ChannelAddress {
  id: number;
  subset: Subset;
}

export interface PlanOptions extends ChannelAddress {
  maxChannels: number;
}

export class ChannelPlan {
  private readonly channels: ChannelSpec[] = [];

  constructor(private readonly options: PlanOptions) {}

  /** The channel for a subset (made if addresses are left), or undefined: unicast. */
  channelFor(subset: Subset): ChannelSpec | undefined {
    const key = JSON.stringify(subset);
    const same = this.channels.find((c) => JSON.stringify(c.subset) === key);
    if (same) return same;
    if (this.channels.length < this.options.maxChannels) {
      const id = this.channels.length + 1;
      const c = { id, subset, group: this.options.group, port: this.options.port + id - 1 };
      this.channels.push(c);
      return c;
    }
    const holding = this.channels.filter((c) => subsetWithin(subset, c.subset));
    return holding.sort((a, b) => breadth(a.subset) - breadth(b.subset))[0];
  }

  get all(): readonly ChannelSpec[] {
    return this.channels;
  }
}

/** Whether every route subset `a` holds, `b` holds too. */
export function subsetWithin(a: Subset, b: Subset): boolean {
  return a.families.every((f) => {
    if (!b.families.includes(f)) return false;
    const theirs = b.prefixes.filter((p) => p.family === f);
    if (theirs.length === 0) return true;
    const ours = a.prefixes.filter((p) => p.family === f);
    // A range of b that holds a range of ours holds the routes covering ours too.
    return ours.length > 0 && ours.every((p) => theirs.some((q) => q.len <= p.len && q.overlaps(p)));
  });
}

/** A rough size of a subset, to choose the smallest that holds another: address bits per family. */
function breadth(s: Subset): number {
  let n = 0;
  for (const f of s.families as Family[]) {
    const ranges = s.prefixes.filter((p) => p.family === f);
    n += ranges.length === 0 ? 2 ** (f === 4 ? 32 : 64) : ranges.reduce((sum, p) => sum + 2 ** Math.max(0, (f === 4 ? 32 : 64) - p.len), 0);
  }
  return n;
}
