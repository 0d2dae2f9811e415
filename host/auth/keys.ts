// The keys of one registration. A proven client and its server agree on a key of their own
// (X25519 between fresh key shares, the challenge nonce as salt): the server wraps each
// channel key with it (AES-256-GCM), bound to the channel, the key epoch and the client, so
// a wrapped key opens for that client only and cannot be replayed for another channel or
// epoch. Fresh shares per registration: a key learned later opens no earlier session.

import { createCipheriv, createDecipheriv, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, type KeyObject } from "node:crypto";

/** A key that is not what it should be: wrong length, or a wrapped key that does not open. */
export class KeyError extends Error {
  override name = "KeyError";
}

const SHARE_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A fresh X25519 key pair: the private key, and the raw 32-byte public key to send. */
export function newKeyShare(): { privateKey: KeyObject; share: Uint8Array } {
  const { privateKey, publicKey } = generateKeyPairSync("x25519");
  const x = publicKey.export({ format: "jwk" }).x!;
  return { privateKey, share: new Uint8Array(Buffer.from(x, "base64url")) };
}

/**
 * The key both ends derive: X25519 of our private key and the peer's share, through
 * HKDF-SHA-256 with the challenge nonce as salt and the client's name in the info. Throws
 * KeyError for a share that is not 32 bytes (or not a point X25519 accepts).
 */
export function sessionKek(privateKey: KeyObject, peerShare: Uint8Array, nonce: Uint8Array, node: string): Uint8Array {
  if (peerShare.length !== SHARE_BYTES) throw new KeyError(`a key share is ${SHARE_BYTES} bytes, not ${peerShare.length}`);
  let shared: Buffer;
  try {
    const publicKey = createPublicKey({ key: { kty: "OKP", crv: "X25519", x: Buffer.from(peerShare).toString("base64url") }, format: "jwk" });
    shared = diffieHellman({ privateKey, publicKey });
  } catch (e) {
    throw new KeyError(`key share refused: ${(e as Error).message}`);
  }
  return new Uint8Array(hkdfSync("sha256", shared, nonce, `fibcast kek ${node}`, 32));
}

/** What a wrapped channel key is bound to: its channel, its epoch and the client it is for. */
export function channelAad(channel: number, epoch: number, node: string): Uint8Array {
  return new Uint8Array(Buffer.from(`fibcast channel ${channel} epoch ${epoch} for ${node}`));
}

/** AES-256-GCM: iv (12, random) ‖ ciphertext ‖ tag (16). */
export function wrapKey(kek: Uint8Array, key: Uint8Array, aad: Uint8Array): Uint8Array {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", kek, iv);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(key), cipher.final()]);
  return new Uint8Array(Buffer.concat([iv, body, cipher.getAuthTag()]));
}

/** The key inside, or KeyError if it does not open (another kek, another binding, a changed byte, too short). Never throws. */
export function unwrapKey(kek: Uint8Array, wrapped: Uint8Array, aad: Uint8Array): Uint8Array | KeyError {
  const refused = new KeyError("wrapped key does not open: wrong key or tampered");
  if (wrapped.length < IV_BYTES + TAG_BYTES || kek.length !== 32) return refused;
  try {
    const decipher = createDecipheriv("aes-256-gcm", kek, wrapped.subarray(0, IV_BYTES));
    decipher.setAAD(aad);
    decipher.setAuthTag(wrapped.subarray(wrapped.length - TAG_BYTES));
    return new Uint8Array(Buffer.concat([decipher.update(wrapped.subarray(IV_BYTES, wrapped.length - TAG_BYTES)), decipher.final()]));
  } catch {
    return refused;
  }
}
