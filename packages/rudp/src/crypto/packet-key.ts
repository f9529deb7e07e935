/**
 * One direction's packet key at one key phase: AEAD key plus IV, derived
 * from a traffic secret as QUIC does (RFC 9001 §5.1, §5.3). The nonce is the
 * IV XOR the packet number, so packets can be opened in any order and a
 * packet number is never used twice with one key.
 */
import { KEY_IV_LEN, KEY_LEN, NONCE_LEN, TAG_LEN, type AeadKey, type CryptoProvider, type PacketAead } from './crypto-provider.js';
import { hkdfExpandLabel, hkdfExpandLabelInto } from './hkdf.js';
import { placeIn, type KeyArena } from './key-arena.js';
import { PluginFault } from './plugin-fault.js';
import { isOwnProvider } from './guarded-provider.js';

const EMPTY = new Uint8Array(0);

/** The largest packet number a nonce can carry exactly (a JS number's integer range). */
export const MAX_PACKET_NUMBER = Number.MAX_SAFE_INTEGER;

/** One nonce buffer for every key: each seal or open uses it synchronously and keeps no reference. */
const NONCE = new Uint8Array(NONCE_LEN);

/**
 * What the provider's key threw in `method`, as the transport contains it (plugin-fault.ts); a key of one of
 * rudpx's own providers throws what it threw (a bug of rudpx's, not hidden: guarded-provider.ts).
 */
const keyFault = (crypto: CryptoProvider, method: string, e: unknown): unknown => (isOwnProvider(crypto) ? e : new PluginFault('crypto provider', method, e));

const validPn = (pn: number): boolean => Number.isInteger(pn) && pn >= 0 && pn <= MAX_PACKET_NUMBER;

/** Writes the nonce of `pn` into `out`: the 12-byte IV at `iv[at…]` with `pn` (big-endian, 64 bits) XORed into its last 8 bytes. */
const writeNonce = (iv: Uint8Array, at: number, pn: number, out: Uint8Array): Uint8Array => {
  const hi = Math.floor(pn / 2 ** 32);
  const lo = pn >>> 0;
  for (let i = 0; i < 4; i++) {
    const shift = 24 - 8 * i;
    out[i] = iv[at + i] ?? 0;
    out[4 + i] = (iv[at + 4 + i] ?? 0) ^ ((hi >>> shift) & 0xff);
    out[8 + i] = (iv[at + 8 + i] ?? 0) ^ ((lo >>> shift) & 0xff);
  }
  return out;
};

/** The per-packet nonce: `iv` with `pn` (big-endian, 64 bits) XORed into its last 8 bytes. */
export const packetNonce = (iv: Uint8Array, pn: number): Uint8Array => writeNonce(iv, 0, pn, new Uint8Array(NONCE_LEN));

/**
 * A packet key: seals and opens one direction's packets. Every connection
 * holds two or three, so it is small: a class, not closures, with its
 * secret, AEAD key and IV in one buffer (each typed array costs about 100
 * bytes of heap however short it is), at an offset of the key arena's view.
 */
export class PacketKey {
  /** The per-call AEAD key: made when first needed where {@link whole} serves the transport. */
  private aead: AeadKey | undefined;
  /** The provider's whole-datagram path, if it has one. */
  private readonly whole: PacketAead | undefined;
  private readonly crypto: CryptoProvider;
  /**
   * secret ‖ AEAD key ‖ IV at `material[at…]` (the view may be the whole key arena's: see {@link KeyArena}).
   * The IV as numbers would cost three heap numbers: its 32-bit words exceed V8's small integers.
   */
  private readonly material: Uint8Array;
  private readonly at: number;
  private readonly secretLength: number;

  /**
   * The packet key of a traffic secret: key = Expand-Label(secret, "key"), iv = Expand-Label(secret, "iv").
   * `arena`, if given, holds the secret, the AEAD key and the IV (see {@link KeyArena}).
   */
  constructor(crypto: CryptoProvider, secret: Uint8Array, arena?: KeyArena) {
    const { bytes: material, at } = placeIn(arena, packetKeyBytes(secret.length));
    material.set(secret, at);
    // Derived in place: a copy returned and set would be key bytes left for the collector.
    hkdfExpandLabelInto(crypto, secret, 'key', EMPTY, material, at + secret.length, KEY_LEN);
    hkdfExpandLabelInto(crypto, secret, 'iv', EMPTY, material, at + secret.length + KEY_LEN, NONCE_LEN);
    this.material = material;
    this.at = at;
    this.secretLength = secret.length;
    this.crypto = crypto;
    const keyAt = at + secret.length;
    this.whole = crypto.packetAead?.(material.subarray(keyAt, keyAt + KEY_IV_LEN));
    // One key object, not two, per packet key (each is heap a connection keeps): the per-call one only without the other.
    this.aead = this.whole === undefined ? crypto.aeadKey(material.subarray(keyAt, keyAt + KEY_LEN)) : undefined;
  }

  /** The per-call AEAD key (see {@link aead}). */
  private aeadKey(): AeadKey {
    const keyAt = this.at + this.secretLength;
    this.aead ??= this.crypto.aeadKey(this.material.subarray(keyAt, keyAt + KEY_LEN));
    return this.aead;
  }

  /** Whether {@link sealPacket} and {@link openPacket} take the provider's whole-datagram path (else they cut views and seal through the per-call key). */
  get wholePackets(): boolean {
    return this.whole !== undefined;
  }

  /** Overwrites the secret, key and IV with zeros, and the cipher library's copy: for a key that will never be used again. */
  wipe(): void {
    this.material.fill(0, this.at, this.at + packetKeyBytes(this.secretLength));
    try {
      this.aead?.dispose?.();
      this.whole?.dispose?.();
    } catch (e) {
      throw keyFault(this.crypto, 'dispose', e);
    }
  }

  /** The traffic secret: the next key phase is derived from it. */
  get secret(): Uint8Array {
    return this.material.subarray(this.at, this.at + this.secretLength);
  }

  /**
   * Seals `plaintext` with `header` as associated data into `out`
   * (`plaintext.length + TAG_LEN` bytes). `pn` must be 0…2^53-1 and never reused with this key.
   */
  sealInto(header: Uint8Array, pn: number, plaintext: Uint8Array, out: Uint8Array): void {
    if (!validPn(pn)) throw new RangeError(`packet number out of range: ${pn}`);
    const aead = this.aeadKey();
    const nonce = writeNonce(this.material, this.at + this.secretLength + KEY_LEN, pn, NONCE);
    try {
      aead.sealInto(nonce, header, plaintext, out);
    } catch (e) {
      throw keyFault(this.crypto, 'sealInto', e);
    }
  }

  /**
   * Opens `ciphertext` (body and tag) into `out` (`ciphertext.length - TAG_LEN` bytes); false if it does not
   * authenticate. Throws only a {@link PluginFault}, if an application's provider's key throws (it must not).
   */
  openInto(header: Uint8Array, pn: number, ciphertext: Uint8Array, out: Uint8Array): boolean {
    if (!validPn(pn)) return false;
    const aead = this.aeadKey();
    const nonce = writeNonce(this.material, this.at + this.secretLength + KEY_LEN, pn, NONCE);
    try {
      return aead.openInto(nonce, header, ciphertext, out);
    } catch (e) {
      throw keyFault(this.crypto, 'openInto', e);
    }
  }

  /**
   * Writes into `datagram` (exactly `end + TAG_LEN` bytes) the header `source[0, headerLength)`,
   * then `source[headerLength, end)` sealed with it as associated data: {@link sealInto} of a
   * whole datagram, in one call to the provider where it has {@link PacketAead}.
   */
  sealPacket(pn: number, source: Uint8Array, headerLength: number, end: number, datagram: Uint8Array): void {
    if (!validPn(pn)) throw new RangeError(`packet number out of range: ${pn}`);
    if (this.whole !== undefined) {
      try {
        this.whole.sealPacket(pn, source, headerLength, end, datagram);
      } catch (e) {
        throw keyFault(this.crypto, 'sealPacket', e);
      }
      return;
    }
    if (!(headerLength >= 0 && headerLength <= end && end <= source.length && datagram.length === end + TAG_LEN)) throw new RangeError('sealPacket: headerLength <= end <= source length, and a datagram of end + 16 bytes');
    const header = source.subarray(0, headerLength);
    datagram.set(header);
    this.sealInto(header, pn, source.subarray(headerLength, end), datagram.subarray(headerLength));
  }

  /**
   * Opens `datagram[headerLength, end)` in place with `datagram[0, headerLength)` as associated
   * data (the plaintext is `datagram[headerLength, end - TAG_LEN)`): {@link openInto} of a whole
   * datagram. False if it does not authenticate or the lengths do not fit. Throws only a {@link PluginFault},
   * if the provider's key throws.
   */
  openPacket(pn: number, datagram: Uint8Array, headerLength: number, end: number): boolean {
    if (!validPn(pn)) return false;
    if (this.whole !== undefined) {
      try {
        return this.whole.openPacket(pn, datagram, headerLength, end);
      } catch (e) {
        throw keyFault(this.crypto, 'openPacket', e);
      }
    }
    if (!(headerLength >= 0 && end <= datagram.length && end - headerLength >= TAG_LEN)) return false;
    return this.openInto(datagram.subarray(0, headerLength), pn, datagram.subarray(headerLength, end), datagram.subarray(headerLength, end - TAG_LEN));
  }

  /** {@link sealInto} into a new array. */
  seal(header: Uint8Array, pn: number, plaintext: Uint8Array): Uint8Array {
    const out = new Uint8Array(plaintext.length + TAG_LEN);
    this.sealInto(header, pn, plaintext, out);
    return out;
  }

  /** {@link openInto} into a new array; `undefined` if it does not authenticate. */
  open(header: Uint8Array, pn: number, ciphertext: Uint8Array): Uint8Array | undefined {
    if (ciphertext.length < TAG_LEN) return undefined;
    const out = new Uint8Array(ciphertext.length - TAG_LEN);
    return this.openInto(header, pn, ciphertext, out) ? out : undefined;
  }
}

/** The bytes a {@link PacketKey} of a `secretLength`-byte secret keeps (in its arena, if given one). */
export const packetKeyBytes = (secretLength: number): number => secretLength + KEY_LEN + NONCE_LEN;

/** The packet key of a traffic secret (see {@link PacketKey}), its bytes in `arena` if given (`secret` is copied: the caller's still). */
export const packetKeyFromSecret = (crypto: CryptoProvider, secret: Uint8Array, arena?: KeyArena): PacketKey => new PacketKey(crypto, secret, arena);

/** The traffic secret of the next key phase (RFC 9001 §6.1's "quic ku", here "rudp ku"): the caller's, to wipe once consumed. */
export const nextTrafficSecret = (crypto: CryptoProvider, secret: Uint8Array): Uint8Array => hkdfExpandLabel(crypto, secret, 'ku', EMPTY, secret.length);

/** The packet key of the key phase after `key`'s: {@link nextTrafficSecret}, whose bytes are wiped once the key holds its copy. */
export function nextPacketKey(crypto: CryptoProvider, key: PacketKey): PacketKey {
  const secret = nextTrafficSecret(crypto, key.secret);
  const next = new PacketKey(crypto, secret);
  secret.fill(0);
  return next;
}
