// Multicast: the simulated backplane with its impairments, and real UDP multicast between
// processes inside a network namespace made for the test (as root, with iproute2).

import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { SimBackplane } from "../host/links/multicast.ts";

const address = { group: "239.9.9.9", port: 6001 };
const datagram = (i: number) => Uint8Array.of(i >> 8, i & 255, 7, 7, 7, 7, 7, 7);
const seq = (d: Uint8Array) => (d[0] << 8) | d[1];

test("backplane: every endpoint that joined an address gets each datagram sent to it; others do not", async () => {
  const bp = new SimBackplane();
  const [a, b, c] = [bp.transport(), bp.transport(), bp.transport()];
  const got = { b: [] as number[], c: [] as number[] };
  await b.join(address, (d) => got.b.push(seq(d)));
  await c.join({ ...address, port: 6002 }, (d) => got.c.push(seq(d)));
  for (let i = 0; i < 100; i++) a.send(address, datagram(i));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(got.b, [...Array(100).keys()]);
  assert.equal(got.c, []);
});

test("backplane: loss, reordering, duplication and corruption, per receiver and counted", async () => {
  const bp = new SimBackplane({ loss: 0.05, reorder: 0.1, duplicate: 0.05, corrupt: 0.05 }, 9);
  const tx = bp.transport();
  const got: Uint8Array[] = [];
  await bp.transport().join(address, (d) => got.push(d));
  for (let i = 0; i < 2000; i++) tx.send(address, datagram(i));
  await new Promise((r) => setTimeout(r, 50));
  const c = bp.counters;
  assert.ok(c.lost > 50 && c.reordered > 100 && c.duplicated > 50 && c.corrupted > 50, JSON.stringify(c));
  assert.is(got.length, c.delivered);
  assert.is(c.delivered, 2000 - c.lost + c.duplicated);
  const changed = got.filter((d) => d.subarray(2).some((x) => x !== 7) || seq(d) >= 2000).length;
  assert.ok(changed <= c.corrupted && changed > c.corrupted / 2, `${changed} of ${c.corrupted} corrupted seen`);
  const order = got.map(seq).filter((s) => s < 2000);
  assert.ok(order.some((s, i) => i > 0 && s < order[i - 1]), "some arrive out of order");
});

const ns = `fibcast-mc-${process.pid}`;
const ip = (...args: string[]) => spawnSync("ip", args, { encoding: "utf8" });
const peer = fileURLToPath(new URL("./helpers/mcast-peer.ts", import.meta.url));
const register = fileURLToPath(new URL("../build/register.mjs", import.meta.url));

/** Runs receivers (namespace, interface address), then the sender; returns the sequences each receiver got. */
async function multicastRun(group: string, port: number, n: number, sender: [string, string], receivers: [string, string][]): Promise<{ got: number[] }[]> {
  const procs = receivers.map(([space, iface]) => spawn("ip", ["netns", "exec", space, process.execPath, "--import", register, peer, "receive", group, String(port), String(n), iface], { stdio: ["ignore", "pipe", "pipe"] }));
  const outputs = procs.map((p) => new Promise<string>((resolve) => {
    let text = "";
    p.stdout.on("data", (d) => (text += d));
    p.on("exit", () => resolve(text));
  }));
  await Promise.all(procs.map((p) => new Promise<void>((resolve) => p.stdout.on("data", (d) => String(d).includes("ready") && resolve()))));
  const sent = spawnSync("ip", ["netns", "exec", sender[0], process.execPath, "--import", register, peer, "send", group, String(port), String(n), sender[1]], { encoding: "utf8" });
  assert.is(sent.status, 0, sent.stderr);
  return (await Promise.all(outputs)).map((text) => JSON.parse(text.split("\n").filter((l) => l.startsWith("{"))[0]));
}

test("UDP multicast: one sender, three receivers, in a network namespace", async () => {
  const made = ip("netns", "add", ns);
  assert.is(made.status, 0, `ip netns add: ${made.stderr} (the test needs root and iproute2)`);
  try {
    ip("netns", "exec", ns, "ip", "link", "set", "lo", "up");
    ip("netns", "exec", ns, "ip", "link", "set", "lo", "multicast", "on");
    ip("netns", "exec", ns, "ip", "route", "add", "224.0.0.0/4", "dev", "lo");
    const n = 300;
    const lo: [string, string] = [ns, "127.0.0.1"];
    for (const result of await multicastRun("239.7.7.7", 5407, n, lo, [lo, lo, lo])) assert.equal(result.got, [...Array(n).keys()]);
  } finally {
    ip("netns", "del", ns);
  }
});

test("UDP multicast across hosts: three namespace hosts joined by a veth bridge", async () => {
  const tag = process.pid % 10000;
  const bridge = `fibcast-br-${tag}`;
  const hosts = [1, 2, 3].map((i) => `fibcast-h${i}-${tag}`);
  const must = (...args: string[]) => {
    const r = ip(...args);
    assert.is(r.status, 0, `ip ${args.join(" ")}: ${r.stderr}`);
  };
  try {
    must("netns", "add", bridge);
    must("-n", bridge, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0");
    must("-n", bridge, "link", "set", "br0", "up");
    hosts.forEach((h, i) => {
      must("netns", "add", h);
      must("-n", h, "link", "add", "eth0", "type", "veth", "peer", "name", `port${i}`, "netns", bridge);
      must("-n", bridge, "link", "set", `port${i}`, "master", "br0", "up");
      must("-n", h, "addr", "add", `198.18.7.${i + 1}/24`, "dev", "eth0");
      must("-n", h, "link", "set", "eth0", "up");
      must("-n", h, "link", "set", "lo", "up");
      must("-n", h, "route", "add", "224.0.0.0/4", "dev", "eth0");
    });
    const n = 300;
    const results = await multicastRun("239.7.7.8", 5408, n, [hosts[0], "198.18.7.1"], [[hosts[0], "198.18.7.1"], [hosts[1], "198.18.7.2"], [hosts[2], "198.18.7.3"]]);
    for (const result of results) assert.equal(result.got, [...Array(n).keys()]);
  } finally {
    for (const h of [...hosts, bridge]) ip("netns", "del", h);
  }
});

test.run();
