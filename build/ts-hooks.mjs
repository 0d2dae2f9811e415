// Module hooks that let Node run the TypeScript sources directly (tests, benchmarks):
// .ts files are transformed by esbuild on load. Registered by build/register.mjs.

import { transform } from "esbuild";
import { readFile } from "node:fs/promises";

export async function load(url, context, nextLoad) {
  if (!url.startsWith("file:") || !url.endsWith(".ts")) return nextLoad(url, context);
  const source = await readFile(new URL(url), "utf8");
  const { code } = await transform(source, {
    loader: "ts",
    format: "esm",
    target: "node20",
    sourcemap: "inline",
    sourcefile: new URL(url).pathname,
  });
  return { format: "module", source: code, shortCircuit: true };
}
