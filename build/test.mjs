#!/usr/bin/env node
// Runs the uvu suites under test/ (or those named on the command line) in one process and
// ends with the line CI reads: "N passed, N failed".

import { readdirSync } from "node:fs";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { register } from "node:module";

register("./ts-hooks.mjs", import.meta.url);

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const args = process.argv.slice(2);
const files = args.length > 0
  ? args.map((f) => resolve(f))
  : readdirSync(join(root, "test"), { recursive: true })
      .filter((f) => /\.test\.ts$/.test(f))
      .sort()
      .map((f) => join(root, "test", f));

globalThis.UVU_DEFER = 1;
const uvu = await import("uvu");
let passed = 0;
let failed = 0;
for (const [i, file] of files.entries()) {
  globalThis.UVU_INDEX = i;
  globalThis.UVU_QUEUE.push([file.slice(root.length + 1)]);
  await import(pathToFileURL(file).href);
}
// Count per test: each queued suite reports [errors, ran, skipped, total].
for (const group of globalThis.UVU_QUEUE) {
  for (let k = 1; k < group.length; k++) {
    const run = group[k];
    group[k] = async () => {
      const result = await run();
      const [, ran, skipped, total] = result;
      passed += ran;
      failed += total - ran - skipped;
      return result;
    };
  }
}
await uvu.exec(false);
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 || process.exitCode ? 1 : 0;
