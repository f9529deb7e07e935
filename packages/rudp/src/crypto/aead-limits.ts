/**
 * How much one AEAD key may be used (RFC 9001 §6.6, from the AEBounds
 * analysis), and the point rudp updates keys well before that.
 */

/** Usage limits of one packet key. */
export interface AeadLimits {
  /** Packets sealed with one key before a key update is started (the confidentiality limit, with margin). */
  readonly updateAfterPackets: number;
  /**
   * Packets sealed with one key that must never be exceeded: past it, seal refuses. `CLOSE_RESERVE` packets
   * before it the core updates the keys, or closes the connection (code `PROTOCOL_VIOLATION`) when no update
   * may start, sealing its CLOSE within them.
   */
  readonly confidentialityLimit: number;
  /** Packets that failed authentication, over all keys of the connection, before it must close (integrity limit). */
  readonly integrityLimit: number;
}

/**
 * ChaCha20-Poly1305: RFC 9001 §6.6 gives no practical confidentiality limit
 * (beyond 2^62 packets) and an integrity limit of 2^36 forgeries. Keys are
 * still updated every 2^23 packets, AES-GCM's confidentiality limit, so
 * switching the suite needs no new figures and an update path is exercised
 * on long connections, not only in tests.
 */
export const CHACHA20_POLY1305_LIMITS: AeadLimits = {
  updateAfterPackets: 2 ** 23,
  confidentialityLimit: 2 ** 52,
  integrityLimit: 2 ** 36,
};
