// The longest-prefix-match libraries fibcast's lookups are compared with, in the same run:
// - npm `longest-prefix-match` (pure JavaScript, a radix trie keyed by prefix strings);
// - `arkime-iptrie` (a C trie behind a native addon). `npm run bench` builds the addon
//   offline first (build/peers.mjs); where it does not build or load, the peer is reported
//   unavailable with the reason, and the run goes on without it.
// Both are driven through one shape: add every route, then answer one address at a time
// (neither has a batch API). Answers are next-hop ids, NO_ROUTE where nothing matches.

import { createRequire } from "node:module";
import { NO_ROUTE } from "../host/fib.ts";
import type { Family } from "../host/netip.ts";
import type { NextHopTable } from "../host/nexthops.ts";
import type { Route } from "../host/routefile.ts";
import { batchAddress } from "../host/traffic.ts";
import { measureRate, round, timeMs } from "./stats.ts";

/** A peer with a table loaded: answers one address, written as text, at a time. */
interface LoadedPeer {
  /** Prepares the queries once (each library wants its own text form). */
  queries(addrs: readonly string[], family: Family): unknown[];
  find(query: unknown): number;
}

interface PeerLibrary {
  name: string;
  /** A fresh empty table, or why the library cannot be used here. */
  open(): { add(route: Route, nh: number): void; done(): LoadedPeer } | string;
}

const require = createRequire(import.meta.url);

interface LongestPrefixMatch {
  addPrefix(prefix: string, data: unknown): void;
  getMatch(prefix: string): { nh: number }[];
}

interface IPTrie {
  add(address: string, length: number, value: unknown): void;
  find(address: string): { nh: number } | undefined | null;
}

const LIBRARIES: PeerLibrary[] = [
  {
    name: "longest-prefix-match",
    open() {
      const Trie = require("longest-prefix-match") as new () => LongestPrefixMatch;
      const t = new Trie();
      return {
        add: (r, nh) => t.addPrefix(r.prefix.toString(), { nh }),
        done: () => ({
          queries: (addrs, family) => addrs.map((a) => `${a}/${family === 4 ? 32 : 128}`),
          find: (q) => t.getMatch(q as string)[0]?.nh ?? NO_ROUTE,
        }),
      };
    },
  },
  {
    name: "arkime-iptrie",
    open() {
      let IPTrie: new () => IPTrie;
      try {
        IPTrie = (require("arkime-iptrie") as { IPTrie: new () => IPTrie }).IPTrie;
      } catch (e) {
        return `its native addon does not load: ${(e as Error).message.split("\n")[0]}`;
      }
      const t = new IPTrie();
      return {
        add: (r, nh) => t.add(r.prefix.addr.toString(), r.prefix.len, { nh }),
        done: () => ({ queries: (addrs) => [...addrs], find: (q) => t.find(q as string)?.nh ?? NO_ROUTE }),
      };
    },
  },
];

export interface PeerResult {
  name: string;
  /** Why the peer did not run on this machine; the figures below are then absent. */
  unavailable?: string;
  buildMs?: number;
  lookupsPerSec?: number;
  /** Sampled lookups the peer answered differently from the golden table. */
  wrongAnswers?: number;
}

/**
 * Every peer library on the same routes and addresses: build time, lookups a second
 * (median of 3 passes over `addrs`), and answers that differ from `golden`.
 */
export function benchPeers(routes: readonly Route[], nexthops: NextHopTable, family: Family, addrs: Uint32Array, golden: Uint32Array): PeerResult[] {
  const count = family === 4 ? addrs.length : addrs.length / 4;
  const text: string[] = [];
  for (let i = 0; i < count; i++) text.push(batchAddress(addrs, family, i).toString());
  return LIBRARIES.map((lib) => {
    const table = lib.open();
    if (typeof table === "string") return { name: lib.name, unavailable: table };
    const buildMs = timeMs(() => {
      for (const r of routes) table.add(r, nexthops.intern(r.nexthop));
    });
    const peer = table.done();
    const queries = peer.queries(text, family);
    const answers = new Uint32Array(count);
    const rate = measureRate(count, 3, () => {
      for (let i = 0; i < count; i++) answers[i] = peer.find(queries[i]);
    });
    let wrongAnswers = 0;
    for (let i = 0; i < count; i++) if (answers[i] !== golden[i]) wrongAnswers++;
    return { name: lib.name, buildMs: round(buildMs), lookupsPerSec: Math.round(rate.median), wrongAnswers };
  });
}

/** The fastest peer that ran, if any. */
export function bestPeer(peers: readonly PeerResult[]): PeerResult | undefined {
  return peers.filter((p) => p.lookupsPerSec !== undefined).sort((a, b) => b.lookupsPerSec! - a.lookupsPerSec!)[0];
}
