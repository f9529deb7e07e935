/**
 * The {@link CryptoProvider} of the Node adapter, from `node:crypto`
 * (OpenSSL): X25519, ChaCha20-Poly1305, SHA-256, HMAC-SHA256.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { isAllZero } from '../crypto/bytes.js';
import { DH_LEN, KEY_LEN, NONCE_LEN, TAG_LEN, type CryptoProvider, type KeyPair } from '../crypto/crypto-provider.js';

// DER wrappers of raw X25519 keys (RFC 8410): node:crypto takes keys as KeyObjects built from DER.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

const privateKeyObject = (raw: Uint8Array): KeyObject | undefined => {
  if (raw.length !== DH_LEN) return undefined;
  try {
    return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
  } catch {
    return undefined;
  }
};

const publicKeyObject = (raw: Uint8Array): KeyObject | undefined => {
  if (raw.length !== DH_LEN) return undefined;
  try {
    return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
  } catch {
    return undefined;
  }
};

const rawPublic = (key: KeyObject): Uint8Array => new Uint8Array(key.export({ format: 'der', type: 'spki' }).subarray(SPKI_PREFIX.length));
const rawPrivate = (key: KeyObject): Uint8Array => new Uint8Array(key.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_PREFIX.length));

const validAead = (key: Uint8Array, nonce: Uint8Array): boolean => key.length === KEY_LEN && nonce.length === NONCE_LEN;

/** The `node:crypto` implementation of {@link CryptoProvider}. */
export const nodeCryptoProvider: CryptoProvider = {
  generateKeyPair(): KeyPair {
    const { publicKey, privateKey } = generateKeyPairSync('x25519');
    return { publicKey: rawPublic(publicKey), privateKey: rawPrivate(privateKey) };
  },

  keyPairFromPrivateKey(privateKey: Uint8Array): KeyPair | undefined {
    const key = privateKeyObject(privateKey);
    if (key === undefined) return undefined;
    return { publicKey: rawPublic(createPublicKey(key)), privateKey: new Uint8Array(privateKey) };
  },

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

  seal(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    if (!validAead(key, nonce)) throw new RangeError('ChaCha20-Poly1305 needs a 32-byte key and a 12-byte nonce');
    const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_LEN });
    cipher.setAAD(ad, { plaintextLength: plaintext.length });
    const head = cipher.update(plaintext);
    const tail = cipher.final();
    const out = new Uint8Array(head.length + tail.length + TAG_LEN);
    out.set(head, 0);
    out.set(tail, head.length);
    out.set(cipher.getAuthTag(), head.length + tail.length);
    return out;
  },

  open(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array | undefined {
    if (!validAead(key, nonce) || ciphertext.length < TAG_LEN) return undefined;
    const body = ciphertext.subarray(0, ciphertext.length - TAG_LEN);
    try {
      const decipher = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_LEN });
      decipher.setAuthTag(ciphertext.subarray(ciphertext.length - TAG_LEN));
      decipher.setAAD(ad, { plaintextLength: body.length });
      const head = decipher.update(body);
      const tail = decipher.final();
      if (tail.length === 0) return new Uint8Array(head.buffer, head.byteOffset, head.length);
      return new Uint8Array(Buffer.concat([head, tail]));
    } catch {
      return undefined;
    }
  },

  sha256(...parts: readonly Uint8Array[]): Uint8Array {
    const h = createHash('sha256');
    for (const p of parts) h.update(p);
    return new Uint8Array(h.digest());
  },

  hmacSha256(key: Uint8Array, ...parts: readonly Uint8Array[]): Uint8Array {
    const h = createHmac('sha256', key);
    for (const p of parts) h.update(p);
    return new Uint8Array(h.digest());
  },

  randomBytes(n: number): Uint8Array {
    return new Uint8Array(randomBytes(n));
  },
};
