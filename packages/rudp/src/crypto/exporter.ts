/**
 * A keying-material exporter (as TLS 1.3's, RFC 8446 §7.5): an application
 * derives its own keys from a connection, bound to a label and a context, so
 * they are as fresh and as secret as the connection's own keys and distinct
 * for every (label, context).
 */
import { utf8 } from './bytes.js';
import { HASH_LEN, type CryptoProvider } from './crypto-provider.js';
import { hkdfExpand, hkdfExpandLabel, MAX_EXPAND_LEN } from './hkdf.js';

/** What an application needs from a secured connection to derive its own keys. */
export interface KeyingMaterialExporter {
  /**
   * `length` bytes (1…8160) bound to this session, `label` and `context`.
   * Both ends of one session get the same bytes; any other session, label or
   * context gives unrelated bytes. Throws `RangeError` on a bad length or a
   * label longer than 249 bytes (programming errors, not network input).
   */
  exportKeyingMaterial(label: string, context: Uint8Array, length: number): Uint8Array;
}

/**
 * The exporter of a session, from the handshake's `exporterSecret`: the
 * `length` bytes at `bytes[at…]` (default: all of `bytes`), so the secret can
 * live in the connection's key arena without a view of its own.
 */
export const createExporter = (crypto: CryptoProvider, bytes: Uint8Array, at = 0, length = bytes.length - at): KeyingMaterialExporter =>
  new Exporter(crypto, bytes, at, length);

/** A class rather than a closure: every connection holds one. */
class Exporter implements KeyingMaterialExporter {
  constructor(
    private readonly crypto: CryptoProvider,
    private readonly bytes: Uint8Array,
    private readonly at: number,
    private readonly length: number,
  ) {}

  exportKeyingMaterial(label: string, context: Uint8Array, length: number): Uint8Array {
    if (!Number.isInteger(length) || length < 1 || length > MAX_EXPAND_LEN) throw new RangeError(`exported length must be 1…${MAX_EXPAND_LEN}, not ${length}`);
    if (utf8(label).length > 249) throw new RangeError('exporter label longer than 249 bytes');
    // TLS 1.3: a per-label secret, then expand with the hash of the context (so any context length works).
    const secret = this.bytes.subarray(this.at, this.at + this.length);
    const perLabel = hkdfExpandLabel(this.crypto, secret, label, this.crypto.sha256(), HASH_LEN);
    const info = new Uint8Array([...utf8('rudp exporter'), 0, ...this.crypto.sha256(context)]);
    return hkdfExpand(this.crypto, perLabel, info, length);
  }
}
