// A full-table snapshot across a real serial link: serialport on both ends of a socat PTY
// pair (socat comes from Debian; .ci/run installs it).

import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asnRoutes } from "../host/asn.ts";
import { FramedLink } from "../host/links/framed.ts";
import { openSerial } from "../host/links/serial.ts";
import { ptyPair } from "../host/links/pty.ts";
import { loadRoutes } from "../host/load.ts";
import { NextHopTable } from "../host/nexthops.ts";
import { SnapshotReceiver, SnapshotError, snapshotMessages } from "../host/wire/snapshot.ts";
import { newFib } from "./support.ts";

test("the real IPv4 table's snapshot crosses a socat PTY pair through serialport intact", async () => {
  const dir = mkdtempSync(join(tmpdir(), "fibcast-pty-"));
  const { a, b, close } = await ptyPair(join(dir, "a"), join(dir, "b"));
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
    close();
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
