// A multicast peer in its own process, for the network-namespace tests:
//   mcast-peer send GROUP PORT COUNT [IFACE-ADDRESS]      sends COUNT datagrams, 2 ms apart
//   mcast-peer receive GROUP PORT COUNT [IFACE-ADDRESS]   prints the sequences it got as JSON, then exits
// A datagram is its sequence as u32 (big-endian) and some padding.
import { udpTransport } from "../../host/links/multicast.ts";

const [mode, group, port, count, iface] = process.argv.slice(2);
const n = Number(count);
const at = { group, port: Number(port) };
const transport = udpTransport({ interfaceAddress: iface ?? "127.0.0.1" });
if (mode === "send") {
  for (let i = 0; i < n; i++) {
    const d = new Uint8Array(64);
    new DataView(d.buffer).setUint32(0, i);
    transport.send(at, d);
    await new Promise((r) => setTimeout(r, 2));
  }
  setTimeout(() => transport.close(), 100);
} else {
  const got: number[] = [];
  const finish = () => {
    process.stdout.write(`${JSON.stringify({ got })}\n`);
    transport.close();
    process.exit(0);
  };
  await transport.join(at, (d) => {
    got.push(new DataView(d.buffer, d.byteOffset).getUint32(0));
    if (got.length === n) finish();
  });
  setTimeout(finish, 10000);
  process.stdout.write("ready\n");
}
