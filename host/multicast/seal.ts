// The sealed datagram: every multicast datagram is encrypted and authenticated with its
// channel's AES-256-GCM key, so a process on the group without the key learns nothing and
// cannot inject anything.
//
//   0         1                 5                 9                    21          n-16      n
//   ┌─────────┬─────────────────┬─────────────────┬────────────────────┬───────────┬─────────┐
//   │ version │ channel u32 BE  │ key epoch u32 BE│ nonce (12)         │ ciphertext│ tag (16)│
//   └─────────┴─────────────────┴─────────────────┴────────────────────┴───────────┴─────────┘
//    └──────────── associated data: authenticated, not encrypted ───┘
//
// The nonce is 4 random bytes per sealer and a 64-bit count of the datagrams it sealed.
// The count runs on across re-keys rather than starting over: a new key would make that
// safe, but a re-key that handed the same key again would then repeat nonces, which under
// GCM gives away the authentication key. Two sealers of one key (say a restart) differ in
// their random bytes. Inside is one frame (frame.ts).
//
// A receiver holds the key of the current epoch only: what was sealed under an older one
// is refused, so a client evicted by a re-key reads nothing that follows, and a replay
// from before the re-key does not open.

import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

const VERSION = 1;
const HEADER = 21;
const TAG = 16;
export const SEAL_OVERHEAD = HEADER + TAG;

/** Why a datagram is refused: its kind for counters and tests, the message for logs. */
export class SealError extends Error {
  override name = "SealError";
  constructor(readonly kind: "short" | "version" | "channel" | "old-epoch" | "unknown-epoch" | "tag", message: string) {
    super(message);
  }
}

export class Sealer {
  private key: Uint8Array | undefined;
  private keyEpoch = 0;
  private readonly salt = randomBytes(4);
  private count = 0n;

  /** Throws RangeError for a channel that is not a u32. */
  constructor(private readonly channel: number) {
    checkU32(channel, "channel");
  }

  /** The epoch of the key in use; 0 before the first. */
  get epoch(): number {
    return this.keyEpoch;
  }

  /** Seals with `key` from now on. Throws RangeError for a key not 32 bytes, or an epoch not a u32 after the current one. */
  rekey(epoch: number, key: Uint8Array): void {
    checkU32(epoch, "key epoch");
    if (key.length !== 32) throw new RangeError(`a channel key is 32 bytes, not ${key.length}`);
    if (this.key && epoch <= this.keyEpoch) throw new RangeError(`key epoch ${epoch} is not after ${this.keyEpoch}: receivers would refuse it`);
    this.key = key;
    this.keyEpoch = epoch;
  }

  /** The datagram carrying `plain`. Throws before the first key. */
  seal(plain: Uint8Array): Uint8Array {
    if (!this.key) throw new Error(`channel ${this.channel} has no key yet`);
    const out = Buffer.allocUnsafe(HEADER + plain.length + TAG);
    out[0] = VERSION;
    out.writeUInt32BE(this.channel, 1);
    out.writeUInt32BE(this.keyEpoch, 5);
    this.salt.copy(out, 9);
    out.writeBigUInt64BE(this.count++, 13);
    const cipher = createCipheriv("aes-256-gcm", this.key, out.subarray(9, HEADER));
    cipher.setAAD(out.subarray(0, HEADER));
    const n = cipher.update(plain).copy(out, HEADER);
    cipher.final();
    cipher.getAuthTag().copy(out, HEADER + n);
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  }
}

export class Opener {
  private key: Uint8Array | undefined;
  private keyEpoch = 0;

  /** Throws RangeError for a channel that is not a u32. */
  constructor(private readonly channel: number) {
    checkU32(channel, "channel");
  }

  /**
   * Opens epoch `epoch` only, from now on: older ones are refused. Unlike a sealer's, the
   * epoch is not required to go forward: the opener follows the key it is handed. Throws
   * RangeError for a key not 32 bytes or an epoch not a u32.
   */
  rekey(epoch: number, key: Uint8Array): void {
    checkU32(epoch, "key epoch");
    if (key.length !== 32) throw new RangeError(`a channel key is 32 bytes, not ${key.length}`);
    this.key = key;
    this.keyEpoch = epoch;
  }

  /**
   * What the datagram carries, or why it is refused, checked in this order: "short" (under
   * 37 bytes), "version", "channel", "unknown-epoch" (newer than the key held, or no key
   * yet), "old-epoch", "tag" (forged, corrupt, or sealed with another key). Never throws.
   */
  open(datagram: Uint8Array): Uint8Array | SealError {
    if (datagram.length < SEAL_OVERHEAD) return new SealError("short", `a sealed datagram of ${datagram.length} bytes`);
    const view = new DataView(datagram.buffer, datagram.byteOffset, datagram.length);
    if (datagram[0] !== VERSION) return new SealError("version", `seal version ${datagram[0]}`);
    const channel = view.getUint32(1);
    if (channel !== this.channel) return new SealError("channel", `channel ${channel}, not ${this.channel}`);
    const epoch = view.getUint32(5);
    if (!this.key || epoch > this.keyEpoch) return new SealError("unknown-epoch", `key epoch ${epoch}, newer than the key held (${this.keyEpoch})`);
    if (epoch < this.keyEpoch) return new SealError("old-epoch", `key epoch ${epoch}, before the current ${this.keyEpoch}`);
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.key, datagram.subarray(9, HEADER));
      decipher.setAAD(datagram.subarray(0, HEADER));
      decipher.setAuthTag(datagram.subarray(datagram.length - TAG));
      const head = decipher.update(datagram.subarray(HEADER, datagram.length - TAG));
      const tail = decipher.final();
      const plain = tail.length === 0 ? head : Buffer.concat([head, tail]);
      return new Uint8Array(plain.buffer, plain.byteOffset, plain.length);
    } catch {
      return new SealError("tag", `channel ${channel} epoch ${epoch}: the datagram does not authenticate (forged, corrupt or another key)`);
    }
  }
}

function checkU32(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`${what} ${v} is not a u32`);
}
