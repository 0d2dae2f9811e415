// The sealed datagram: it opens with its channel's key and epoch only; every changed byte,
// an older epoch, another key or a short input is refused with its kind, and nonces never
// repeat.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes } from "node:crypto";
import { Opener, Sealer, SealError, SEAL_OVERHEAD } from "../host/multicast/seal.ts";

const bytes = (n: number) => new Uint8Array(randomBytes(n));
const nonceOf = (d: Uint8Array) => Buffer.from(d.subarray(9, 21)).toString("hex");

/** The kind a refusal has; fails the test if the datagram opened. */
function kind(v: Uint8Array | SealError): string {
  assert.instance(v, SealError);
  return (v as SealError).kind;
}

/** A sealer and an opener of `channel` holding the same key at `epoch`. */
function pair(channel = 3, epoch = 1): { sealer: Sealer; opener: Opener; key: Uint8Array } {
  const key = bytes(32), sealer = new Sealer(channel), opener = new Opener(channel);
  sealer.rekey(epoch, key);
  opener.rekey(epoch, key);
  return { sealer, opener, key };
}

test("seal: a datagram is the header, ciphertext and tag, and opens to what was sealed", () => {
  const { sealer, opener } = pair(0x01020304, 0x0a0b0c0d);
  assert.is(SEAL_OVERHEAD, 37);
  for (const n of [0, 1, 100, 1400]) {
    const plain = bytes(n);
    const d = sealer.seal(plain);
    assert.is(d.length, n + SEAL_OVERHEAD);
    assert.equal(d.subarray(0, 9), Uint8Array.from([1, 1, 2, 3, 4, 0x0a, 0x0b, 0x0c, 0x0d]));
    if (n >= 16) assert.not.equal(d.subarray(21, 21 + 16), plain.subarray(0, 16), "encrypted");
    assert.equal(opener.open(d), plain);
  }
});

test("seal: every single changed byte is refused, by the header check it breaks or the tag", () => {
  const { sealer, opener } = pair();
  const d = sealer.seal(bytes(64));
  const expected = (i: number) => (i === 0 ? "version" : i < 5 ? "channel" : i < 9 ? "unknown-epoch|old-epoch" : "tag");
  for (let i = 0; i < d.length; i++) {
    for (const flip of [0x01, 0x80]) {
      const bad = d.slice();
      bad[i] ^= flip;
      const k = kind(opener.open(bad));
      assert.ok(expected(i).split("|").includes(k), `byte ${i} ^ ${flip}: ${k}, expected ${expected(i)}`);
    }
  }
  assert.instance(opener.open(d), Uint8Array, "the original still opens");
});

test("seal: short input, another version or channel, and no key yet are refused", () => {
  const { sealer, opener, key } = pair(3, 1);
  const d = sealer.seal(bytes(10));
  for (const n of [0, 1, 20, 21, SEAL_OVERHEAD - 1]) assert.is(kind(opener.open(d.subarray(0, n))), "short", `${n} bytes`);
  assert.is(kind(opener.open(sealer.seal(new Uint8Array(0)).subarray(0, SEAL_OVERHEAD - 1))), "short");
  const v2 = d.slice();
  v2[0] = 2;
  assert.is(kind(opener.open(v2)), "version");
  const other = new Opener(4);
  other.rekey(1, key);
  assert.is(kind(other.open(d)), "channel");
  assert.is(kind(new Opener(3).open(d)), "unknown-epoch", "an opener without a key");
  assert.throws(() => new Sealer(3).seal(bytes(4)), /no key yet/);
});

test("seal: an intruder that knows channel and epoch but not the key is refused", () => {
  const { opener } = pair(3, 1);
  const intruder = new Sealer(3);
  intruder.rekey(1, bytes(32));
  const forged = intruder.seal(bytes(40));
  assert.is(kind(opener.open(forged)), "tag");
});

test("seal: after a re-key the old epoch is refused, and a newer one is unknown until its key arrives", () => {
  const { sealer, opener } = pair(1, 1);
  const before = sealer.seal(bytes(8));
  const key2 = bytes(32);
  sealer.rekey(2, key2);
  assert.is(sealer.epoch, 2);
  const after = sealer.seal(bytes(8));
  assert.is(kind(opener.open(after)), "unknown-epoch");
  assert.instance(opener.open(before), Uint8Array);
  opener.rekey(2, key2);
  assert.is(kind(opener.open(before)), "old-epoch");
  assert.instance(opener.open(after), Uint8Array);
  const stale = new Opener(1);
  stale.rekey(1, bytes(32));
  assert.is(kind(stale.open(after)), "unknown-epoch", "a client evicted at epoch 1 cannot read epoch 2");
});

test("seal: a re-key must go forward and keys must be 32 bytes", () => {
  const { sealer, opener } = pair(1, 5);
  assert.throws(() => sealer.rekey(5, bytes(32)), RangeError);
  assert.throws(() => sealer.rekey(4, bytes(32)), RangeError);
  assert.throws(() => sealer.rekey(6, bytes(16)), RangeError);
  assert.throws(() => sealer.rekey(2 ** 32, bytes(32)), RangeError);
  assert.throws(() => opener.rekey(6, bytes(31)), RangeError);
  assert.throws(() => new Sealer(-1), RangeError);
  assert.throws(() => new Opener(2 ** 32), RangeError);
  assert.is(sealer.epoch, 5, "a refused re-key changes nothing");
  opener.rekey(2, bytes(32));
  assert.is(kind(opener.open(sealer.seal(bytes(4)))), "unknown-epoch", "an opener follows the epoch it is handed, even back, then refuses the newer");
});

test("seal: nonces never repeat, across re-keys and even when a re-key hands the same key again", () => {
  const key = bytes(32);
  const sealer = new Sealer(1);
  sealer.rekey(1, key);
  const plain = new Uint8Array(8);
  const a = sealer.seal(plain), b = sealer.seal(plain);
  assert.not.equal(a, b, "the same plaintext seals differently");
  assert.not.equal(a.subarray(21), b.subarray(21));
  const nonces = new Set<string>([nonceOf(a), nonceOf(b)]);
  for (let i = 0; i < 998; i++) nonces.add(nonceOf(sealer.seal(plain)));
  assert.is(nonces.size, 1000);
  sealer.rekey(2, key);
  for (let i = 0; i < 10; i++) nonces.add(nonceOf(sealer.seal(plain)));
  assert.is(nonces.size, 1010);
  const twin = new Sealer(1);
  twin.rekey(1, key);
  assert.not.equal(nonceOf(twin.seal(plain)), nonceOf(a), "another sealer of the same key has other random bytes");
});

test.run();
