// Packages loaded on first use, not when the bundle loads. Every card process runs the
// whole CLI bundle, and a chassis starts fourteen of them on two cores: yaml, serialport,
// prom-client and cli-progress cost 30–60 ms each to load, and most cards use none of them
// (a card reads its configuration as JSON, opens no serial line, serves no metrics).

import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/** A package's exports, loaded the first time the returned function is called. */
export function lazy<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(name) as T);
}

export const yaml = lazy<typeof import("yaml")>("yaml");
export const serialport = lazy<typeof import("serialport")>("serialport");
export const promClient = lazy<typeof import("prom-client")>("prom-client");
export const cliProgress = lazy<typeof import("cli-progress")>("cli-progress");
