// Two route processors, each fed by its own FRRouting running another protocol: rp0 hears
// zebra A's static routes, rp1 hears zebra B's BGP routes, which bgpd learned over eBGP
// from a third namespace announcing them. Every card holds the merged best paths: static
// (distance 1) over BGP (distance 20) where both have a prefix, and when the static route
// goes, the BGP one takes its place everywhere.
//
//   host ── veth ── [A: zebra + staticd]            FPM → rp0
//   host ── veth ── [B: zebra + bgpd AS 65001] ── veth ── [C: bgpd AS 65002, no zebra]
//                                                  FPM → rp1

import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Chassis } from "../host/run/chassis.ts";
import { waitConverged } from "../host/run/runner.ts";
import { parseTopology } from "../host/run/topology.ts";
import { FrrNamespace } from "./helpers/frr.ts";

const dir = mkdtempSync(join(tmpdir(), "fibcast-frr-merge-"));
const tag = process.pid % 100000;
const portA = 20000 + ((process.pid + 7) % 20000);
const portB = 20000 + ((process.pid + 13) % 20000);
const a = new FrrNamespace(`fibcast-a-${process.pid}`);
const b = new FrrNamespace(`fibcast-b-${process.pid}`);
const c = new FrrNamespace(`fibcast-c-${process.pid}`);
let chassis: Chassis | undefined;

async function tableOf(node: string): Promise<string[]> {
  const path = join(dir, `${node}.routes`);
  await chassis!.request(node, "dump", { path });
  // The zebras' connected routes come too; the routes under test are in 10/8 and 2001:db8:5000::/40.
  return readFileSync(path, "utf8").split("\n").filter((l) => l.startsWith("10.") || l.startsWith("2001:db8:5")).sort();
}

test.before(() => {
  a.veth("fpma", "169.254.78.2/30", `fpma${tag}`, "169.254.78.1/30", undefined, "192.0.2.254/24", "2001:db8:ff::fe/64");
  b.veth("fpmb", "169.254.79.2/30", `fpmb${tag}`, "169.254.79.1/30");
  b.veth("bgpb", "198.51.100.1/30", "bgpc", "198.51.100.2/30", c);
});

test.after(async () => {
  await chassis?.stop();
  for (const ns of [c, b, a]) ns.destroy();
});

test("two route processors fed by two FRR instances (static and eBGP): every card holds the merged best paths", async () => {
  const topology = parseTopology({
    nodes: {
      rp0: { role: "rp", sources: [{ protocol: "static", distance: 1, fpm: { port: portA, host: "169.254.78.1" } }] },
      rp1: { role: "rp", peers: ["rp0"], sources: [{ protocol: "bgp", distance: 20, fpm: { port: portB, host: "169.254.79.1" } }] },
      lc0: { role: "lc", servers: ["rp0", "rp1"] },
      lc1: { role: "lc", servers: ["rp1", "rp0"] },
      "lc0.npu0": { role: "npu", servers: ["lc0"] },
      "lc1.npu0": { role: "npu", servers: ["lc1"] },
    },
    timers: { heartbeatMs: 50, deadAfter: 5 },
  }, join(dir, "topology.yaml"));
  chassis = await Chassis.start(topology);

  a.start("zebra", [`fpm address 169.254.78.1 port ${portA}`], ["-M", "dplane_fpm_nl"]);
  a.start("staticd", ["ip route 10.50.0.0/16 192.0.2.1", "ip route 10.60.0.0/16 192.0.2.1", "ipv6 route 2001:db8:5000::/48 2001:db8:ff::1"]);
  b.start("zebra", [`fpm address 169.254.79.1 port ${portB}`], ["-M", "dplane_fpm_nl"]);
  // C has no zebra to learn its addresses from: both router ids are set.
  const bgp = (as: number, id: string, peerAddr: string, peerAs: number, extra: string[]) => [
    `router bgp ${as}`, ` bgp router-id ${id}`, " no bgp ebgp-requires-policy", " no bgp network import-check",
    ` neighbor ${peerAddr} remote-as ${peerAs}`, ` neighbor ${peerAddr} timers connect 1`, ` neighbor ${peerAddr} advertisement-interval 0`,
    ...extra,
  ];
  b.start("bgpd", bgp(65001, "198.51.100.1", "198.51.100.2", 65002, []));
  c.start("bgpd", bgp(65002, "198.51.100.2", "198.51.100.1", 65001, [" network 10.60.0.0/16", " network 10.70.0.0/16", " network 10.70.1.0/24"]), ["-Z"]);

  const merged = [
    "10.50.0.0/16 192.0.2.1",
    "10.60.0.0/16 192.0.2.1",        // static (1) over BGP (20)
    "10.70.0.0/16 198.51.100.2",
    "10.70.1.0/24 198.51.100.2",
    "2001:db8:5000::/48 2001:db8:ff::1",
  ];
  const cards = ["lc0", "lc1", "lc0.npu0", "lc1.npu0"];
  const allHold = async (want: string[]) => {
    const deadline = Date.now() + 30000;
    for (;;) {
      const tables = await Promise.all(cards.map((n) => tableOf(n)));
      if (tables.every((t) => JSON.stringify(t) === JSON.stringify(want))) return;
      if (Date.now() > deadline) assert.equal(Object.fromEntries(cards.map((n, i) => [n, tables[i]])), Object.fromEntries(cards.map((n) => [n, want])));
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  await allHold(merged);
  await waitConverged(chassis, 20000);
  // Both route processors hold both protocols' tables.
  const rib0 = (await chassis.status("rp0"))!.rib!, rib1 = (await chassis.status("rp1"))!.rib!;
  assert.equal(rib0, rib1);
  assert.is(Object.keys(rib0.sources).length, 2);

  // The static route goes: BGP's path for the same prefix takes its place on every card.
  a.vtysh("no ip route 10.60.0.0/16 192.0.2.1");
  await allHold(merged.map((l) => (l.startsWith("10.60.") ? "10.60.0.0/16 198.51.100.2" : l)));
  // BGP withdraws a prefix (C stops announcing it): gone everywhere.
  c.vtysh("router bgp 65002", "no network 10.70.1.0/24");
  await allHold(merged.filter((l) => !l.startsWith("10.70.1.")).map((l) => (l.startsWith("10.60.") ? "10.60.0.0/16 198.51.100.2" : l)));
  await waitConverged(chassis, 20000);
});

test.run();
