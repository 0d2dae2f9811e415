// The route file: one route a line, `PREFIX/LEN NEXTHOP`.
//
//   # comment (also after a route)
//   10.0.0.0/8        192.0.2.1
//   2001:db8::/32     2001:db8::1
//   0.0.0.0/0         upstream          # a next-hop name
//
// NEXTHOP is an IPv4 or IPv6 address or a name (any word without spaces or '#'); it is kept
// as written. IPv4 and IPv6 may be mixed. Host bits under the mask are masked off
// (10.1.2.3/8 is 10.0.0.0/8). A prefix may appear once. Every bad line is reported as
// `file:line: reason`.

import { readFileSync } from "node:fs";
import { ParseError, Prefix } from "./netip.ts";

export interface Route {
  readonly prefix: Prefix;
  readonly nexthop: string;
}

export class RouteFileError extends Error {
  override name = "RouteFileError";
  constructor(readonly file: string, readonly line: number, readonly reason: string) {
    super(`${file}:${line}: ${reason}`);
  }
}

export interface ParsedRoutes {
  routes: Route[];
  errors: RouteFileError[];
}

/** Parses route-file text; good lines become routes, bad ones errors (nothing is thrown). */
export function parseRoutes(text: string, file = "<input>"): ParsedRoutes {
  const routes: Route[] = [];
  const errors: RouteFileError[] = [];
  // First line of each prefix; an IPv4 prefix's key is a number (address and length), not a string.
  const seen = new Map<number | string, number>();
  let lineNo = 0;
  for (let at = 0; at < text.length; ) {
    let end = text.indexOf("\n", at);
    if (end < 0) end = text.length;
    const raw = text.slice(at, end);
    const hash = raw.indexOf("#");
    const line = hash >= 0 ? raw.slice(0, hash) : raw;
    at = end + 1;
    lineNo++;
    const fields = splitFields(line);
    if (fields.length === 0) continue;
    if (fields.length !== 2) {
      errors.push(new RouteFileError(file, lineNo, `expected "PREFIX/LEN NEXTHOP", got ${fields.length} field${fields.length === 1 ? "" : "s"}`));
      continue;
    }
    const prefix = Prefix.parse(fields[0]);
    if (prefix instanceof ParseError) {
      errors.push(new RouteFileError(file, lineNo, `bad prefix ${prefix.message}`));
      continue;
    }
    const key = prefix.family === 4 ? prefix.addr.w0 * 64 + prefix.len : prefix.toString();
    const first = seen.get(key);
    if (first !== undefined) {
      errors.push(new RouteFileError(file, lineNo, `duplicate prefix ${prefix} (first at line ${first})`));
      continue;
    }
    seen.set(key, lineNo);
    routes.push({ prefix, nexthop: fields[1] });
  }
  return { routes, errors };
}

/** The words of a line, split at runs of spaces and tabs (and a CR before the newline). */
function splitFields(line: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i <= line.length; i++) {
    const c = i < line.length ? line.charCodeAt(i) : 32;
    const blank = c === 32 || c === 9 || c === 13 || c === 11 || c === 12;
    if (!blank && start < 0) start = i;
    else if (blank && start >= 0) {
      out.push(line.slice(start, i));
      start = -1;
    }
  }
  return out;
}

/** Reads and parses a route file; an unreadable file is one error at line 0. */
export function readRouteFile(path: string): ParsedRoutes {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    return { routes: [], errors: [new RouteFileError(path, 0, (e as Error).message)] };
  }
  return parseRoutes(text, path);
}

/** Route-file text for routes, one a line. */
export function formatRoutes(routes: Iterable<Route>): string {
  let out = "";
  for (const r of routes) out += `${r.prefix} ${r.nexthop}\n`;
  return out;
}
