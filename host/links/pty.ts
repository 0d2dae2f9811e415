// Serial lines without serial hardware: two pseudo-terminals joined by socat, the two ends of
// a null-modem cable. Each end is a real tty a process opens with serialport, as it would a
// UART. The pair outlives the processes at its ends: a card that restarts opens its end
// again and finds the line still there, and the far end notices nothing but silence (a
// serial line has no carrier to drop), exactly as on a backplane UART.

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, rmSync } from "node:fs";

export interface PtyPair {
  /** The tty paths of the two ends (symbolic links that socat makes). */
  readonly a: string;
  readonly b: string;
  close(): void;
}

const WAIT_MS = 5000;

/** Makes a PTY pair whose ends appear at paths a and b; rejects if socat cannot make one. */
export async function ptyPair(a: string, b: string): Promise<PtyPair> {
  for (const p of [a, b]) rmSync(p, { force: true });
  const socat: ChildProcess = spawn("socat", [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: ["ignore", "ignore", "pipe"] });
  let why = "";
  socat.stderr!.on("data", (d: Buffer) => (why += d.toString()));
  const failed = new Promise<string>((resolve) => {
    socat.once("error", (e) => resolve((e as NodeJS.ErrnoException).code === "ENOENT" ? "socat is not installed (Debian package socat)" : e.message));
    socat.once("exit", (code) => resolve(`socat exited (${code}): ${why.trim()}`));
  });
  let failure: string | undefined;
  void failed.then((reason) => (failure = reason));
  const start = performance.now();
  while (!(existsSync(a) && existsSync(b))) {
    if (failure !== undefined) throw new Error(`no PTY pair at ${a}: ${failure}`);
    if (performance.now() - start > WAIT_MS) {
      socat.kill();
      throw new Error(`no PTY pair at ${a}: socat made none in ${WAIT_MS} ms`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return {
    a,
    b,
    close: () => {
      socat.kill();
      for (const p of [a, b]) rmSync(p, { force: true });
    },
  };
}
