// What both sides of a registration share: the link, heartbeats and silence (liveness.ts),
// messages handled one at a time in arrival order (slices.ts), and how it ends. The client
// and server sides (client.ts, server.ts) add their states and what the messages mean.

import type { FramedLink } from "../links/framed.ts";
import type { Message } from "../wire/messages.ts";
import { Liveness, type Timers } from "./liveness.ts";
import { Inbox } from "./slices.ts";

export abstract class Session<State extends string> {
  /** How long the peer had been silent when this side gave up on it (0: its stream closed). */
  silentMs = 0;
  private readonly liveness: Liveness;
  private readonly inbox: Inbox<Message>;

  constructor(readonly link: FramedLink, timers: Timers, public state: State) {
    this.liveness = new Liveness(timers, {
      beat: () => this.heartbeat(),
      silent: (reason) => this.suspected(`${this.peer}: ${reason}`),
      resumed: (ms) => this.resumed(ms),
      gone: (reason) => this.abandon(`${this.peer}: ${reason}`),
    });
    this.inbox = new Inbox((m) => this.receive(m), (e) => this.close(`${this.peer}: ${e.message}`));
    // Liveness counts arrival; handling waits its turn.
    link.onMessage((m) => { this.liveness.heard(); this.inbox.push(m); });
    link.onClose((reason) => this.closed(`${this.peer}: ${reason}`));
  }

  /** The node at the other end, for log lines. */
  protected abstract get peer(): string;
  protected abstract receive(m: Message): void | Promise<void>;
  protected abstract heartbeat(): void;
  /** The peer went silent past the limit, or spoke again. */
  protected abstract suspected(reason: string): void;
  protected abstract resumed(silentMs: number): void;
  /** The state changed (the host logs it and acts on it). */
  protected abstract changed(from: State, reason: string): void;

  /** Silent past the limit and not heard from since. */
  get suspect(): boolean {
    return this.liveness.suspect;
  }

  protected get isClosed(): boolean {
    return this.state === CLOSED;
  }

  /** Closes the link because the peer is silent, noting for how long. */
  abandon(reason: string): void {
    if (this.isClosed) return;
    this.silentMs = this.liveness.silentMs();
    this.close(reason);
  }

  close(reason: string): void {
    if (this.isClosed) return;
    this.closed(reason);
    this.link.close();
  }

  private closed(reason: string): void {
    if (this.isClosed) return;
    this.liveness.stop();
    this.become(CLOSED as State, reason);
  }

  protected become(state: State, reason: string): void {
    const from = this.state;
    this.state = state;
    this.changed(from, reason);
  }
}

const CLOSED = "closed";
