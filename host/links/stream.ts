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

/** The end of a stream: fired once with its reason; a listener that comes late hears it at once. */
export class CloseSignal {
  reason: string | undefined;
  private listeners: ((reason: string) => void)[] = [];

  get closed(): boolean {
    return this.reason !== undefined;
  }

  fire(reason: string): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    for (const l of this.listeners) l(reason);
    this.listeners = [];
  }

  on(listener: (reason: string) => void): void {
    if (this.reason !== undefined) listener(this.reason);
    else this.listeners.push(listener);
  }
}

/** A TCP or Unix-domain socket as a ByteStream. */
export function socketStream(socket: Socket): ByteStream {
  const end = new CloseSignal();
  socket.setNoDelay?.(true);
  socket.on("error", (e) => end.fire(`socket error: ${e.message}`));
  socket.on("close", () => end.fire("peer closed the connection"));
  return {
    write: (bytes) => (end.closed ? false : socket.write(bytes)),
    onData: (l) => void socket.on("data", (chunk: Buffer) => l(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length))),
    onDrain: (l) => void socket.on("drain", l),
    onClose: (l) => end.on(l),
    close: () => {
      end.fire("closed here");
      socket.destroy();
    },
    get buffered() {
      return socket.writableLength;
    },
  };
}
