// Multicast: the simulated backplane with its impairments, and real UDP multicast between
// processes inside a network namespace made for the test (as root, with iproute2).

import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { MulticastChannel, SimBackplane } from "../host/links/multicast.ts";
import type { Message } from "../host/wire/messages.ts";

const update = (i: number): Message => ({ type: "update", channel: 1, sequence: i, family: 4, count: 0, data: new Uint8Array(0) });

test("backplane: every endpoint but the sender gets each datagram", async () => {
  const bp = new SimBackplane();
  const [a, b, c] = [bp.join(), bp.join(), bp.join()].map((m) => new MulticastChannel(m));
  const got = { a: [] as number[], b: [] as number[], c: [] as number[] };
  a.onMessage((m) => got.a.push((m as { sequence: number }).sequence));
  b.onMessage((m) => got.b.push((m as { sequence: number }).sequence));
  c.onMessage((m) => got.c.push((m as { sequence: number }).sequence));
  for (let i = 0; i < 100; i++) a.send(update(i));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(got.a, []);
  assert.equal(got.b, [...Array(100).keys()]);
  assert.equal(got.c, [...Array(100).keys()]);
});

test("backplane: loss, reordering, duplication and corruption, counted; nothing corrupt gets through", async () => {
  const bp = new SimBackplane({ loss: 0.05, reorder: 0.1, duplicate: 0.05, corrupt: 0.05 }, 9);
  const tx = new MulticastChannel(bp.join());
  const rx = new MulticastChannel(bp.join());
  const got: number[] = [];
  rx.onMessage((m) => got.push((m as { sequence: number }).sequence));
  for (let i = 0; i < 2000; i++) tx.send(update(i));
  await new Promise((r) => setTimeout(r, 50));
  const c = bp.counters;
  assert.ok(c.lost > 50 && c.reordered > 100 && c.duplicated > 50 && c.corrupted > 50, JSON.stringify(c));
  assert.is(rx.counters.badDatagrams, c.corrupted);
  assert.is(got.length, c.delivered - c.corrupted);
  assert.ok(got.every((s) => s >= 0 && s < 2000));
  assert.ok(got.some((s, i) => i > 0 && s < got[i - 1]), "some arrive out of order");
});

const ns = `fibcast-mc-${process.pid}`;
const ip = (...args: string[]) => spawnSync("ip", args, { encoding: "utf8" });
const peer = fileURLToPath(new URL("./helpers/mcast-peer.ts", import.meta.url));
const register = fileURLToPath(new URL("../build/register.mjs", import.meta.url));

/** Runs receivers (namespace, interface address), then the sender; returns what each receiver got. */
async function multicastRun(group: string, port: number, n: number, sender: [string, string], receivers: [string, string][]): Promise<{ got: number[]; bad: number }[]> {
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
    for (const result of await multicastRun("239.7.7.7", 5407, n, lo, [lo, lo, lo])) {
      assert.equal(result.got, [...Array(n).keys()]);
      assert.is(result.bad, 0);
    }
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
    for (const result of results) {
      assert.equal(result.got, [...Array(n).keys()]);
      assert.is(result.bad, 0);
    }
  } finally {
    for (const h of [...hosts, bridge]) ip("netns", "del", h);
  }
});

test.run();
