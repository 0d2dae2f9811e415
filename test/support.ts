// Shared by the tests: a fresh FIB from the built firmware.

import { Fib, type FibOptions } from "../host/fib.ts";
import { firmwareImage } from "../host/firmware.ts";

export function newFib(options: FibOptions = {}): Fib {
  return Fib.fromImage(firmwareImage("release"), { memoryMiB: 64, ...options });
}
