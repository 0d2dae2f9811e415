// Topology files: the defaults a user gets, and a clear error naming the field for every
// mistake, before any process starts.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseTopology, TopologyError } from "../host/run/topology.ts";

const nodes = {
  rp0: { role: "rp" },
  rp1: { role: "rp", peers: ["rp0"] },
  lc0: { role: "lc", servers: ["rp0", "rp1"] },
  "lc0.npu0": { role: "npu", servers: ["lc0"] },
};

test("defaults: TCP links, 50 ms × 3 heartbeats, failback after 1 s, digest resync, an 8 MiB backlog", () => {
  const t = parseTopology({ nodes }, "t.yaml");
  assert.is(t.links.stream, "tcp");
  assert.equal(t.timers, { heartbeatMs: 50, deadAfter: 3 });
  assert.is(t.failbackMs, 1000);
  assert.is(t.resync, "digest");
  assert.is(t.backlogBytes, 8 << 20);
  assert.equal(t.nodes.map((n) => [n.id, n.role, n.index]), [["rp0", "rp", 0], ["rp1", "rp", 1], ["lc0", "lc", 0], ["lc0.npu0", "npu", 0]]);
});

test("serial links; failback never; copy resync without a backlog", () => {
  const t = parseTopology({ nodes, links: { stream: "serial" }, timers: { heartbeatMs: 20, failbackMs: "never" }, resync: "copy", backlogMiB: 0 }, "t.yaml");
  assert.is(t.resync, "copy");
  assert.is(t.backlogBytes, 0);
  assert.is(t.links.stream, "serial");
  assert.is(t.timers.heartbeatMs, 20);
  assert.is(t.failbackMs, -1);
});

test("every mistake is refused with the file and the field", () => {
  const bad: [unknown, RegExp][] = [
    [{ nodes, links: { stream: "carrier-pigeon" } }, /t\.yaml: links\.stream: must be tcp, unix, serial or sim/],
    [{ nodes, timers: { failbackMs: "soon" } }, /t\.yaml: timers\.failbackMs \(or never\): must be a number/],
    [{ nodes, timers: { heartbeatMs: 0 } }, /timers\.heartbeatMs: must be a number from 1/],
    [{ nodes, resync: "rsync" }, /t\.yaml: resync: must be digest or copy, not "rsync"/],
    [{ nodes, backlogMiB: -1 }, /t\.yaml: backlogMiB: must be a number from 0/],
    [{ nodes: { ...nodes, lc1: { role: "lc", servers: ["rp9"] } } }, /nodes\.lc1\.servers: no node rp9/],
    [{ nodes: { ...nodes, x: { role: "npu", servers: ["rp0"] } } }, /nodes\.x\.servers: rp0 is a rp; a npu registers with a lc/],
    [{ nodes: { ...nodes, rp2: { role: "rp" } } }, /route processors rp0 and rp2 are not peers/],
    [{ nodes: { ...nodes, lc1: { role: "lc" } } }, /nodes\.lc1\.servers: a lc needs at least one server/],
    [{ nodes: { ...nodes, lc1: { role: "switch", servers: ["rp0"] } } }, /nodes\.lc1\.role: must be one of rp, lc, npu/],
  ];
  for (const [doc, why] of bad) {
    try {
      parseTopology(doc, "t.yaml");
      assert.unreachable(`accepted ${JSON.stringify(doc)}`);
    } catch (e) {
      assert.instance(e, TopologyError);
      assert.match((e as Error).message, why);
    }
  }
});

test.run();
