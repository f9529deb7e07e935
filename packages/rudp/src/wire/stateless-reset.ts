/**
 * The stateless reset (RFC 9000 §10.3): what a server sends for a packet of
 * a connection it does not know (it restarted, or lost the connection), so
 * that the client learns at once that the connection is gone instead of
 * waiting for a timeout. It is built to pass for a protected packet:
 *
 * | bytes | field |
 * |---|---|
 * | 1 | version and a protected type (key phase random), a two-byte packet number |
 * | n − 17 | random: where a packet has its connection id, packet number and ciphertext |
 * | 16 | the reset token of the connection id the trigger named (crypto/reset-token.ts) |
 *
 * The sender cannot know the client's connection id (it forgot the
 * connection), so the id field is random; the client finds the connection
 * by the token. Every reset is smaller than the datagram that asked for it
 * and at least `MIN_RESET_BYTES`, and nothing smaller than
 * `MIN_RESET_TRIGGER` is answered: two endpoints cannot answer each other's
 * resets for ever, and a reset is never an amplifier.
 */
import { PROTOCOL_VERSION, PacketType } from './packet.js';

/** Bytes of a stateless reset token. */
export const RESET_TOKEN_BYTES = 16;
/**
 * The smallest reset: a two-byte-numbered header's 7 bytes and the token (a protected packet's
 * header and tag, with nothing between). So a reset parses as a protected packet.
 */
export const MIN_RESET_BYTES = 7 + RESET_TOKEN_BYTES;
/** The smallest datagram a reset answers: one byte more than the smallest reset, so the answer is always smaller. */
export const MIN_RESET_TRIGGER = MIN_RESET_BYTES + 1;
/** The largest reset sent: about the size of the small packets (acknowledgements, PINGs) an idle connection sends. */
export const MAX_RESET_BYTES = 48;

/**
 * A reset carrying `token` (16 bytes), in answer to a datagram of `triggerSize` bytes, at least
 * `MIN_RESET_TRIGGER` (the caller checks, before it computes the token): a random size between
 * `MIN_RESET_BYTES` and `MAX_RESET_BYTES`, always smaller than the trigger, random bytes then the token.
 */
export function encodeStatelessReset(token: Uint8Array, triggerSize: number, random: () => number): Uint8Array {
  if (triggerSize < MIN_RESET_TRIGGER || token.length !== RESET_TOKEN_BYTES) throw new RangeError(`rudp: no stateless reset answers ${triggerSize} bytes, or carries a ${token.length}-byte token`);
  const largest = Math.min(triggerSize - 1, MAX_RESET_BYTES);
  const size = MIN_RESET_BYTES + ((random() >>> 0) % (largest - MIN_RESET_BYTES + 1));
  const out = new Uint8Array(size);
  const end = size - RESET_TOKEN_BYTES;
  for (let i = 1; i < end; i += 4) {
    const r = random() >>> 0;
    for (let k = 0; k < 4 && i + k < end; k++) out[i + k] = (r >>> (8 * k)) & 0xff;
  }
  // Byte 0 as an ordinary protected packet's: our version, a two-byte packet number (a four-byte one would
  // not fit the smallest reset), either key phase.
  out[0] = (PROTOCOL_VERSION << 4) | (random() & 1 ? PacketType.Protected1 : PacketType.Protected0);
  out.set(token, end);
  return out;
}
