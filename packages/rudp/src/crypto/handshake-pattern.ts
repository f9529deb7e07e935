/**
 * The Noise handshake patterns rudp offers (spec rev 34 §7.4–7.5), as data:
 * pre-message keys and the token list of each message.
 */

/** A token of a handshake message. */
export type Token = 'e' | 's' | 'ee' | 'es' | 'se' | 'ss';

/** A handshake pattern. Messages alternate, the initiator's first. */
export interface HandshakePattern {
  readonly name: PatternName;
  /** Public keys known beforehand: the initiator's, then the responder's (only `s` here). */
  readonly preInitiator: readonly 's'[];
  readonly preResponder: readonly 's'[];
  readonly messages: readonly (readonly Token[])[];
}

/** The names of the patterns below. */
export type PatternName = 'NK' | 'NX' | 'XX' | 'IK';

/**
 * NK: the client knows the server's static key and has none of its own; 1 round trip,
 * the first message is already encrypted to the server. NX: the server sends its static
 * key (encrypted) in the reply, for a client that must learn or check it. XX and IK:
 * both sides have static keys.
 */
export const PATTERNS: Readonly<Record<PatternName, HandshakePattern>> = {
  NK: { name: 'NK', preInitiator: [], preResponder: ['s'], messages: [['e', 'es'], ['e', 'ee']] },
  NX: { name: 'NX', preInitiator: [], preResponder: [], messages: [['e'], ['e', 'ee', 's', 'es']] },
  XX: { name: 'XX', preInitiator: [], preResponder: [], messages: [['e'], ['e', 'ee', 's', 'es'], ['s', 'se']] },
  IK: { name: 'IK', preInitiator: [], preResponder: ['s'], messages: [['e', 'es', 's', 'ss'], ['e', 'ee', 'se']] },
};

/** The full Noise protocol name of a pattern with rudp's one cipher suite. */
export const protocolName = (pattern: PatternName): string => `Noise_${pattern}_25519_ChaChaPoly_SHA256`;
