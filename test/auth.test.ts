// Proving who registers, agreeing on a key, wrapping channel keys, and sealing datagrams:
// each accepts exactly what it should and refuses every change, with its reason.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { channelAad, newKeyShare, sessionKek, unwrapKey, wrapKey, KeyError } from "../host/auth/keys.ts";
import { Trust, TrustError, authTranscript, generateCredential, prove, readCredential } from "../host/auth/trust.ts";
import { Opener, Sealer, SealError, SEAL_OVERHEAD, peekChannel } from "../host/multicast/seal.ts";

const bytes = (n: number) => new Uint8Array(randomBytes(n));

test("keys: both ends derive the same key from each other's shares; another nonce or client, another key", () => {
  const a = newKeyShare(), b = newKeyShare();
  const nonce = bytes(32);
  const ka = sessionKek(a.privateKey, b.share, nonce, "lc0");
  assert.equal(ka, sessionKek(b.privateKey, a.share, nonce, "lc0"));
  assert.not.equal(ka, sessionKek(b.privateKey, a.share, bytes(32), "lc0"));
  assert.not.equal(ka, sessionKek(b.privateKey, a.share, nonce, "lc1"));
  assert.throws(() => sessionKek(a.privateKey, bytes(31), nonce, "lc0"), (e: Error) => e instanceof KeyError);
});

test("keys: a wrapped key opens with its key and binding only; any changed byte or a short input is refused", () => {
  const kek = bytes(32), key = bytes(32), aad = channelAad(1, 2, "lc0");
  const wrapped = wrapKey(kek, key, aad);
  assert.equal(unwrapKey(kek, wrapped, aad), key);
  assert.instance(unwrapKey(bytes(32), wrapped, aad), KeyError);
  assert.instance(unwrapKey(kek, wrapped, channelAad(1, 3, "lc0")), KeyError, "another epoch");
  assert.instance(unwrapKey(kek, wrapped, channelAad(1, 2, "lc1")), KeyError, "another client");
  assert.instance(unwrapKey(kek, wrapped.subarray(0, 20), aad), KeyError);
  for (let i = 0; i < wrapped.length; i++) {
    const bad = wrapped.slice();
    bad[i] ^= 1;
    assert.instance(unwrapKey(kek, bad, aad), KeyError, `byte ${i}`);
  }
});

function trustOf(clients: Record<string, unknown>): Trust {
  return Trust.parse({ clients }, "trust.yaml");
}

test("trust: HMAC and Ed25519 proofs verify; every other transcript, key, method or client is refused with its reason", () => {
  const h = generateCredential("hmac-sha256"), e = generateCredential("ed25519");
  const dir = mkdtempSync(join(tmpdir(), "fibcast-auth-"));
  try {
    writeFileSync(join(dir, "lc0.key"), h.keyFile);
    writeFileSync(join(dir, "lc1.key"), e.keyFile);
    const c0 = readCredential("lc0", join(dir, "lc0.key")), c1 = readCredential("lc1", join(dir, "lc1.key"));
    assert.is(c0.method, "hmac-sha256");
    assert.is(c1.method, "ed25519");
    const trust = trustOf({ lc0: h.trustEntry, lc1: e.trustEntry, lc2: { ...generateCredential("hmac-sha256").trustEntry, revoked: true } });
    const share = bytes(32), nonce = bytes(32);
    const t = (node: string, over: Partial<{ server: string; nonce: Uint8Array; share: Uint8Array; session: bigint }> = {}) =>
      authTranscript(over.server ?? "rp0", node, over.session ?? 7n, over.nonce ?? nonce, over.share ?? share);
    assert.is(trust.verify("lc0", "hmac-sha256", t("lc0"), prove(c0, t("lc0"))), true);
    assert.is(trust.verify("lc1", "ed25519", t("lc1"), prove(c1, t("lc1"))), true);
    for (const other of [{ server: "rp1" }, { nonce: bytes(32) }, { share: bytes(32) }, { session: 8n }]) {
      assert.is(trust.verify("lc0", "hmac-sha256", t("lc0", other), prove(c0, t("lc0"))), "lc0's proof does not verify");
      assert.is(trust.verify("lc1", "ed25519", t("lc1", other), prove(c1, t("lc1"))), "lc1's proof does not verify");
    }
    const flipped = prove(c1, t("lc1"));
    flipped[10] ^= 1;
    assert.is(trust.verify("lc1", "ed25519", t("lc1"), flipped), "lc1's proof does not verify");
    assert.is(trust.verify("lc0", "hmac-sha256", t("lc0"), bytes(5)), "lc0's proof does not verify");
    assert.is(trust.verify("lc0", "ed25519", t("lc0"), prove(c1, t("lc0"))), "lc0 proved with ed25519 but is trusted by hmac-sha256");
    assert.is(trust.verify("lc9", "hmac-sha256", t("lc9"), prove(c0, t("lc9"))), "lc9 is not in the trust file");
    assert.is(trust.verify("lc2", "hmac-sha256", t("lc2"), bytes(32)), "lc2 is revoked");
    trust.revoke("lc0");
    assert.is(trust.verify("lc0", "hmac-sha256", t("lc0"), prove(c0, t("lc0"))), "lc0 is revoked");
    assert.not.ok(trust.isTrusted("lc0"));
    writeFileSync(join(dir, "bad.key"), "secret: nope\n");
    assert.throws(() => readCredential("x", join(dir, "bad.key")), (err: Error) => err instanceof TrustError && err.message.includes("bad.key"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("trust: format errors name the field", () => {
  const reason = (clients: unknown) => { try { Trust.parse({ clients }, "t.yaml"); return ""; } catch (e) { return (e as Error).message; } };
  assert.match(reason([]), /t\.yaml: clients: must be a mapping/);
  assert.match(reason({ lc0: { hmac: "c2hvcnQ=" } }), /clients\.lc0\.hmac: must be a base64 secret of at least 16 bytes/);
  assert.match(reason({ lc0: { ed25519: "AAAA" } }), /clients\.lc0\.ed25519: not an Ed25519 public key/);
  assert.match(reason({ lc0: {} }), /clients\.lc0: needs exactly one of hmac, ed25519/);
  assert.match(reason({ lc0: { hmac: Buffer.from(bytes(32)).toString("base64"), revoked: "yes" } }), /clients\.lc0\.revoked: must be true or false/);
});

test("seal: a sealed datagram opens with its channel's key and epoch; every changed byte is refused", () => {
  const key = bytes(32);
  const sealer = new Sealer(3), opener = new Opener(3);
  sealer.rekey(1, key);
  opener.rekey(1, key);
  const plain = bytes(100);
  const d = sealer.seal(plain);
  assert.is(d.length, plain.length + SEAL_OVERHEAD);
  assert.is(peekChannel(d), 3);
  assert.equal(opener.open(d), plain);
  for (let i = 0; i < d.length; i++) {
    const bad = d.slice();
    bad[i] ^= 0x10;
    assert.instance(opener.open(bad), SealError, `byte ${i}`);
  }
  assert.is((opener.open(d.subarray(0, 30)) as SealError).kind, "short");
  const other = new Opener(4);
  other.rekey(1, key);
  assert.is((other.open(d) as SealError).kind, "channel");
});

test("seal: nonces never repeat; a key not the channel's is refused; after a re-key the old epoch is refused and the new one not yet known", () => {
  const key = bytes(32);
  const sealer = new Sealer(1), opener = new Opener(1);
  sealer.rekey(1, key);
  opener.rekey(1, key);
  const nonces = new Set<string>();
  for (let i = 0; i < 1000; i++) nonces.add(Buffer.from(sealer.seal(new Uint8Array(8)).subarray(9, 21)).toString("hex"));
  assert.is(nonces.size, 1000);
  const intruder = new Sealer(1);
  intruder.rekey(1, bytes(32));
  assert.is((opener.open(intruder.seal(new Uint8Array(8))) as SealError).kind, "tag");
  const before = sealer.seal(new Uint8Array(8));
  const key2 = bytes(32);
  sealer.rekey(2, key2);
  const after = sealer.seal(new Uint8Array(8));
  assert.is((opener.open(after) as SealError).kind, "unknown-epoch");
  opener.rekey(2, key2);
  assert.is((opener.open(before) as SealError).kind, "old-epoch");
  assert.equal(opener.open(after), new Uint8Array(8));
});

test.run();
