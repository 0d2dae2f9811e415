// Signed firmware images: the WASM build of assembly/ with a manifest a card can check
// before it writes a byte.
//
//   image file   ┌ "FCFW" ┬ format u8 ┬ key id string ┬ size varint ┬ SHA-256 32 ┬ signature 64 ┬ WASM … ┐
//                └ magic  ┴── the manifest (what flashBegin carries) ──────────┴──── Ed25519 ─┴ size bytes ┘
//
//   signed bytes "fibcast-firmware-1" · key id string · size varint · SHA-256     (bytes.ts encoding)
//
// The signature covers the manifest, not the WASM: a card verifies the signature as the
// flash begins (a wrong key or a forged manifest is refused before a chunk is written) and
// the SHA-256 once the last chunk is in (a tampered or truncated body is refused before it
// boots). A key id is "ed25519:" and the first 8 bytes of the SHA-256 of the raw public key
// in hex, so a card names the key an image claims and the keys it trusts in one vocabulary.
//
// Key files: a build key is an Ed25519 private key (PKCS#8 PEM), its public half an SPKI
// PEM; a card's trusted-keys file holds one or more public PEMs.

import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { Reader, ShortRead, Writer } from "../host/wire/bytes.ts";

const MAGIC = "FCFW";
const FORMAT = 1;
const SIGNED_CONTEXT = new TextEncoder().encode("fibcast-firmware-1");
export const SIGNATURE_BYTES = 64;

/** Why an image, a manifest or a key is refused. */
export type ImageErrorKind =
  | "truncated"   // the file or the flash ended before the size the manifest states
  | "format"      // not a signed image: wrong magic, unknown format, bytes past the end
  | "unsigned"    // the signature is absent (all zero)
  | "wrong-key"   // signed by a key the card does not trust
  | "signature"   // the signature does not verify: the manifest was changed after signing
  | "tampered"    // the body's SHA-256 is not the manifest's
  | "oversized"   // larger than the card's slot
  | "key";        // a key file that cannot be used

export class ImageError extends Error {
  override name = "ImageError";
  constructor(readonly kind: ImageErrorKind, message: string) {
    super(message);
  }
}

/** What the signature covers, and what a flash announces before the body. */
export interface Manifest {
  keyId: string;
  size: number;
  sha256: Uint8Array;
  signature: Uint8Array;
}

export interface SignedImage extends Manifest {
  wasm: Uint8Array;
}

/** A build key, able to sign. */
export interface BuildKey {
  id: string;
  privateKey: KeyObject;
}

export function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}

/** "ed25519:" and 16 hex digits of the SHA-256 of the raw public key. */
export function keyId(publicKey: KeyObject): string {
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x!, "base64url");
  return `ed25519:${Buffer.from(sha256(raw).subarray(0, 8)).toString("hex")}`;
}

function signedBytes(m: Omit<Manifest, "signature">): Uint8Array {
  return new Writer().raw(SIGNED_CONTEXT).string(m.keyId).varint(m.size).raw(m.sha256).done();
}

/** A signed image file of `wasm`. */
export function signImage(wasm: Uint8Array, key: BuildKey): Uint8Array {
  const unsigned = { keyId: key.id, size: wasm.length, sha256: sha256(wasm) };
  const signature = new Uint8Array(sign(null, signedBytes(unsigned), key.privateKey));
  return encodeImage({ ...unsigned, signature, wasm });
}

/** The file bytes of an image (signImage's output; tests use it to build forgeries). */
export function encodeImage(image: SignedImage): Uint8Array {
  return new Writer()
    .raw(new TextEncoder().encode(MAGIC)).u8(FORMAT).string(image.keyId).varint(image.size).raw(image.sha256).raw(image.signature)
    .raw(image.wasm).done();
}

/**
 * Reads the structure of an image file: ImageError "format" for wrong magic, format or
 * bytes past the stated size, "truncated" when it ends early. Checks no signature and no
 * hash: that is the card's job (verifyManifest, then the SHA-256 of what it wrote).
 */
export function parseImage(bytes: Uint8Array): SignedImage | ImageError {
  const r = new Reader(bytes);
  try {
    if (new TextDecoder().decode(r.raw(4)) !== MAGIC) {
      const wasm = bytes[0] === 0 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d;
      return new ImageError(wasm ? "unsigned" : "format", wasm ? "a bare WASM module, not a signed image (sign it with: fibcast sign)" : "not a fibcast firmware image (no FCFW magic)");
    }
    const format = r.u8();
    if (format !== FORMAT) return new ImageError("format", `image format ${format}; this build reads format ${FORMAT}`);
    const keyId = r.string();
    const size = r.varint();
    const digest = r.raw(32);
    const signature = r.raw(SIGNATURE_BYTES);
    if (r.left < size) return new ImageError("truncated", `image holds ${r.left} of the ${size} bytes its manifest states`);
    if (r.left > size) return new ImageError("format", `${r.left - size} bytes past the ${size} the manifest states`);
    return { keyId, size, sha256: digest, signature, wasm: r.raw(size) };
  } catch (e) {
    if (e instanceof ShortRead) return new ImageError("truncated", "image ends inside its manifest");
    return new ImageError("format", `unreadable manifest: ${(e as Error).message}`);
  }
}

/**
 * Checks a manifest against the keys a card trusts: "unsigned" (zero signature),
 * "wrong-key" (the key id is not trusted), "signature" (does not verify). Undefined: good.
 */
export function verifyManifest(m: Manifest, trusted: ReadonlyMap<string, KeyObject>): ImageError | undefined {
  if (m.signature.length !== SIGNATURE_BYTES || m.signature.every((b) => b === 0)) return new ImageError("unsigned", "the image is not signed");
  const key = trusted.get(m.keyId);
  if (!key) {
    const known = [...trusted.keys()].join(", ") || "none";
    return new ImageError("wrong-key", `signed by ${m.keyId}; this card trusts ${known}`);
  }
  if (!verify(null, signedBytes(m), key, m.signature)) {
    return new ImageError("signature", `the signature by ${m.keyId} does not verify: the manifest was changed after signing`);
  }
  return undefined;
}

/** A new build key: the private PEM to keep and sign with, the public PEM for cards to trust. */
export function generateBuildKey(): { privatePem: string; publicPem: string; id: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return {
    privatePem: privateKey.export({ format: "pem", type: "pkcs8" }) as string,
    publicPem: publicKey.export({ format: "pem", type: "spki" }) as string,
    id: keyId(publicKey),
  };
}

/** Reads a build key (PKCS#8 PEM, Ed25519). Throws ImageError "key" naming the file. */
export function readBuildKey(file: string): BuildKey {
  try {
    const privateKey = createPrivateKey(readFileSync(file));
    if (privateKey.asymmetricKeyType !== "ed25519") throw new Error(`an ${privateKey.asymmetricKeyType} key, not Ed25519`);
    return { id: keyId(createPublicKey(privateKey)), privateKey };
  } catch (e) {
    throw new ImageError("key", `${file}: not a usable build key: ${(e as Error).message}`);
  }
}

/**
 * The keys a card trusts, by key id, from files of one or more public PEMs. Throws
 * ImageError "key" naming the file when one holds no Ed25519 public key.
 */
export function readTrustedKeys(files: readonly string[]): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      throw new ImageError("key", `${file}: ${(e as Error).message}`);
    }
    const pems = text.match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? [];
    if (pems.length === 0) throw new ImageError("key", `${file}: holds no public key (PEM)`);
    for (const pem of pems) {
      const key = createPublicKey(pem);
      if (key.asymmetricKeyType !== "ed25519") throw new ImageError("key", `${file}: an ${key.asymmetricKeyType} key, not Ed25519`);
      keys.set(keyId(key), key);
    }
  }
  return keys;
}
