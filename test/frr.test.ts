// FRRouting over FPM: zebra (with dplane_fpm_nl) and staticd in a network namespace push
// their RIB to a route processor's FPM port; every line card and forwarding engine holds
// exactly those routes (and the peer route processor's), through adds, removes, an ECMP
// route, and zebra restarting (its full re-send changes nothing downstream; what it does
// not send again is withdrawn).

import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Chassis } from "../host/run/chassis.ts";
import { waitConverged } from "../host/run/runner.ts";
import { parseTopology } from "../host/run/topology.ts";

const ns = `fibcast-frr-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), "fibcast-frr-"));
chmodSync(dir, 0o777);
const HOST = "169.254.77.1";
const port = 20000 + (process.pid % 20000);
const sh = (cmd: string[]) => execFileSync(cmd[0], cmd.slice(1), { encoding: "utf8" });
const inNs = (cmd: string[]) => sh(["ip", "netns", "exec", ns, ...cmd]);
/** Starts an FRR daemon in the namespace; its start-up warnings (no MPLS here) are not ours to show. */
const daemon = (cmd: string[]) => execFileSync("ip", ["netns", "exec", ns, ...cmd], { stdio: ["ignore", "ignore", "ignore"] });
const vtysh = (...commands: string[]) => inNs(["vtysh", "--vty_socket", dir, "-c", "configure terminal", ...commands.flatMap((c) => ["-c", c])]);

function startFrr(): void {
  const common = ["-d", "-z", join(dir, "zserv.api"), "--vty_socket", dir, "-u", "root", "-g", "root"];
  daemon(["/usr/lib/frr/zebra", ...common, "-M", "dplane_fpm_nl", "-f", join(dir, "zebra.conf"), "-i", join(dir, "zebra.pid")]);
  daemon(["/usr/lib/frr/staticd", ...common, "-f", join(dir, "staticd.conf"), "-i", join(dir, "staticd.pid")]);
}

function stopFrr(): void {
  for (const d of ["staticd", "zebra"]) spawnSync("sh", ["-c", `kill $(cat ${join(dir, `${d}.pid`)}) 2>/dev/null`]);
}

async function tableOf(chassis: Chassis, node: string): Promise<string[]> {
  const path = join(dir, `${node}.routes`);
  await chassis.request(node, "dump", { path });
  return readFileSync(path, "utf8").trim().split("\n").filter(Boolean).sort();
}

let chassis: Chassis | undefined;

test.before(() => {
  // The daemons' vty sockets are group frrvty's; root must be in it (idempotent).
  spawnSync("usermod", ["-a", "-G", "frrvty", "root"]);
  sh(["ip", "netns", "add", ns]);
  sh(["ip", "link", "add", "fpmh", "type", "veth", "peer", "name", "fpmn"]);
  sh(["ip", "link", "set", "fpmn", "netns", ns]);
  sh(["ip", "addr", "add", `${HOST}/30`, "dev", "fpmh"]);
  sh(["ip", "link", "set", "fpmh", "up"]);
  inNs(["ip", "link", "set", "lo", "up"]);
  inNs(["ip", "addr", "add", "169.254.77.2/30", "dev", "fpmn"]);
  inNs(["ip", "addr", "add", "192.0.2.254/24", "dev", "fpmn"]);
  inNs(["ip", "addr", "add", "2001:db8:ff::fe/64", "dev", "fpmn", "nodad"]);
  inNs(["ip", "link", "set", "fpmn", "up"]);
  writeFileSync(join(dir, "zebra.conf"), `hostname zebra\nfpm address ${HOST} port ${port}\n`);
  writeFileSync(join(dir, "staticd.conf"), [
    "hostname staticd",
    "ip route 10.10.0.0/16 192.0.2.1",
    "ip route 10.20.0.0/16 192.0.2.2",
    "ip route 10.30.0.0/24 192.0.2.1",
    "ip route 10.30.0.0/24 192.0.2.3",
    "ipv6 route 2001:db8:10::/48 2001:db8:ff::1",
    "",
  ].join("\n"));
  writeFileSync(join(dir, "igp.txt"), "172.16.0.0/12 10.255.0.9\n");
});

test.after(async () => {
  await chassis?.stop();
  stopFrr();
  spawnSync("ip", ["link", "del", "fpmh"]);
  spawnSync("ip", ["netns", "del", ns]);
});

test("zebra's routes reach every card over FPM, through changes and a zebra restart", async () => {
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
  startFrr();
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

  vtysh("ip route 10.40.0.0/16 192.0.2.4", "no ip route 10.20.0.0/16 192.0.2.2");
  const after = [...expected.filter((l) => !l.startsWith("10.20.")), "10.40.0.0/16 192.0.2.4"].sort();
  await holds(after);
  await waitConverged(chassis, 20000);
  assert.equal((await tableOf(chassis, "lc0")).filter((l) => after.includes(l)), after);

  // zebra restarts and sends everything again, less one route: only that one changes downstream.
  const before = (await chassis.status("lc0"))!.counters.routesIn;
  stopFrr();
  writeFileSync(join(dir, "staticd.conf"), readFileSync(join(dir, "staticd.conf"), "utf8")
    .replace("ip route 10.20.0.0/16 192.0.2.2\n", "ip route 10.40.0.0/16 192.0.2.4\n")
    .replace("ip route 10.10.0.0/16 192.0.2.1\n", ""));
  await new Promise((r) => setTimeout(r, 300));
  startFrr();
  const deadline = Date.now() + 20000;
  while ((await chassis.status("rp0"))!.counters.fpmConnections < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  // The route not sent again is withdrawn once zebra has been quiet for the hold time.
  await holds(after.filter((l) => !l.startsWith("10.10.")));
  await waitConverged(chassis, 20000);
  const status = (await chassis.status("lc0"))!;
  assert.is(status.counters.routesIn, before + 1, "the re-send reached no card; the one withdrawal did");
  assert.is((await chassis.status("rp0"))!.counters.fpmSwept, 1);
});

test.run();
