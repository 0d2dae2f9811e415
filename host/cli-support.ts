// What every command gets: its streams, and the two ways it can fail.

import type { Readable, Writable } from "node:stream";

export interface Context {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  /** Writes to stdout, waiting when the reader is slow. */
  write(text: string): Promise<void>;
  writeBytes(bytes: Uint8Array): Promise<void>;
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
  const write = (data: string | Uint8Array) =>
    new Promise<void>((resolve, reject) => {
      if (stdout.write(data)) resolve();
      else {
        stdout.once("drain", resolve);
        stdout.once("error", reject);
      }
    });
  return {
    stdin,
    stdout,
    stderr,
    write,
    writeBytes: write,
    log: (text) => {
      if (!quiet) stderr.write(`${text}\n`);
    },
  };
}
