// A FIB loaded from a route file, for the commands that answer from one.

import { Fib } from "./fib.ts";
import { firmwareImage } from "./firmware.ts";
import { loadRoutes } from "./load.ts";
import { NextHopTable } from "./nexthops.ts";
import { readRouteFile, type Route } from "./routefile.ts";
import { FailedError, type Context } from "./cli-support.ts";

export interface LoadedFib {
  fib: Fib;
  nexthops: NextHopTable;
  routes: number;
}

/** The routes of FILE; any bad line fails the command with its `file:line: reason` (the first 20 shown). */
export function readRoutesOrFail(path: string): Route[] {
  const parsed = readRouteFile(path);
  if (parsed.errors.length > 0) {
    const shown = parsed.errors.slice(0, 20).map((e) => e.message);
    if (parsed.errors.length > 20) shown.push(`… and ${parsed.errors.length - 20} more`);
    throw new FailedError(shown.join("\n"));
  }
  return parsed.routes;
}

/** Loads FILE into a fresh FIB sized for it; bad lines or refused routes fail with every reason. */
export function loadRouteFileFib(path: string, ctx: Context): LoadedFib {
  const routes = readRoutesOrFail(path);
  const nexthops = new NextHopTable();
  // Room for the tables at ~40 bytes a route, far above what they take.
  const memoryMiB = Math.max(16, Math.ceil((routes.length * 40) / (1 << 20)) + 8);
  const fib = Fib.fromImage(firmwareImage(), { memoryMiB });
  const result = loadRoutes(fib, routes, nexthops);
  if (result.full > 0 || result.invalid > 0) {
    throw new FailedError(`${path}: ${result.full} routes did not fit in ${memoryMiB} MiB, ${result.invalid} invalid`);
  }
  ctx.log(`loaded ${result.loaded} routes from ${path}`);
  return { fib, nexthops, routes: result.loaded };
}
