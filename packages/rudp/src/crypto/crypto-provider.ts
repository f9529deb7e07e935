/**
 * The cryptographic primitives rudp needs, behind one injected interface: the
 * sans-IO core and this folder never import `node:*`, so the Node adapter
 * supplies them from `node:crypto` and a simulator or another runtime can
 * supply its own.
 */

/** An X25519 key pair, raw 32-byte keys (RFC 7748 encoding). */
export interface KeyPair {
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
}

/** Length of X25519 keys and of their shared secret. */
export const DH_LEN = 32;
/** Length of the AEAD key (ChaCha20-Poly1305). */
export const KEY_LEN = 32;
/** Length of the AEAD nonce. */
export const NONCE_LEN = 12;
/** Length of the AEAD tag (Poly1305). */
export const TAG_LEN = 16;
/** Length of a SHA-256 digest. */
export const HASH_LEN = 32;

/**
 * One ChaCha20-Poly1305 key made ready for many packets: the per-packet path
 * of packet protection. It writes into buffers the caller owns, so sealing a
 * datagram copies nothing, and a provider may keep the key in whatever form
 * its library sets up once (libsodium takes raw bytes; OpenSSL a context).
 */
export interface AeadKey {
  /** Seals `plaintext` into `out` (exactly `plaintext.length + TAG_LEN` bytes): ciphertext, then tag. `out` must not overlap `plaintext`. */
  sealInto(nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array, out: Uint8Array): void;
  /**
   * Opens `ciphertext` (body and tag) into `out` (exactly `ciphertext.length - TAG_LEN` bytes); false,
   * never a throw, if it does not verify. `out` may be the first bytes of `ciphertext` itself (in
   * place); after a failure its bytes are unspecified (libsodium clears them).
   */
  openInto(nonce: Uint8Array, ad: Uint8Array, ciphertext: Uint8Array, out: Uint8Array): boolean;
  /**
   * Wipes whatever copy of the key the library made (OpenSSL's expanded key lives outside the
   * caller's bytes): the key is never used again. Absent where the library keeps no copy.
   */
  dispose?(): void;
}

/** Length of a packet key's AEAD key followed by its IV (RFC 9001 §5.1), as {@link CryptoProvider.packetAead} takes them. */
export const KEY_IV_LEN = KEY_LEN + NONCE_LEN;

/**
 * A packet key whose library makes each packet's nonce itself (the IV with
 * the packet number, big-endian, XORed into its last 8 bytes: RFC 9001
 * §5.3) and seals or opens a whole datagram in one call: the same bytes as
 * {@link AeadKey} with that nonce, in fewer arguments and no views per
 * packet. The transport's per-packet path where the provider offers one.
 */
export interface PacketAead {
  /**
   * Writes into `datagram` (exactly `end + TAG_LEN` bytes) the header `source[0, headerLength)`,
   * then `source[headerLength, end)` sealed with that header as associated data. `pn` must be
   * 0…2^53-1 and never reused with this key; `source` and `datagram` must not overlap.
   */
  sealPacket(pn: number, source: Uint8Array, headerLength: number, end: number, datagram: Uint8Array): void;
  /**
   * Opens `datagram[headerLength, end)` (ciphertext and tag) in place, with `datagram[0,
   * headerLength)` as associated data: the plaintext is `datagram[headerLength, end - TAG_LEN)`.
   * False, never a throw, if it does not verify or the lengths do not fit; those bytes are then unspecified.
   */
  openPacket(pn: number, datagram: Uint8Array, headerLength: number, end: number): boolean;
  /** As {@link AeadKey.dispose}. */
  dispose?(): void;
}

/**
 * X25519, ChaCha20-Poly1305 (RFC 8439), SHA-256, HMAC-SHA256 and a CSPRNG.
 * No method throws on bad input from the network: failures are `undefined`.
 */
export interface CryptoProvider {
  /** A fresh random key pair. */
  generateKeyPair(): KeyPair;
  /** The key pair of a raw 32-byte private key (to load a stored identity or a test vector); `undefined` if malformed. */
  keyPairFromPrivateKey(privateKey: Uint8Array): KeyPair | undefined;
  /**
   * X25519(privateKey, publicKey). `undefined` when the peer's key is malformed
   * or of low order (an all-zero shared secret), so a peer cannot force a known secret.
   */
  dh(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | undefined;
  /** ChaCha20-Poly1305 encryption: ciphertext followed by the 16-byte tag. */
  seal(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /** ChaCha20-Poly1305 decryption; `undefined` if the tag does not verify or the input is too short. */
  open(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array | undefined;
  /**
   * `key` (32 bytes) prepared for {@link AeadKey.sealInto} / {@link AeadKey.openInto}: the same
   * cipher as `seal`/`open`, for the per-packet path. The key is kept as given, not copied (a
   * connection holds several, and every typed array costs heap): the caller must not change it.
   */
  aeadKey(key: Uint8Array): AeadKey;
  /**
   * Optional: `keyIv` (the AEAD key, then the IV: {@link KEY_IV_LEN} bytes) prepared for whole
   * datagrams ({@link PacketAead}); kept as given, not copied, as `aeadKey`'s. Without it the
   * transport seals through {@link aeadKey} with nonces it makes itself; where present the
   * transport uses it, not `aeadKey`, so a provider that replaces one replaces or drops both.
   * The default provider's is not enumerable: `{ ...defaultCryptoProvider, aeadKey }` drops it.
   */
  packetAead?(keyIv: Uint8Array): PacketAead;
  /** SHA-256 of the concatenation of `parts`. */
  sha256(...parts: readonly Uint8Array[]): Uint8Array;
  /** HMAC-SHA256 keyed with `key` over the concatenation of `parts`. */
  hmacSha256(key: Uint8Array, ...parts: readonly Uint8Array[]): Uint8Array;
  /** `n` bytes from a cryptographically secure generator. */
  randomBytes(n: number): Uint8Array;
}
