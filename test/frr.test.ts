// FRRouting over FPM: zebra (with dplane_fpm_nl) and staticd in a network namespace push
// their RIB to a route processor's FPM port; every line card and forwarding engine holds
// exactly those routes (and the peer route processor's), through adds, removes, an ECMP
// route, and zebra losing its FPM connection (its full re-send on reconnecting changes
// nothing downstream; what it does not send again is withdrawn).

import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Chassis } from "../host/run/chassis.ts";
import { waitConverged } from "../host/run/runner.ts";
import { parseTopology } from "../host/run/topology.ts";
import { FrrNamespace } from "./helpers/frr.ts";

const dir = mkdtempSync(join(tmpdir(), "fibcast-frr-"));
const HOST = "169.254.77.1";
const port = 20000 + (process.pid % 20000);
const frr = new FrrNamespace(`fibcast-frr-${process.pid}`);

const STATIC = [
  "ip route 10.10.0.0/16 192.0.2.1",
  "ip route 10.20.0.0/16 192.0.2.2",
  "ip route 10.30.0.0/24 192.0.2.1",
  "ip route 10.30.0.0/24 192.0.2.3",
  "ipv6 route 2001:db8:10::/48 2001:db8:ff::1",
];

function startFrr(statics: string[]): void {
  frr.start("zebra", [`fpm address ${HOST} port ${port}`], ["-M", "dplane_fpm_nl"]);
  frr.start("staticd", statics);
}

async function tableOf(chassis: Chassis, node: string): Promise<string[]> {
  const path = join(dir, `${node}.routes`);
  await chassis.request(node, "dump", { path });
  return readFileSync(path, "utf8").trim().split("\n").filter(Boolean).sort();
}

let chassis: Chassis | undefined;

test.before(() => {
  frr.veth("fpmn", "169.254.77.2/30", `fpmh${process.pid % 100000}`, `${HOST}/30`, undefined, "192.0.2.254/24", "2001:db8:ff::fe/64");
  writeFileSync(join(dir, "igp.txt"), "172.16.0.0/12 10.255.0.9\n");
});

test.after(async () => {
  await chassis?.stop();
  frr.destroy();
});

test("zebra's routes reach every card over FPM, through changes and a lost FPM connection", async () => {
  const topology = parseTopology({
    nodes: {
      rp0: { role: "rp", sources: [{ protocol: "static", distance: 1, fpm: { port, host: HOST } }] },
      rp1: { role: "rp", peers: ["rp0"], sources: [{ protocol: "ospf", distance: 110, routes: join(dir, "igp.txt") }] },
      lc0: { role: "lc", servers: ["rp0", "rp1"] },
      "lc0.npu0": { role: "npu", servers: ["lc0"] },
    },
    timers: { heartbeatMs: 50, deadAfter: 5 },
  }, join(dir, "topology.yaml"));
  chassis = await Chassis.start(topology);
  startFrr(STATIC);
  const expected = [
    "10.10.0.0/16 192.0.2.1", "10.20.0.0/16 192.0.2.2", "10.30.0.0/24 192.0.2.1,192.0.2.3",
    "172.16.0.0/12 10.255.0.9", "2001:db8:10::/48 2001:db8:ff::1",
  ];
  const holds = async (want: string[]) => {
    const deadline = Date.now() + 20000;
    let got: string[] = [];
    while (Date.now() < deadline) {
      got = await tableOf(chassis!, "lc0.npu0");
      // zebra also sends its connected routes; the static ones and the peer's are what we check.
      const ours = got.filter((l) => !/ if\d+$/.test(l) && !l.startsWith("192.0.2.") && !l.startsWith("2001:db8:ff::") && !l.startsWith("169.254."));
      if (JSON.stringify(ours) === JSON.stringify(want)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(got, want);
  };
  await holds(expected);
  await waitConverged(chassis, 20000);

  frr.vtysh("ip route 10.40.0.0/16 192.0.2.4", "no ip route 10.20.0.0/16 192.0.2.2");
  const after = [...expected.filter((l) => !l.startsWith("10.20.")), "10.40.0.0/16 192.0.2.4"].sort();
  await holds(after);
  await waitConverged(chassis, 20000);
  assert.equal((await tableOf(chassis, "lc0")).filter((l) => after.includes(l)), after);

  // zebra loses its FPM connection, drops a route meanwhile, and sends everything again when
  // it is back: only that one route changes downstream.
  const before = (await chassis.status("lc0"))!.counters.routesIn;
  frr.vtysh("no fpm address");
  await new Promise((r) => setTimeout(r, 300));
  frr.vtysh("no ip route 10.10.0.0/16 192.0.2.1");
  await new Promise((r) => setTimeout(r, 300));
  frr.vtysh(`fpm address ${HOST} port ${port}`);
  const deadline = Date.now() + 20000;
  while ((await chassis.status("rp0"))!.counters.fpmConnections < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  // The route not sent again is withdrawn once zebra has been quiet for the hold time.
  await holds(after.filter((l) => !l.startsWith("10.10.")));
  await waitConverged(chassis, 20000);
  const status = (await chassis.status("lc0"))!;
  assert.is(status.counters.routesIn, before + 1, `the re-send reached no card; the one withdrawal did (resyncs: ${JSON.stringify(status.resyncs.map((r) => [r.from, r.to, r.mode, r.diffEntries]))})`);
  assert.is((await chassis.status("rp0"))!.counters.fpmSwept, 1);
});

test.run();
