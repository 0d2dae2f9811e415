// A full-table snapshot across a real serial link: serialport on both ends of a socat PTY
// pair (socat comes from Debian; .ci/run installs it).

import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asnRoutes } from "../host/asn.ts";
import { FramedLink } from "../host/links/framed.ts";
import { openSerial } from "../host/links/serial.ts";
import { loadRoutes } from "../host/load.ts";
import { NextHopTable } from "../host/nexthops.ts";
import { SnapshotReceiver, SnapshotError, snapshotMessages } from "../host/wire/snapshot.ts";
import { newFib } from "./support.ts";

async function ptyPair(): Promise<{ a: string; b: string; socat: ChildProcess }> {
  const dir = mkdtempSync(join(tmpdir(), "fibcast-pty-"));
  const a = join(dir, "a");
  const b = join(dir, "b");
  const socat = spawn("socat", [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: "ignore" });
  socat.on("error", () => {});
  for (let i = 0; i < 100 && !(existsSync(a) && existsSync(b)); i++) await new Promise((r) => setTimeout(r, 20));
  if (!existsSync(a) || !existsSync(b)) throw new Error("socat did not make a PTY pair (is socat installed? .ci/run installs it)");
  return { a, b, socat };
}

test("the real IPv4 table's snapshot crosses a socat PTY pair through serialport intact", async () => {
  const { a, b, socat } = await ptyPair();
  try {
    const nexthops = new NextHopTable();
    const source = newFib();
    loadRoutes(source, asnRoutes(4), nexthops);
    const sender = new FramedLink(await openSerial({ path: a }));
    const receiverLink = new FramedLink(await openSerial({ path: b }));
    const target = newFib();
    const receiver = new SnapshotReceiver(target);
    const done = new Promise<number>((resolve, reject) => {
      receiverLink.onMessage((m) => {
        const r = receiver.feed(m);
        if (r instanceof SnapshotError) reject(r);
        else if (r) resolve(r.routes);
      });
    });
    // Send at the line's pace: wait for drain when the port's queue is full.
    for (const m of snapshotMessages(source, nexthops, { snapshot: 1, sequence: 0, families: [4] })) {
      while (!sender.send(m)) await new Promise<void>((r) => sender.onDrain(r));
      if (sender.stream.buffered > 1 << 20) await new Promise<void>((r) => sender.onDrain(r));
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<number>((_, reject) => (timer = setTimeout(() => reject(new Error("snapshot did not arrive in 60 s")), 60000)));
    const routes = await Promise.race([done, timeout]).finally(() => clearTimeout(timer));
    assert.is(routes, source.count(4));
    assert.is(target.digest(4), source.digest(4));
    assert.is(receiverLink.counters.badFrames, 0);
    sender.close();
    receiverLink.close();
  } finally {
    socat.kill();
  }
});

test("a device that is not there is a clear error", async () => {
  try {
    await openSerial({ path: "/dev/fibcast-no-such-port" });
    assert.unreachable("opened a missing device");
  } catch (e) {
    assert.match((e as Error).message, "/dev/fibcast-no-such-port");
  }
});

test.run();
