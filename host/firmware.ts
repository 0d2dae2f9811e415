// Where the built files are (firmware images, the CLI bundle), from the source tree or from
// the bundled CLI.

import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** "release" is the -O3 image flashed onto cards and benchmarked; "debug" keeps names and asserts. */
export type Variant = "release" | "debug";

const candidates = [new URL("./", import.meta.url), new URL("../build/out/", import.meta.url)];

/** Path of a built image; throws with the command to run when it has not been built. */
export function firmwarePath(variant: Variant = "release"): string {
  return builtPath(variant === "release" ? "fib.wasm" : "fib.debug.wasm");
}

/** Path of a file of build/out (an image, the CLI bundle); throws when it has not been built. */
export function builtPath(name: string): string {
  for (const dir of candidates) {
    const path = fileURLToPath(new URL(name, dir));
    if (existsSync(path)) return path;
  }
  throw new Error(`${name} is not built; run: npm run build`);
}

/** The bytes of a built image: what is flashed onto a card. */
export function firmwareImage(variant: Variant = "release"): Uint8Array {
  return readFileSync(firmwarePath(variant));
}
