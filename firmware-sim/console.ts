// A card's console: the byte stream its bootloader listens on — a serial line, or a socket
// in a chassis without serial lines. One flasher at a time; a serial line stays the card's
// after the flasher hangs up, and is opened again for the next.
//
// Addresses as operators write them: a device path (/dev/ttyS1, a PTY's link) is a serial
// line; "tcp:HOST:PORT" a socket; "unix:PATH" a Unix socket.

import { connect, createServer, type Server } from "node:net";
import { FramedLink } from "../host/links/framed.ts";
import { openSerial } from "../host/links/serial.ts";
import { SimLink, splice } from "../host/links/sim.ts";
import { socketStream, type ByteStream } from "../host/links/stream.ts";
import type { Bootloader } from "./bootloader.ts";

export type ConsoleAddress = { serial: string } | { tcp: number; host: string } | { unix: string };

/** Reads an address as written on a command line; throws naming what is wrong. */
export function parseConsoleAddress(text: string): ConsoleAddress {
  const tcp = /^tcp:(.+):(\d+)$/.exec(text);
  if (tcp) return { tcp: Number(tcp[2]), host: tcp[1] };
  if (text.startsWith("unix:")) return { unix: text.slice(5) };
  if (text.startsWith("/") || text.startsWith(".")) return { serial: text };
  throw new Error(`${JSON.stringify(text)} is not a card address (a serial device path, tcp:HOST:PORT or unix:PATH)`);
}

export function formatConsoleAddress(a: ConsoleAddress): string {
  return "serial" in a ? a.serial : "tcp" in a ? `tcp:${a.host}:${a.tcp}` : `unix:${a.unix}`;
}

/**
 * Opens the flasher's end of a card's console. A serial line is paced at `baud` bits a
 * second as a UART would send them (a PTY pair would otherwise pass bytes at memory speed).
 */
export async function dialConsole(address: ConsoleAddress, baud: number): Promise<ByteStream> {
  if ("serial" in address) {
    const line = await openSerial({ path: address.serial, baudRate: baud });
    const paced = new SimLink({ bandwidthBps: baud });
    splice(line, paced);
    return paced.b;
  }
  const socket = "unix" in address ? connect(address.unix) : connect(address.tcp, address.host);
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socketStream(socket)));
    socket.once("error", (e) => reject(new Error(`${formatConsoleAddress(address)}: ${e.message}`)));
  });
}

/** Answers a flasher on `stream` until it closes; a cut mid-flash is left resumable. */
export function serveConsole(bootloader: Bootloader, stream: ByteStream): FramedLink {
  const link = new FramedLink(stream);
  link.onMessage((m) => {
    const reply = bootloader.handle(m);
    if (reply) link.send(reply);
  });
  link.onClose((reason) => bootloader.cut(reason));
  return link;
}

/**
 * The card's side: serves its bootloader on its console until close() — a serial line
 * opened again whenever a session on it ends, or a listening socket (port 0: any; the
 * address it got is returned).
 */
export async function listenConsole(bootloader: Bootloader, address: ConsoleAddress): Promise<{ address: ConsoleAddress; close(): void }> {
  if ("serial" in address) {
    let closed = false;
    let current: ByteStream | undefined;
    const open = () => {
      if (closed) return;
      openSerial({ path: address.serial }).then(
        (stream) => {
          current = stream;
          stream.onClose(() => setTimeout(open, 50));
          serveConsole(bootloader, stream);
        },
        () => setTimeout(open, 50),
      );
    };
    open();
    return { address, close: () => { closed = true; current?.close(); } };
  }
  const server: Server = createServer((socket) => serveConsole(bootloader, socketStream(socket)));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    if ("unix" in address) server.listen(address.unix, resolve);
    else server.listen(address.tcp, address.host, resolve);
  });
  const bound = server.address();
  const at: ConsoleAddress = "tcp" in address && typeof bound === "object" && bound ? { tcp: bound.port, host: address.host } : address;
  return { address: at, close: () => server.close() };
}
