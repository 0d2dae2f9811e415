// FRRouting daemons in network namespaces of their own, for the integration tests: each
// namespace has its own sockets, pid files and configuration in a private folder, and is
// joined to the host (or to another namespace) by veth pairs. Runs as root; the daemons'
// vty sockets belong to group frrvty, which root is added to.

import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export type Daemon = "zebra" | "staticd" | "bgpd";

const sh = (cmd: string[]) => execFileSync(cmd[0], cmd.slice(1), { encoding: "utf8" });

export class FrrNamespace {
  readonly dir: string;
  private readonly started: Daemon[] = [];
  private readonly hostLinks: string[] = [];

  constructor(readonly ns: string) {
    this.dir = mkdtempSync(join(tmpdir(), `${ns}-`));
    chmodSync(this.dir, 0o777);
    spawnSync("usermod", ["-a", "-G", "frrvty", "root"]);
    sh(["ip", "netns", "add", ns]);
    this.exec(["ip", "link", "set", "lo", "up"]);
  }

  exec(cmd: string[]): string {
    return sh(["ip", "netns", "exec", this.ns, ...cmd]);
  }

  /**
   * A veth pair: `name` in this namespace with `addr` (CIDR), its peer `peerName` on the
   * host, or in namespace `peer`, with `peerAddr`. Extra addresses for this side follow.
   */
  veth(name: string, addr: string, peerName: string, peerAddr: string, peer?: FrrNamespace, ...extra: string[]): void {
    sh(["ip", "link", "add", peerName, "type", "veth", "peer", "name", name]);
    sh(["ip", "link", "set", name, "netns", this.ns]);
    if (peer) sh(["ip", "link", "set", peerName, "netns", peer.ns]);
    else this.hostLinks.push(peerName);
    const onPeer = (cmd: string[]) => (peer ? peer.exec(cmd) : sh(cmd));
    onPeer(["ip", "addr", "add", peerAddr, "dev", peerName]);
    onPeer(["ip", "link", "set", peerName, "up"]);
    for (const a of [addr, ...extra]) this.exec(["ip", "addr", "add", a, "dev", name, ...(a.includes(":") ? ["nodad"] : [])]);
    this.exec(["ip", "link", "set", name, "up"]);
  }

  /** Writes the daemon's configuration (lines) and starts it; `flags` go on its command line. */
  start(daemon: Daemon, config: string[], flags: string[] = []): void {
    const conf = join(this.dir, `${daemon}.conf`);
    writeFileSync(conf, [`hostname ${daemon}`, ...config, ""].join("\n"));
    const common = ["-d", "-z", join(this.dir, "zserv.api"), "--vty_socket", this.dir, "-u", "root", "-g", "root"];
    // Start-up warnings (no MPLS here) are not ours to show.
    execFileSync("ip", ["netns", "exec", this.ns, `/usr/lib/frr/${daemon}`, ...common, ...flags, "-f", conf, "-i", join(this.dir, `${daemon}.pid`)], { stdio: ["ignore", "ignore", "ignore"] });
    if (!this.started.includes(daemon)) this.started.push(daemon);
  }

  /** Runs configuration commands through vtysh. */
  vtysh(...commands: string[]): string {
    return this.exec(["vtysh", "--vty_socket", this.dir, "-c", "configure terminal", ...commands.flatMap((c) => ["-c", c])]);
  }

  /** Stops every daemon started here (the last started first). */
  stop(): void {
    for (const d of [...this.started].reverse()) spawnSync("sh", ["-c", `kill $(cat ${join(this.dir, `${d}.pid`)}) 2>/dev/null`]);
  }

  /** Stops the daemons and removes the namespace and its links. */
  destroy(): void {
    this.stop();
    for (const l of this.hostLinks) spawnSync("ip", ["link", "del", l]);
    spawnSync("ip", ["netns", "del", this.ns]);
  }
}
