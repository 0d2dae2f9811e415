// Proving who registers, agreeing on a key and wrapping channel keys: each accepts exactly
// what it should and refuses every change, with its reason. (Sealed datagrams: seal.test.ts.)

import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { stringify } from "yaml";
import { channelAad, newKeyShare, sessionKek, unwrapKey, wrapKey, KeyError } from "../host/auth/keys.ts";
import { Trust, TrustError, authTranscript, generateCredential, prove, readCredential, type Credential } from "../host/auth/trust.ts";

const bytes = (n: number) => new Uint8Array(randomBytes(n));

/** Runs `body` with a fresh temporary directory, removed afterwards. */
function inTemp(body: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "fibcast-auth-"));
  try {
    body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The TrustError message `f` throws; fails the test if it throws nothing or something else. */
function trustError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.instance(e, TrustError);
    return (e as Error).message;
  }
  assert.unreachable("no TrustError");
  return "";
}

test("keys: a share is 32 bytes; both ends derive the same key from each other's shares; another nonce or client, another key", () => {
  const a = newKeyShare(), b = newKeyShare();
  assert.is(a.share.length, 32);
  assert.not.equal(a.share, b.share);
  const nonce = bytes(32);
  const ka = sessionKek(a.privateKey, b.share, nonce, "lc0");
  assert.is(ka.length, 32);
  assert.equal(ka, sessionKek(b.privateKey, a.share, nonce, "lc0"));
  assert.not.equal(ka, sessionKek(b.privateKey, a.share, bytes(32), "lc0"));
  assert.not.equal(ka, sessionKek(b.privateKey, a.share, nonce, "lc1"));
  assert.not.equal(ka, sessionKek(a.privateKey, newKeyShare().share, nonce, "lc0"));
  for (const n of [0, 31, 33]) assert.throws(() => sessionKek(a.privateKey, bytes(n), nonce, "lc0"), (e: Error) => e instanceof KeyError, `${n} bytes`);
  assert.throws(() => sessionKek(a.privateKey, new Uint8Array(32), nonce, "lc0"), (e: Error) => e instanceof KeyError, "the all-zero point");
});

test("keys: a wrapped key opens with its key and binding only; any changed byte or a short input is refused", () => {
  const kek = bytes(32), key = bytes(32), aad = channelAad(1, 2, "lc0");
  const wrapped = wrapKey(kek, key, aad);
  assert.is(wrapped.length, 12 + 32 + 16);
  assert.equal(unwrapKey(kek, wrapped, aad), key);
  assert.not.equal(wrapKey(kek, key, aad), wrapped, "a fresh IV each time");
  const refused = (v: Uint8Array | KeyError, what: string) => {
    assert.instance(v, KeyError, what);
    assert.is((v as KeyError).message, "wrapped key does not open: wrong key or tampered");
  };
  refused(unwrapKey(bytes(32), wrapped, aad), "another kek");
  refused(unwrapKey(kek, wrapped, channelAad(2, 2, "lc0")), "another channel");
  refused(unwrapKey(kek, wrapped, channelAad(1, 3, "lc0")), "another epoch");
  refused(unwrapKey(kek, wrapped, channelAad(1, 2, "lc1")), "another client");
  for (const n of [0, 27, 28, wrapped.length - 1]) refused(unwrapKey(kek, wrapped.subarray(0, n), aad), `${n} bytes`);
  for (let i = 0; i < wrapped.length; i++) {
    const bad = wrapped.slice();
    bad[i] ^= 1;
    refused(unwrapKey(kek, bad, aad), `byte ${i}`);
  }
});

test("keys: the binding tells channel, epoch and client apart", () => {
  const all = [channelAad(1, 2, "lc0"), channelAad(12, 2, "lc0"), channelAad(1, 22, "lc0"), channelAad(1, 2, "lc01"), channelAad(2, 1, "lc0")];
  assert.is(new Set(all.map((a) => Buffer.from(a).toString("hex"))).size, all.length);
});

const NONCE = bytes(32), SHARE = bytes(32);

/** A transcript for `node`, with any part changed. */
function transcript(node: string, over: Partial<{ server: string; nonce: Uint8Array; share: Uint8Array; session: bigint }> = {}): Uint8Array {
  return authTranscript(over.server ?? "rp0", node, over.session ?? 7n, over.nonce ?? NONCE, over.share ?? SHARE);
}

test("trust: the transcript is tag, server, node, session, nonce, share; length prefixes keep the names apart", () => {
  const t = transcript("lc1");
  const tag = Buffer.from("fibcast-auth-1");
  assert.equal(t.subarray(0, tag.length), new Uint8Array(tag));
  assert.is(t.length, tag.length + 4 + 4 + 8 + 32 + 32);
  assert.equal(t.subarray(t.length - 32), SHARE);
  assert.equal(t.subarray(t.length - 64, t.length - 32), NONCE);
  assert.not.equal(authTranscript("rp0", "lc1", 7n, NONCE, SHARE), authTranscript("rp0l", "c1", 7n, NONCE, SHARE));
  assert.not.equal(t, transcript("lc1", { session: 7n << 40n }));
});

test("trust: HMAC and Ed25519 proofs verify; every other transcript, secret, key, byte, method or client is refused with its reason", () => {
  const h = generateCredential("hmac-sha256"), e = generateCredential("ed25519");
  inTemp((dir) => {
    writeFileSync(join(dir, "lc0.key"), h.keyFile);
    writeFileSync(join(dir, "lc1.key"), e.keyFile);
    const c0 = readCredential("lc0", join(dir, "lc0.key")), c1 = readCredential("lc1", join(dir, "lc1.key"));
    assert.is(c0.method, "hmac-sha256");
    assert.is(c1.method, "ed25519");
    assert.is(c0.node, "lc0");
    const trust = Trust.parse({ clients: { lc0: h.trustEntry, lc1: e.trustEntry, lc2: { ...generateCredential("hmac-sha256").trustEntry, revoked: true } } }, "trust.yaml");
    const p0 = prove(c0, transcript("lc0")), p1 = prove(c1, transcript("lc1"));
    assert.is(p0.length, 32);
    assert.is(p1.length, 64);
    assert.is(trust.verify("lc0", "hmac-sha256", transcript("lc0"), p0), true);
    assert.is(trust.verify("lc1", "ed25519", transcript("lc1"), p1), true);
    assert.ok(trust.isTrusted("lc0") && trust.isTrusted("lc1"));
    assert.not.ok(trust.isTrusted("lc2"));
    assert.not.ok(trust.isTrusted("lc9"));

    const fails = (node: string, method: "hmac-sha256" | "ed25519", t: Uint8Array, proof: Uint8Array, what: string) =>
      assert.is(trust.verify(node, method, t, proof), `${node}'s proof does not verify`, what);
    for (const other of [{ server: "rp1" }, { nonce: bytes(32) }, { share: bytes(32) }, { session: 8n }]) {
      fails("lc0", "hmac-sha256", transcript("lc0", other), p0, JSON.stringify(Object.keys(other)));
      fails("lc1", "ed25519", transcript("lc1", other), p1, JSON.stringify(Object.keys(other)));
    }
    const otherSecret: Credential = { node: "lc0", method: "hmac-sha256", secret: bytes(32) };
    fails("lc0", "hmac-sha256", transcript("lc0"), prove(otherSecret, transcript("lc0")), "another secret");
    const otherKey: Credential = { node: "lc1", method: "ed25519", privateKey: generateKeyPairSync("ed25519").privateKey };
    fails("lc1", "ed25519", transcript("lc1"), prove(otherKey, transcript("lc1")), "another key");
    for (const [node, method, proof] of [["lc0", "hmac-sha256", p0], ["lc1", "ed25519", p1]] as const) {
      for (const i of [0, 10, proof.length - 1]) {
        const flipped = proof.slice();
        flipped[i] ^= 1;
        fails(node, method, transcript(node), flipped, `byte ${i}`);
      }
      for (const n of [0, 5, proof.length - 1, proof.length + 1]) fails(node, method, transcript(node), bytes(n), `${n} bytes`);
    }
    assert.is(trust.verify("lc0", "ed25519", transcript("lc0"), prove(c1, transcript("lc0"))), "lc0 proved with ed25519 but is trusted by hmac-sha256");
    assert.is(trust.verify("lc1", "hmac-sha256", transcript("lc1"), prove(c0, transcript("lc1"))), "lc1 proved with hmac-sha256 but is trusted by ed25519");
    assert.is(trust.verify("lc9", "hmac-sha256", transcript("lc9"), prove(c0, transcript("lc9"))), "lc9 is not in the trust file");
    assert.is(trust.verify("lc2", "hmac-sha256", transcript("lc2"), bytes(32)), "lc2 is revoked");

    trust.revoke("lc0");
    assert.is(trust.verify("lc0", "hmac-sha256", transcript("lc0"), p0), "lc0 is revoked");
    assert.not.ok(trust.isTrusted("lc0"));
    assert.is(trust.verify("lc1", "ed25519", transcript("lc1"), p1), true, "others stay trusted");
    trust.revoke("lc9");
    assert.is(trust.verify("lc9", "hmac-sha256", transcript("lc9"), p0), "lc9 is not in the trust file");
  });
});

test("trust: a trust file is read from YAML, with a raw or PEM Ed25519 key; what cannot be used names the file", () => {
  const h = generateCredential("hmac-sha256");
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const pem = publicKey.export({ format: "pem", type: "spki" }) as string;
  inTemp((dir) => {
    const file = join(dir, "trust.yaml");
    writeFileSync(file, "# clients that may register\n" + stringify({ clients: { lc0: h.trustEntry, lc1: { ed25519: pem } } }));
    const trust = Trust.read(file);
    const t = transcript("lc1");
    assert.is(trust.verify("lc1", "ed25519", t, prove({ node: "lc1", method: "ed25519", privateKey }, t)), true);
    assert.ok(trust.isTrusted("lc0"));
    writeFileSync(file, "clients: [\n");
    assert.ok(trustError(() => Trust.read(file)).startsWith(`${file}: `));
    assert.ok(trustError(() => Trust.read(join(dir, "missing.yaml"))).startsWith(`${join(dir, "missing.yaml")}: `));
  });
});

test("trust: format errors name the file and the field", () => {
  const reason = (doc: unknown) => trustError(() => Trust.parse(doc, "t.yaml"));
  const secret = Buffer.from(bytes(32)).toString("base64");
  const x25519 = generateKeyPairSync("x25519").publicKey.export({ format: "pem", type: "spki" }) as string;
  const edPrivate = generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }) as string;
  assert.is(reason(null), "t.yaml: clients: must be a mapping of node names");
  assert.is(reason({ clients: [] }), "t.yaml: clients: must be a mapping of node names");
  assert.is(reason({ clients: { lc0: "x" } }), "t.yaml: clients.lc0: must be a mapping");
  assert.is(reason({ clients: { lc0: {} } }), "t.yaml: clients.lc0: needs exactly one of hmac, ed25519");
  assert.is(reason({ clients: { lc0: { hmac: secret, ed25519: secret } } }), "t.yaml: clients.lc0: needs exactly one of hmac, ed25519");
  assert.is(reason({ clients: { lc0: { hmac: "c2hvcnQ=" } } }), "t.yaml: clients.lc0.hmac: must be a base64 secret of at least 16 bytes");
  assert.is(reason({ clients: { lc0: { hmac: secret.slice(0, -2) + "!!" } } }), "t.yaml: clients.lc0.hmac: must be a base64 secret of at least 16 bytes");
  assert.is(reason({ clients: { lc0: { hmac: 12 } } }), "t.yaml: clients.lc0.hmac: must be a base64 secret");
  assert.is(reason({ clients: { lc1: { ed25519: 12 } } }), "t.yaml: clients.lc1.ed25519: must be a public key");
  for (const bad of ["AAAA", Buffer.from(bytes(31)).toString("base64"), x25519, edPrivate]) {
    assert.is(reason({ clients: { lc1: { ed25519: bad } } }), "t.yaml: clients.lc1.ed25519: not an Ed25519 public key", bad);
  }
  assert.is(reason({ clients: { lc0: { hmac: secret, revoked: "yes" } } }), "t.yaml: clients.lc0.revoked: must be true or false");
  assert.is(reason({ clients: { lc0: { hmac: secret, revoke: true } } }), "t.yaml: clients.lc0.revoke: unknown field (hmac, ed25519, revoked)");
  assert.ok(Trust.parse({ clients: { lc0: { hmac: secret.replace(/=+$/, ""), revoked: false } } }, "t.yaml").isTrusted("lc0"), "padding may be left off");
});

test("trust: key files of both kinds are read; what is neither, too short or another key type is refused naming the file", () => {
  inTemp((dir) => {
    const file = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const secret = bytes(24);
    const c = readCredential("lc0", file("lc0.key", `# lc0\nhmac: ${Buffer.from(secret).toString("base64")}\n`));
    assert.equal(c, { node: "lc0", method: "hmac-sha256", secret });
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const e = readCredential("lc1", file("lc1.key", privateKey.export({ format: "pem", type: "pkcs8" }) as string));
    assert.is(e.method, "ed25519");
    const t = transcript("lc1");
    const raw = Buffer.from(publicKey.export({ format: "jwk" }).x!, "base64url").toString("base64");
    assert.is(Trust.parse({ clients: { lc1: { ed25519: raw } } }, "t").verify("lc1", "ed25519", t, prove(e, t)), true);

    for (const [name, text, why] of [
      ["none.key", "secret: nope\n", 'neither "hmac: <base64 secret>" nor an Ed25519 private key (PEM)'],
      ["short.key", `hmac: ${Buffer.from(bytes(15)).toString("base64")}\n`, "hmac: must be a base64 secret of at least 16 bytes"],
      ["x25519.key", generateKeyPairSync("x25519").privateKey.export({ format: "pem", type: "pkcs8" }) as string, "a x25519 key, not Ed25519"],
      ["broken.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "not a private key"],
    ]) {
      const path = file(name, text);
      assert.ok(trustError(() => readCredential("x", path)).startsWith(`${path}: ${why}`), name);
    }
    const missing = join(dir, "missing.key");
    assert.ok(trustError(() => readCredential("x", missing)).startsWith(`${missing}: `));
  });
});

test("trust: a generated credential round-trips through its key file and trust entry, and only its own proof verifies", () => {
  for (const method of ["hmac-sha256", "ed25519"] as const) {
    const made = generateCredential(method), other = generateCredential(method);
    assert.not.equal(made.trustEntry, other.trustEntry, "fresh key each time");
    inTemp((dir) => {
      writeFileSync(join(dir, "lc3.key"), made.keyFile);
      writeFileSync(join(dir, "lc4.key"), other.keyFile);
      const trust = Trust.parse({ clients: { lc3: made.trustEntry } }, "t.yaml");
      const c = readCredential("lc3", join(dir, "lc3.key")), wrong = readCredential("lc3", join(dir, "lc4.key"));
      assert.is(c.method, method);
      const t = transcript("lc3");
      assert.is(trust.verify("lc3", method, t, prove(c, t)), true, method);
      assert.is(trust.verify("lc3", method, t, prove(wrong, t)), "lc3's proof does not verify", method);
    });
  }
});

test.run();
