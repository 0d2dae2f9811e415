// What every command gets: its streams, and the two ways it can fail.

import type { Readable, Writable } from "node:stream";

export interface Context {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  /** Writes to stdout, waiting when the reader is slow. */
  write(text: string): Promise<void>;
  /** A progress line on stderr (silenced by --quiet). */
  log(text: string): void;
}

/** The command line is wrong: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The command ran and failed for a reason the user can act on: printed as is, exit code 1. */
export class FailedError extends Error {
  override name = "FailedError";
}

export function makeContext(quiet: boolean): Context {
  const { stdin, stdout, stderr } = process;
  return {
    stdin,
    stdout,
    stderr,
    write: (text) =>
      new Promise((resolve, reject) => {
        if (stdout.write(text)) resolve();
        else {
          stdout.once("drain", resolve);
          stdout.once("error", reject);
        }
      }),
    log: (text) => {
      if (!quiet) stderr.write(`${text}\n`);
    },
  };
}
