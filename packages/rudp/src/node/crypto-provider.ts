/**
 * The {@link CryptoProvider} of the Node adapter, from `node:crypto`
 * (OpenSSL): X25519, ChaCha20-Poly1305, SHA-256, HMAC-SHA256.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman, randomBytes, type KeyObject } from 'node:crypto';
import { isAllZero } from '../crypto/bytes.js';
import { ownProvider } from '../crypto/guarded-provider.js';
import { DH_LEN, KEY_LEN, NONCE_LEN, TAG_LEN, type AeadKey, type CryptoProvider, type KeyPair } from '../crypto/crypto-provider.js';
import { loadOpensslAead, OpensslAeadKey, OpensslPacketAead, type OpensslAead } from './openssl-aead.js';
import { loadSodium, SodiumAeadKey } from './sodium-aead.js';
import { madeOnFirstUse } from './made-on-first-use.js';

// Raw X25519 keys reach node:crypto as KeyObjects through JWK (RFC 8037): 16–45 µs a key. Through
// DER (RFC 8410), as before, OpenSSL 3's decoder search took 80 µs for a public and 500 µs for a
// private key: 0.6 ms per Diffie-Hellman, most of a handshake's CPU.
const base64url = (raw: Uint8Array): string => Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64url');

/** `make()`, or `undefined` if the key is malformed (node:crypto throws). */
const keyObject = (raw: Uint8Array, make: () => KeyObject): KeyObject | undefined => {
  if (raw.length !== DH_LEN) return undefined;
  try {
    return make();
  } catch {
    return undefined;
  }
};

// A private JWK must carry `x` as a string; node:crypto derives the public key from `d` itself.
const privateKeyObject = (raw: Uint8Array): KeyObject | undefined =>
  keyObject(raw, () => createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: base64url(raw), x: '' }, format: 'jwk' }));

const publicKeyObject = (raw: Uint8Array): KeyObject | undefined =>
  keyObject(raw, () => createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: base64url(raw) }, format: 'jwk' }));

/** The raw public key of an X25519 KeyObject (its JWK's `x`). */
const rawPublic = (key: KeyObject): Uint8Array => {
  const x = key.export({ format: 'jwk' }).x;
  if (typeof x !== 'string') throw new Error('node:crypto exported an X25519 key without "x"');
  return new Uint8Array(Buffer.from(x, 'base64url'));
};

/** The key pair of a raw X25519 private key; `undefined` if it is not one. */
const keyPairFromPrivateKey = (privateKey: Uint8Array): KeyPair | undefined => {
  const key = privateKeyObject(privateKey);
  if (key === undefined) return undefined;
  return { publicKey: rawPublic(createPublicKey(key)), privateKey: new Uint8Array(privateKey) };
};

/** ChaCha20-Poly1305 through `node:crypto`: a cipher object per call, which is most of its per-packet cost. */
class NodeAeadKey implements AeadKey {
  // Where the key's 32 bytes lie, not a view of them: a kept Uint8Array is 96 B of heap per key, two
  // per connection, while a view cut per call costs next to the cipher object node:crypto makes anyway.
  private readonly bytes: ArrayBufferLike;
  private readonly offset: number;

  constructor(key: Uint8Array) {
    if (key.length !== KEY_LEN) throw new RangeError('ChaCha20-Poly1305 needs a 32-byte key');
    this.bytes = key.buffer;
    this.offset = key.byteOffset;
  }

  /** A view of the key, for one call. */
  private get key(): Uint8Array {
    return new Uint8Array(this.bytes, this.offset, KEY_LEN);
  }

  sealInto(nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array, out: Uint8Array): void {
    if (nonce.length !== NONCE_LEN || out.length !== plaintext.length + TAG_LEN) throw new RangeError('ChaCha20-Poly1305: a 12-byte nonce and an output of plaintext + 16 bytes');
    const cipher = createCipheriv('chacha20-poly1305', this.key, nonce, { authTagLength: TAG_LEN });
    cipher.setAAD(ad, { plaintextLength: plaintext.length });
    const head = cipher.update(plaintext);
    out.set(head);
    out.set(cipher.final(), head.length);
    out.set(cipher.getAuthTag(), plaintext.length);
  }

  openInto(nonce: Uint8Array, ad: Uint8Array, ciphertext: Uint8Array, out: Uint8Array): boolean {
    const bodyLength = ciphertext.length - TAG_LEN;
    if (nonce.length !== NONCE_LEN || bodyLength < 0 || out.length !== bodyLength) return false;
    try {
      const decipher = createDecipheriv('chacha20-poly1305', this.key, nonce, { authTagLength: TAG_LEN });
      decipher.setAuthTag(ciphertext.subarray(bodyLength));
      decipher.setAAD(ad, { plaintextLength: bodyLength });
      const head = decipher.update(ciphertext.subarray(0, bodyLength));
      // final() throws when the tag does not verify: nothing of `head` may be used before it returns.
      const tail = decipher.final();
      out.set(head);
      out.set(tail, head.length);
      return true;
    } catch {
      return false;
    }
  }
}

/** A provider's ChaCha20-Poly1305 from its prepared keys: `seal`/`open` prepare one for the call (the handshake's rare use). */
const aeadOf = (prepare: (key: Uint8Array) => AeadKey): Pick<CryptoProvider, 'seal' | 'open' | 'aeadKey'> => ({
  seal(key, nonce, ad, plaintext) {
    const out = new Uint8Array(plaintext.length + TAG_LEN);
    prepare(key).sealInto(nonce, ad, plaintext, out);
    return out;
  },
  open(key, nonce, ad, ciphertext) {
    if (ciphertext.length < TAG_LEN || key.length !== KEY_LEN) return undefined;
    const out = new Uint8Array(ciphertext.length - TAG_LEN);
    return prepare(key).openInto(nonce, ad, ciphertext, out) ? out : undefined;
  },
  aeadKey: prepare,
});

/** The `node:crypto` implementation of {@link CryptoProvider}. */
export const nodeCryptoProvider: CryptoProvider = ownProvider({
  generateKeyPair(): KeyPair {
    // Any 32 random bytes are an X25519 private key (RFC 7748 clamps them where they are used). Not
    // generateKeyPairSync: Node 20 deadlocks when the garbage collector frees its finished job while one
    // of the job's keys is being exported (the job's destructor takes the mutex the export holds): a
    // process hung within a few thousand handshakes.
    const pair = keyPairFromPrivateKey(new Uint8Array(randomBytes(DH_LEN)));
    if (pair === undefined) throw new Error('node:crypto refused a random X25519 private key');
    return pair;
  },

  keyPairFromPrivateKey,

  dh(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | undefined {
    const priv = privateKeyObject(privateKey);
    const pub = publicKeyObject(publicKey);
    if (priv === undefined || pub === undefined) return undefined;
    let shared: Uint8Array;
    try {
      shared = new Uint8Array(diffieHellman({ privateKey: priv, publicKey: pub }));
    } catch {
      // OpenSSL refuses some low-order points itself.
      return undefined;
    }
    return isAllZero(shared) ? undefined : shared;
  },

  ...aeadOf((key) => new NodeAeadKey(key)),

  sha256(...parts: readonly Uint8Array[]): Uint8Array {
    const h = createHash('sha256');
    for (const p of parts) h.update(p);
    return new Uint8Array(h.digest());
  },

  hmacSha256(key: Uint8Array, ...parts: readonly Uint8Array[]): Uint8Array {
    const h = createHmac('sha256', key);
    for (const p of parts) h.update(p);
    const digest = h.digest();
    const out = new Uint8Array(digest);
    // The copy is the caller's (a plain array, not a Buffer); the digest it came from is ours.
    digest.fill(0);
    return out;
  },

  randomBytes(n: number): Uint8Array {
    return new Uint8Array(randomBytes(n));
  },
});

/** libsodium's packet AEAD, or `undefined` where sodium-native is not installed or does not load. */
const loadSodiumAead = (): Pick<CryptoProvider, 'seal' | 'open' | 'aeadKey'> | undefined => {
  const sodium = loadSodium();
  return sodium === undefined ? undefined : aeadOf((key) => new SodiumAeadKey(sodium, key));
};
// The addon must pass RFC 8439's known answer before it is trusted.
const openssl = loadOpensslAead();
const opensslAead = openssl === undefined ? undefined : aeadOf((key) => new OpensslAeadKey(openssl, key));
// sodium-native (~25 ms of a start) is loaded here only where it is the default, OpenSSL's addon missing;
// else at the first read of packetCipherProviders, which lists it beside the default.
const sodiumAeadAtStart = opensslAead === undefined ? loadSodiumAead() : undefined;

/**
 * `provider` with OpenSSL's whole-datagram path (CryptoProvider.packetAead) as a
 * non-enumerable property: where present the transport seals through it, not
 * `aeadKey`, so `{ ...defaultCryptoProvider, aeadKey: mine }` must not carry
 * it along (mine would never be called). A spread drops it; the copy then
 * seals through its `aeadKey`, OpenSSL's or the caller's.
 */
const withPacketAead = (provider: CryptoProvider, addon: OpensslAead): CryptoProvider =>
  Object.defineProperty(provider, 'packetAead', { value: (keyIv: Uint8Array) => new OpensslPacketAead(addon, keyIv), enumerable: false });

/** A library that seals and opens packets. */
export type PacketCipherLibrary = 'openssl' | 'libsodium' | 'node:crypto';

/** Which library seals and opens packets under {@link defaultCryptoProvider}. */
export const packetCipherLibrary: PacketCipherLibrary = opensslAead !== undefined ? 'openssl' : sodiumAeadAtStart !== undefined ? 'libsodium' : 'node:crypto';

// rudpx's own, as nodeCryptoProvider is: not guarded (crypto/guarded-provider.ts), a throw there is a bug of rudpx's.
const opensslProvider = opensslAead === undefined || openssl === undefined ? undefined : ownProvider(withPacketAead({ ...nodeCryptoProvider, ...opensslAead }, openssl));
const sodiumProviderOf = (sodiumAead: Pick<CryptoProvider, 'seal' | 'open' | 'aeadKey'> | undefined): CryptoProvider | undefined =>
  sodiumAead === undefined ? undefined : ownProvider({ ...nodeCryptoProvider, ...sodiumAead });
const sodiumProviderAtStart = sodiumProviderOf(sodiumAeadAtStart);

/**
 * The providers of every packet cipher library that loads here, fastest first
 * (the first is {@link defaultCryptoProvider}): for benchmarks and for tests
 * that check the libraries against each other. Made at its first read
 * (madeOnFirstUse), which loads sodium-native where OpenSSL's addon serves.
 */
export const packetCipherProviders: readonly (readonly [PacketCipherLibrary, CryptoProvider])[] = madeOnFirstUse(() => {
  const sodiumProvider = opensslProvider === undefined ? sodiumProviderAtStart : sodiumProviderOf(loadSodiumAead());
  return [
    ...(opensslProvider === undefined ? [] : [['openssl', opensslProvider] as const]),
    ...(sodiumProvider === undefined ? [] : [['libsodium', sodiumProvider] as const]),
    ['node:crypto', nodeCryptoProvider] as const,
  ];
});

/**
 * The provider `listen` and `connect` use unless given one: `node:crypto`
 * for the handshake, and for ChaCha20-Poly1305 per packet the fastest
 * library that loads: OpenSSL through rudp's optional addon (built with the
 * package where a C compiler is found), else libsodium (the optional
 * `sodium-native` dependency), else `node:crypto`. All are the same RFC 8439
 * cipher, so peers using any of them interoperate.
 */
export const defaultCryptoProvider: CryptoProvider = opensslProvider ?? sodiumProviderAtStart ?? nodeCryptoProvider;
