// The self-test a card runs on an image before it marks its slot good: the image boots
// inside the card's memory budget with every export the host calls (Fib.fromImage checks
// exports, ABI and budget), and a small known table answers known lookups, one by one and
// in a batch, before and after a removal. A module that loads but forwards wrongly fails
// here, not on live traffic.

import { Fib, FirmwareError, NO_ROUTE } from "../host/fib.ts";
import { Addr, Prefix } from "../host/netip.ts";

/** Nested prefixes, so each answer checks that the longest match wins. */
const TABLE: [prefix: string, nh: number][] = [
  ["0.0.0.0/0", 1], ["10.0.0.0/8", 2], ["10.1.0.0/16", 3], ["10.1.2.0/24", 4], ["192.0.2.1/32", 5],
  ["2001:db8::/32", 6], ["2001:db8:1::/48", 7], ["2001:db8:1:2::/64", 8],
];

/** Address → next hop the table implies (undefined: no route). */
const ANSWERS: [addr: string, nh: number | undefined][] = [
  ["10.1.2.3", 4], ["10.1.3.1", 3], ["10.2.0.1", 2], ["11.0.0.1", 1], ["192.0.2.1", 5], ["192.0.2.2", 1],
  ["2001:db8:1:2::1", 8], ["2001:db8:1:3::1", 7], ["2001:db8:2::1", 6], ["2001:db9::1", undefined],
];

/** After removing 10.1.0.0/16, 10.1.3.1 falls to 10.0.0.0/8. */
const AFTER_REMOVAL: [addr: string, nh: number | undefined][] = [["10.1.3.1", 2], ["10.1.2.3", 4]];

/** Why the image fails its self-test, or undefined when it passes. */
export function selfTest(wasm: Uint8Array, memoryMiB: number): string | undefined {
  let fib: Fib;
  try {
    fib = Fib.fromImage(wasm, { memoryMiB });
  } catch (e) {
    return e instanceof FirmwareError ? e.message : `the image does not boot: ${(e as Error).message}`;
  }
  try {
    for (const [p, nh] of TABLE) {
      const status = fib.set(Prefix.mustParse(p), nh);
      if (status !== "ok") return `setting ${p} answered ${status}`;
    }
    const wrong = check(fib, ANSWERS);
    if (wrong) return wrong;
    const v4 = ANSWERS.filter(([a]) => !a.includes(":"));
    const out = new Uint32Array(v4.length);
    fib.lookupBatch(4, Uint32Array.from(v4, ([a]) => Addr.mustParse(a).w0), out);
    for (const [i, [a, nh]] of v4.entries()) {
      if (out[i] !== (nh ?? NO_ROUTE)) return `batch lookup of ${a} answered ${out[i]}, not ${nh ?? "no route"}`;
    }
    if (fib.remove(Prefix.mustParse("10.1.0.0/16")) !== "ok") return "removing 10.1.0.0/16 failed";
    return check(fib, AFTER_REMOVAL);
  } catch (e) {
    return `the image failed while answering: ${(e as Error).message}`;
  }
}

function check(fib: Fib, answers: readonly [string, number | undefined][]): string | undefined {
  for (const [a, nh] of answers) {
    const got = fib.lookup(Addr.mustParse(a));
    if (got !== nh) return `lookup of ${a} answered ${got ?? "no route"}, not ${nh ?? "no route"}`;
  }
  return undefined;
}
