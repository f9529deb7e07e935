/**
 * Noise's SymmetricState (spec rev 34 §5.2): the chaining key `ck`, the
 * handshake hash `h` and the CipherState they key.
 */
import { CipherState } from './cipher-state.js';
import { concatBytes, utf8 } from './bytes.js';
import { HASH_LEN, type CryptoProvider } from './crypto-provider.js';
import { hkdfExpandLabel, hkdfExtract, noiseHkdf } from './hkdf.js';

/** What a completed handshake leaves: one transport key per direction, the handshake hash and an exporter secret. */
export interface SplitResult {
  /** Initiator → responder CipherState (Noise's first output). */
  readonly initiatorToResponder: CipherState;
  /** Responder → initiator CipherState. */
  readonly responderToInitiator: CipherState;
  /** The raw key of `initiatorToResponder`: rudp's first traffic secret in that direction. */
  readonly initiatorSecret: Uint8Array;
  /** The raw key of `responderToInitiator`. */
  readonly responderSecret: Uint8Array;
  /** The final handshake hash `h`: unique to this session, usable for channel binding (spec §11.2). */
  readonly handshakeHash: Uint8Array;
  /**
   * A secret for keying-material exporters, derived from the final `ck` and `h`
   * with a label Noise does not use, so it is independent of the transport keys.
   */
  readonly exporterSecret: Uint8Array;
}

/** Noise SymmetricState. */
export class SymmetricState {
  private ck: Uint8Array;
  private h: Uint8Array;
  private readonly cs: CipherState;

  /** InitializeSymmetric(protocolName). */
  constructor(
    private readonly crypto: CryptoProvider,
    protocolName: string,
  ) {
    const name = utf8(protocolName);
    if (name.length <= HASH_LEN) {
      this.h = new Uint8Array(HASH_LEN);
      this.h.set(name);
    } else {
      this.h = crypto.sha256(name);
    }
    this.ck = this.h;
    this.cs = new CipherState(crypto);
  }

  /** MixKey(ikm): feeds a DH result into the chaining key and rekeys the cipher. */
  mixKey(ikm: Uint8Array): void {
    const [ck, tempK] = noiseHkdf(this.crypto, this.ck, ikm, 2);
    this.ck = ck;
    this.cs.initializeKey(tempK);
  }

  /** MixHash(data): h = SHA-256(h || data). */
  mixHash(data: Uint8Array): void {
    this.h = this.crypto.sha256(this.h, data);
  }

  /** Whether a key has been mixed in yet. */
  hasKey(): boolean {
    return this.cs.hasKey();
  }

  /** The current handshake hash. */
  handshakeHash(): Uint8Array {
    return this.h;
  }

  /** EncryptAndHash(plaintext). `undefined` only if the nonce space is spent. */
  encryptAndHash(plaintext: Uint8Array): Uint8Array | undefined {
    const ct = this.cs.encryptWithAd(this.h, plaintext);
    if (ct !== undefined) this.mixHash(ct);
    return ct;
  }

  /** DecryptAndHash(ciphertext); `undefined` if it does not authenticate. */
  decryptAndHash(ciphertext: Uint8Array): Uint8Array | undefined {
    const pt = this.cs.decryptWithAd(this.h, ciphertext);
    if (pt !== undefined) this.mixHash(ciphertext);
    return pt;
  }

  /** Split(): the two transport CipherStates, plus the handshake hash and an exporter secret. */
  split(): SplitResult {
    const [k1, k2] = noiseHkdf(this.crypto, this.ck, new Uint8Array(0), 2);
    const exporterSecret = hkdfExpandLabel(this.crypto, hkdfExtract(this.crypto, this.h, this.ck), 'exporter master', new Uint8Array(0), HASH_LEN);
    return {
      initiatorToResponder: new CipherState(this.crypto, k1),
      responderToInitiator: new CipherState(this.crypto, k2),
      initiatorSecret: k1,
      responderSecret: k2,
      handshakeHash: concatBytes(this.h),
      exporterSecret,
    };
  }
}
