#!/usr/bin/env node
// The fibcast command: runs the bundled CLI, building it first if this checkout has not.
import { existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const bundle = new URL("../build/out/fibcast.mjs", import.meta.url);
if (!existsSync(fileURLToPath(bundle))) {
  execFileSync(process.execPath, [fileURLToPath(new URL("../build/build.mjs", import.meta.url))], { stdio: ["ignore", "ignore", "inherit"] });
}
await import(bundle.href);
