// One byte-stream interface for every link a node may use: TCP and Unix sockets here,
// serial lines (serial.ts) and the simulated backplane link (sim.ts). Bytes only: framing
// is framed.ts's job.

import type { Socket } from "node:net";

export interface ByteStream {
  /** Queues bytes; false when the stream's buffer is above its high-water mark (wait for onDrain). */
  write(bytes: Uint8Array): boolean;
  onData(listener: (chunk: Uint8Array) => void): void;
  onDrain(listener: () => void): void;
  /** Called once, when the stream ends for any reason, with the reason in operator terms. */
  onClose(listener: (reason: string) => void): void;
  close(): void;
  /** Bytes accepted by write() but not yet handed to the other side. */
  readonly buffered: number;
}

/** A TCP or Unix-domain socket as a ByteStream. */
export function socketStream(socket: Socket): ByteStream {
  let closedReason: string | undefined;
  const closeListeners: ((reason: string) => void)[] = [];
  const close = (reason: string) => {
    if (closedReason !== undefined) return;
    closedReason = reason;
    for (const l of closeListeners) l(reason);
  };
  socket.setNoDelay?.(true);
  socket.on("error", (e) => close(`socket error: ${e.message}`));
  socket.on("close", () => close("peer closed the connection"));
  return {
    write: (bytes) => (closedReason === undefined ? socket.write(bytes) : false),
    onData: (l) => void socket.on("data", (chunk: Buffer) => l(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length))),
    onDrain: (l) => void socket.on("drain", l),
    onClose: (l) => {
      if (closedReason !== undefined) l(closedReason);
      else closeListeners.push(l);
    },
    close: () => {
      close("closed here");
      socket.destroy();
    },
    get buffered() {
      return socket.writableLength;
    },
  };
}
