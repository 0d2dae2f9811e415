#!/usr/bin/env node
// Builds the firmware (AssemblyScript → WebAssembly, release and debug) and bundles the CLI.
//
//   node build/build.mjs            build everything
//   node build/build.mjs --if-stale build only what is older than its sources
//
// Outputs go to build/out/ (ignored by git).

import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const out = join(root, "build/out");
const ifStale = process.argv.includes("--if-stale");

function newest(dir) {
  let t = 0;
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) t = Math.max(t, statSync(join(entry.parentPath ?? entry.path, entry.name)).mtimeMs);
  }
  return t;
}

function stale(target, ...sources) {
  if (!ifStale || !existsSync(join(out, target))) return true;
  const built = statSync(join(out, target)).mtimeMs;
  return sources.some((s) => newest(s) > built);
}

mkdirSync(out, { recursive: true });
const asc = join(root, "node_modules/assemblyscript/bin/asc.js");
const firmware = [
  ["fib.wasm", ["-O3", "--noAssert"]],
  ["fib.debug.wasm", ["--debug"]],
];
for (const [file, flags] of firmware) {
  if (!stale(file, "assembly")) continue;
  execFileSync(process.execPath, [
    asc, "assembly/index.ts", "--outFile", join(out, file), "--runtime", "stub", "--importMemory",
    "--disableWarning", "AS201", ...flags,
  ], { cwd: root, stdio: "inherit" });
  console.error(`built ${join("build/out", file)}`);
}

if (stale("fibcast.mjs", "host", "bench", "firmware-sim")) {
  await build({
    entryPoints: [join(root, "host/cli.ts")],
    outfile: join(out, "fibcast.mjs"),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    sourcemap: "linked",
    logLevel: "warning",
  });
  console.error("built build/out/fibcast.mjs");
}
