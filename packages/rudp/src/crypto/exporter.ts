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

/** The exporter of a session, from the handshake's `exporterSecret`. */
export const createExporter = (crypto: CryptoProvider, exporterSecret: Uint8Array): KeyingMaterialExporter => new Exporter(crypto, exporterSecret);

/** A class rather than a closure: every connection holds one. */
class Exporter implements KeyingMaterialExporter {
  constructor(
    private readonly crypto: CryptoProvider,
    private readonly exporterSecret: Uint8Array,
  ) {}

  exportKeyingMaterial(label: string, context: Uint8Array, length: number): Uint8Array {
    if (!Number.isInteger(length) || length < 1 || length > MAX_EXPAND_LEN) throw new RangeError(`exported length must be 1…${MAX_EXPAND_LEN}, not ${length}`);
    if (utf8(label).length > 249) throw new RangeError('exporter label longer than 249 bytes');
    // TLS 1.3: a per-label secret, then expand with the hash of the context (so any context length works).
    const perLabel = hkdfExpandLabel(this.crypto, this.exporterSecret, label, this.crypto.sha256(), HASH_LEN);
    const info = new Uint8Array([...utf8('rudp exporter'), 0, ...this.crypto.sha256(context)]);
    return hkdfExpand(this.crypto, perLabel, info, length);
  }
}
