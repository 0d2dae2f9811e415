// A multicast peer in its own process, for the network-namespace tests:
//   mcast-peer send GROUP PORT COUNT [IFACE-ADDRESS]      sends COUNT updates, 2 ms apart
//   mcast-peer receive GROUP PORT COUNT [IFACE-ADDRESS]   prints the sequences it got as JSON, then exits
import { udpMulticast, MulticastChannel } from "../../host/links/multicast.ts";

const [mode, group, port, count, iface] = process.argv.slice(2);
const n = Number(count);
const channel = new MulticastChannel(await udpMulticast({ group, port: Number(port), interfaceAddress: iface ?? "127.0.0.1" }));
if (mode === "send") {
  for (let i = 0; i < n; i++) {
    channel.send({ type: "update", channel: 1, sequence: i, family: 4, count: 0, data: new Uint8Array(0) });
    await new Promise((r) => setTimeout(r, 2));
  }
  setTimeout(() => channel.close(), 100);
} else {
  const got: number[] = [];
  const finish = () => {
    process.stdout.write(`${JSON.stringify({ got, bad: channel.counters.badDatagrams })}\n`);
    channel.close();
    process.exit(0);
  };
  channel.onMessage((m) => {
    if (m.type === "update") got.push(m.sequence);
    if (got.length === n) finish();
  });
  setTimeout(finish, 10000);
  process.stdout.write("ready\n");
}
