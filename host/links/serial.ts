// A serial line as a ByteStream, through the serialport package: the real UART link to a
// card (tests run it over a socat PTY pair).

import { SerialPort } from "serialport";
import type { ByteStream } from "./stream.ts";

export interface SerialOptions {
  path: string;
  baudRate?: number;
}

/** Opens a serial device; rejects with the device's reason if it cannot be opened. */
export async function openSerial(options: SerialOptions): Promise<ByteStream> {
  const port = new SerialPort({ path: options.path, baudRate: options.baudRate ?? 115200, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(new Error(`${options.path}: ${e.message}`)) : resolve())));
  let closedReason: string | undefined;
  const closeListeners: ((reason: string) => void)[] = [];
  const close = (reason: string) => {
    if (closedReason !== undefined) return;
    closedReason = reason;
    for (const l of closeListeners) l(reason);
  };
  port.on("error", (e) => close(`${options.path}: ${e.message}`));
  port.on("close", () => close(`${options.path} closed`));
  return {
    write: (bytes) => (closedReason === undefined ? port.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)) : false),
    onData: (l) => void port.on("data", (chunk: Buffer) => l(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length))),
    onDrain: (l) => void port.on("drain", l),
    onClose: (l) => {
      if (closedReason !== undefined) l(closedReason);
      else closeListeners.push(l);
    },
    close: () => {
      close("closed here");
      if (port.isOpen) port.close();
    },
    get buffered() {
      return port.writableLength;
    },
  };
}
