/**
 * Noise's CipherState (spec rev 34 §5.1): a key and a 64-bit counter nonce.
 * Used during the handshake and, after `Split()`, for the vectors' transport
 * messages; rudp's packets use {@link PacketKey} instead, whose nonce is the
 * packet number so packets can arrive out of order.
 */
import { KEY_LEN, NONCE_LEN, type CryptoProvider } from './crypto-provider.js';

/** The largest nonce this implementation uses; Noise reserves 2^64-1, and a JS number is exact up to 2^53. */
const MAX_NONCE = Number.MAX_SAFE_INTEGER;

/** Noise's ChaChaPoly nonce: 32 zero bits, then `n` as 64-bit little-endian. */
export const noiseNonce = (n: number): Uint8Array => {
  const nonce = new Uint8Array(NONCE_LEN);
  const view = new DataView(nonce.buffer);
  view.setUint32(4, n >>> 0, true);
  view.setUint32(8, Math.floor(n / 2 ** 32), true);
  return nonce;
};

/** Noise CipherState. Holds no key until `initializeKey` is given one, and then passes data through. */
export class CipherState {
  private k: Uint8Array | undefined;
  private n = 0;

  constructor(
    private readonly crypto: CryptoProvider,
    key?: Uint8Array,
  ) {
    this.k = key;
  }

  /** Sets the key (or none) and resets the nonce. */
  initializeKey(key: Uint8Array | undefined): void {
    this.k = key?.slice(0, KEY_LEN);
    this.n = 0;
  }

  /** Whether a key is set. */
  hasKey(): boolean {
    return this.k !== undefined;
  }

  /** The next nonce (for tests and for `setNonce` users). */
  get nonce(): number {
    return this.n;
  }

  /** Sets the nonce (Noise's SetNonce, for out-of-order transports). */
  setNonce(n: number): void {
    this.n = n;
  }

  /** Encrypts `plaintext` with `ad`; `undefined` once the nonce space is spent (the session must end). */
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array | undefined {
    if (this.k === undefined) return plaintext;
    if (this.n >= MAX_NONCE) return undefined;
    const out = this.crypto.seal(this.k, noiseNonce(this.n), ad, plaintext);
    this.n++;
    return out;
  }

  /** Decrypts `ciphertext` with `ad`; `undefined` if it does not authenticate (the nonce then stays, as the spec says). */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array | undefined {
    if (this.k === undefined) return ciphertext;
    if (this.n >= MAX_NONCE) return undefined;
    const out = this.crypto.open(this.k, noiseNonce(this.n), ad, ciphertext);
    if (out !== undefined) this.n++;
    return out;
  }

  /** Noise's Rekey(): the new key is the first 32 bytes of ENCRYPT(k, 2^64-1, empty, zeros). */
  rekey(): void {
    if (this.k === undefined) return;
    const maxNonce = new Uint8Array(NONCE_LEN).fill(0xff, 4);
    this.k = this.crypto.seal(this.k, maxNonce, new Uint8Array(0), new Uint8Array(KEY_LEN)).slice(0, KEY_LEN);
  }
}
