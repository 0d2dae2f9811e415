// Long work in slices. A node that computes for 300 ms without a break sends no heartbeat
// and reads nothing in that time, and its peers rightly declare it dead; so every job that
// grows with the table (a snapshot applied or sent, a source loaded) gives the event loop a
// turn every SLICE_MS.

const SLICE_MS = 10;

export class Slicer {
  private since = performance.now();

  /** Resolves at once while the slice lasts; after it, lets timers and I/O run first. */
  async turn(): Promise<void> {
    if (performance.now() - this.since < SLICE_MS) return;
    await new Promise((r) => setImmediate(r));
    this.since = performance.now();
  }
}

/** Records of `words` words each, in pieces of at most `n` records. */
export function* pieces(records: Uint32Array, words: number, n = 16384): Generator<Uint32Array> {
  for (let at = 0; at < records.length; at += n * words) yield records.subarray(at, Math.min(records.length, at + n * words));
}

/**
 * Messages handled one at a time, in arrival order, by a handler that may take several
 * slices: a message that arrives meanwhile waits its turn. A burst of quick messages is
 * sliced too: sixty update batches that arrived in one read are a second of work, and the
 * node must still send its heartbeats while it gets through them.
 */
export class Inbox<M> {
  private queue: M[] = [];
  private head = 0;
  private running = false;

  constructor(private readonly handle: (m: M) => void | Promise<void>, private readonly failed: (e: Error) => void) {}

  push(m: M): void {
    this.queue.push(m);
    if (!this.running) void this.drain();
  }

  private async drain(): Promise<void> {
    this.running = true;
    const slicer = new Slicer();
    try {
      while (this.head < this.queue.length) {
        const m = this.queue[this.head++];
        await this.handle(m);
        await slicer.turn();
      }
    } catch (e) {
      this.failed(e as Error);
    } finally {
      this.queue = [];
      this.head = 0;
      this.running = false;
    }
  }
}
