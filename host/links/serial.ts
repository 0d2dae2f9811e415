// A serial line as a ByteStream, through the serialport package: the real UART link to a
// card (tests run it over a socat PTY pair).

import { serialport } from "../lazy.ts";
import { CloseSignal, type ByteStream } from "./stream.ts";

export interface SerialOptions {
  path: string;
  baudRate?: number;
}

/** Opens a serial device; rejects with the device's reason if it cannot be opened. */
export async function openSerial(options: SerialOptions): Promise<ByteStream> {
  const port = new (serialport().SerialPort)({ path: options.path, baudRate: options.baudRate ?? 115200, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(new Error(`${options.path}: ${e.message}`)) : resolve())));
  const end = new CloseSignal();
  port.on("error", (e) => end.fire(`${options.path}: ${e.message}`));
  port.on("close", () => end.fire(`${options.path} closed`));
  return {
    write: (bytes) => (end.closed ? false : port.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length))),
    onData: (l) => void port.on("data", (chunk: Buffer) => l(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length))),
    onDrain: (l) => void port.on("drain", l),
    onClose: (l) => end.on(l),
    close: () => {
      end.fire("closed here");
      if (port.isOpen) port.close();
    },
    get buffered() {
      return port.writableLength;
    },
  };
}
