#!/usr/bin/env node
// Builds the native addon of the `arkime-iptrie` benchmark peer, offline, if it is not built.
//
// Its install script (node-gyp rebuild) is denied in allowScripts: node-gyp would fetch the
// Node headers from the internet. The headers of the running Node are usually installed
// beside it (<prefix>/include/node), and npm carries node-gyp: with both, and a C++
// compiler, the addon builds here. Without them the bench reports the peer unavailable and
// goes on; so does this script (it never fails the run).

import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const skip = (why) => {
  console.log(`arkime-iptrie: not built (${why}); the bench reports it unavailable`);
  process.exit(0);
};

let pkg;
try {
  pkg = dirname(require.resolve("arkime-iptrie/package.json"));
} catch {
  skip("not installed");
}
if (existsSync(join(pkg, "build/Release/iptrie.node"))) process.exit(0);
const prefix = dirname(dirname(process.execPath));
if (!existsSync(join(prefix, "include/node/node.h"))) skip(`no Node headers under ${prefix}/include/node`);
const gyp = join(prefix, "lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js");
if (!existsSync(gyp)) skip(`no node-gyp at ${gyp}`);
try {
  execFileSync(process.execPath, [gyp, "rebuild", `--nodedir=${prefix}`], { cwd: pkg, stdio: ["ignore", "ignore", "pipe"] });
  console.log("arkime-iptrie: native addon built");
} catch (e) {
  skip(`node-gyp failed: ${String(e.stderr ?? e.message).trim().split("\n").at(-1)}`);
}
