// Who may register with a server, and how a client proves it is who it says.
//
// The server answers a hello with a challenge (a 32-byte random nonce); the client answers
// with a proof over a transcript that binds the server's name, its own, its session, the
// nonce and its key share (keys.ts): an HMAC-SHA-256 with its per-card secret, or an
// Ed25519 signature with its private key. A proof replayed to another server, for another
// session or another key share does not verify.
//
// Trust file (YAML), on the server:
//   clients:
//     lc0: { hmac: <base64 secret, at least 16 bytes> }
//     lc1: { ed25519: <base64 raw 32-byte public key, or a PEM (SPKI) public key> }
//     lc2: { hmac: <…>, revoked: true }
// An entry has exactly one of hmac and ed25519, and no other field but revoked: a misspelt
// "revoked" would otherwise leave a card trusted that the operator meant to shut out.
// Key file, on the card: a line `hmac: <base64 secret>`, or an Ed25519 private key (PKCS#8
// PEM, recognised by its "-----BEGIN PRIVATE KEY-----" line).

import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, timingSafeEqual, verify, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { yaml } from "../lazy.ts";
import { Writer } from "../wire/bytes.ts";

export type AuthMethod = "hmac-sha256" | "ed25519";

export type Credential =
  | { node: string; method: "hmac-sha256"; secret: Uint8Array }
  | { node: string; method: "ed25519"; privateKey: KeyObject };

/** A trust or key file that cannot be used, naming the file and the field. */
export class TrustError extends Error {
  override name = "TrustError";
}

const MIN_SECRET = 16;
const ENTRY_FIELDS = new Set(["hmac", "ed25519", "revoked"]);

/**
 * The bytes a proof covers: "fibcast-auth-1", then server and node as length-prefixed UTF-8
 * (bytes.ts), session as u64 (little-endian, as every integer on the wire), nonce, share.
 * The length prefixes keep ("rp0", "lc1") and ("rp0l", "c1") apart.
 */
export function authTranscript(server: string, node: string, session: bigint, nonce: Uint8Array, share: Uint8Array): Uint8Array {
  return new Writer().raw(new Uint8Array(Buffer.from("fibcast-auth-1"))).string(server).string(node).u64(session).raw(nonce).raw(share).done();
}

/** HMAC-SHA-256 of the transcript with the secret (32 bytes), or its Ed25519 signature (64 bytes). */
export function prove(credential: Credential, transcript: Uint8Array): Uint8Array {
  if (credential.method === "hmac-sha256") return new Uint8Array(createHmac("sha256", credential.secret).update(transcript).digest());
  return new Uint8Array(sign(null, transcript, credential.privateKey));
}

/**
 * A card's key file: its HMAC secret or its Ed25519 private key. Throws TrustError naming the
 * file when it cannot be read, is neither kind, holds a secret under 16 bytes or a private
 * key of another type.
 */
export function readCredential(node: string, file: string): Credential {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new TrustError(`${file}: ${(e as Error).message}`);
  }
  if (text.includes("-----BEGIN PRIVATE KEY-----")) {
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey(text);
    } catch (e) {
      throw new TrustError(`${file}: not a private key: ${(e as Error).message}`);
    }
    if (privateKey.asymmetricKeyType !== "ed25519") throw new TrustError(`${file}: a ${privateKey.asymmetricKeyType} key, not Ed25519`);
    return { node, method: "ed25519", privateKey };
  }
  const m = /^\s*hmac:\s*(\S+)\s*$/m.exec(text);
  if (!m) throw new TrustError(`${file}: neither "hmac: <base64 secret>" nor an Ed25519 private key (PEM)`);
  return { node, method: "hmac-sha256", secret: secret(m[1], `${file}: hmac`) };
}

/**
 * A new key for a card: its key file's text (readCredential reads it), and its entry in the
 * trust file (Trust.parse reads it): a 32-byte random secret, or an Ed25519 key pair whose
 * public half goes in the entry as base64 of its 32 raw bytes.
 */
export function generateCredential(method: AuthMethod): { keyFile: string; trustEntry: { hmac: string } | { ed25519: string } } {
  if (method === "hmac-sha256") {
    const s = randomBytes(32).toString("base64");
    return { keyFile: `hmac: ${s}\n`, trustEntry: { hmac: s } };
  }
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x!, "base64url").toString("base64");
  return { keyFile: privateKey.export({ format: "pem", type: "pkcs8" }) as string, trustEntry: { ed25519: raw } };
}

type Entry = { method: "hmac-sha256"; secret: Uint8Array; revoked: boolean } | { method: "ed25519"; key: KeyObject; revoked: boolean };

export class Trust {
  private constructor(private readonly clients: Map<string, Entry>) {}

  /** The trust file's clients. Throws TrustError naming the file, and the field if the YAML parses. */
  static read(file: string): Trust {
    let doc: unknown;
    try {
      doc = yaml().parse(readFileSync(file, "utf8"));
    } catch (e) {
      throw new TrustError(`${file}: ${(e as Error).message}`);
    }
    return Trust.parse(doc, file);
  }

  /** The clients of a parsed trust document; `where` names it in errors ("trust.yaml: clients.lc1.hmac: …"). */
  static parse(doc: unknown, where: string): Trust {
    const fail = (field: string, reason: string): never => { throw new TrustError(`${where}: ${field}: ${reason}`); };
    if (!isRecord(doc) || !isRecord(doc.clients)) fail("clients", "must be a mapping of node names");
    const clients = new Map<string, Entry>();
    for (const [node, raw] of Object.entries((doc as { clients: Record<string, unknown> }).clients)) {
      const field = `clients.${node}`;
      if (!isRecord(raw)) fail(field, "must be a mapping");
      const e = raw as Record<string, unknown>;
      for (const k of Object.keys(e)) if (!ENTRY_FIELDS.has(k)) fail(`${field}.${k}`, "unknown field (hmac, ed25519, revoked)");
      const revoked = e.revoked === undefined ? false : e.revoked === true ? true : e.revoked === false ? false : fail(`${field}.revoked`, "must be true or false");
      if ((e.hmac === undefined) === (e.ed25519 === undefined)) fail(field, "needs exactly one of hmac, ed25519");
      if (e.hmac !== undefined) {
        if (typeof e.hmac !== "string") fail(`${field}.hmac`, "must be a base64 secret");
        clients.set(node, { method: "hmac-sha256", secret: secret(e.hmac as string, `${where}: ${field}.hmac`), revoked });
      } else {
        if (typeof e.ed25519 !== "string") fail(`${field}.ed25519`, "must be a public key");
        clients.set(node, { method: "ed25519", key: publicKey(e.ed25519 as string) ?? fail(`${field}.ed25519`, "not an Ed25519 public key"), revoked });
      }
    }
    return new Trust(clients);
  }

  isTrusted(node: string): boolean {
    const e = this.clients.get(node);
    return e !== undefined && !e.revoked;
  }

  /** From now on the node is refused (a server evicts its sessions and re-keys its channels). A node not in the file: no-op. */
  revoke(node: string): void {
    const e = this.clients.get(node);
    if (e) e.revoked = true;
  }

  /**
   * True, or why not, in operator terms: "lc9 is not in the trust file", "lc2 is revoked",
   * "lc0 proved with ed25519 but is trusted by hmac-sha256", "lc0's proof does not verify".
   * A proof of the wrong length is a proof that fails, not an error.
   */
  verify(node: string, method: AuthMethod, transcript: Uint8Array, proof: Uint8Array): true | string {
    const e = this.clients.get(node);
    if (!e) return `${node} is not in the trust file`;
    if (e.revoked) return `${node} is revoked`;
    if (e.method !== method) return `${node} proved with ${method} but is trusted by ${e.method}`;
    const ok = e.method === "hmac-sha256"
      ? proof.length === 32 && timingSafeEqual(createHmac("sha256", e.secret).update(transcript).digest(), proof)
      : proof.length === 64 && verify(null, transcript, e.key, proof);
    return ok ? true : `${node}'s proof does not verify`;
  }
}

function secret(text: string, where: string): Uint8Array {
  const b = Buffer.from(text, "base64");
  if (b.length < MIN_SECRET || b.toString("base64").replace(/=+$/, "") !== text.replace(/=+$/, "")) {
    throw new TrustError(`${where}: must be a base64 secret of at least ${MIN_SECRET} bytes`);
  }
  return new Uint8Array(b);
}

/**
 * An Ed25519 public key from base64 of its 32 raw bytes, or a PEM public key; undefined if it
 * is not one. A PEM private key is refused (createPublicKey would take its public half): a
 * private key has no place in the server's trust file.
 */
function publicKey(text: string): KeyObject | undefined {
  try {
    if (text.includes("-----BEGIN")) {
      if (!text.includes("-----BEGIN PUBLIC KEY-----")) return undefined;
      const key = createPublicKey(text);
      return key.asymmetricKeyType === "ed25519" ? key : undefined;
    }
    const raw = Buffer.from(text, "base64");
    if (raw.length !== 32 || raw.toString("base64").replace(/=+$/, "") !== text.replace(/=+$/, "")) return undefined;
    return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") }, format: "jwk" });
  } catch {
    return undefined;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
