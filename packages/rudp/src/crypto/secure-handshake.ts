/**
 * rudp's handshake on top of Noise, as the two messages the core carries in
 * its handshake packets (after the stateless cookie check):
 *
 *   ClientHello = pattern id (1) | [NK: server key id (8)] | Noise message 1
 *   ServerHello = Noise message 2
 *   WrongKey    = the server's public key (32), in reply to an NK hello pinned to another key
 *
 * NK when the client has pinned the server's key (its first message is already
 * encrypted to the server, and only that server can answer); NX when it has not
 * (first contact: the server sends its key, encrypted and proven by `es`, and the
 * client decides whether to trust it). Both are one round trip and give forward
 * secrecy through the ephemeral `ee`.
 *
 * The key id in an NK hello lets a server whose key changed say so, instead of
 * staying silent: its WrongKey answer is unauthenticated, so the client only
 * ever uses it to refuse, with a clear message (an on-path attacker can make a
 * client refuse anyway, by dropping packets).
 */
import { concatBytes, equalBytes } from './bytes.js';
import { DH_LEN, type CryptoProvider, type KeyPair } from './crypto-provider.js';
import type { PatternName } from './handshake-pattern.js';
import { HandshakeState, type HandshakeFailure } from './handshake-state.js';
import type { PacketProtectionOptions } from './packet-protection.js';
import { sessionKeys, type SessionKeys } from './session-keys.js';

/** Pattern ids on the wire. */
const PATTERN_ID: Readonly<Record<'NK' | 'NX', number>> = { NK: 1, NX: 2 };
const KEY_ID_LEN = 8;
/** Most payload bytes a hello may carry (keeps a hello inside one 1200-byte datagram). */
export const MAX_HELLO_PAYLOAD = 1024;

/** The 8-byte id of a public key carried in NK hellos: the start of its SHA-256. */
export const keyId = (crypto: CryptoProvider, publicKey: Uint8Array): Uint8Array => crypto.sha256(publicKey).subarray(0, KEY_ID_LEN);

/** A client handshake in flight: send `hello`, then pass the answer to `finish`. */
export interface ClientHandshake {
  readonly hello: Uint8Array;
  /** Processes the server's answer (a ServerHello, or a WrongKey). */
  finish(answer: Uint8Array, wrongKey?: boolean): ClientHandshakeResult;
}

/** The outcome of a client handshake. */
export type ClientHandshakeResult =
  | { readonly ok: true; readonly keys: SessionKeys; readonly serverKey: Uint8Array; readonly payload: Uint8Array }
  | { readonly ok: false; readonly error: 'server-key-mismatch'; readonly expected: Uint8Array; readonly offered: Uint8Array }
  | { readonly ok: false; readonly error: HandshakeFailure | 'malformed' };

/** Settings of {@link startClientHandshake}. */
export interface ClientHandshakeOptions {
  /** The server's pinned public key; without it the client learns the key from the answer (NX). */
  readonly serverKey?: Uint8Array;
  /** Bytes both sides must agree on: protocol version, connection ids, cookie… */
  readonly prologue: Uint8Array;
  /** Carried in the hello: encrypted under NK, in clear under NX (so never anything secret). */
  readonly payload?: Uint8Array;
  readonly protection?: Omit<PacketProtectionOptions, 'sendSecret' | 'receiveSecret'>;
  /** Test vectors only. */
  readonly ephemeral?: KeyPair;
}

/** Starts a client handshake. */
export const startClientHandshake = (crypto: CryptoProvider, options: ClientHandshakeOptions): ClientHandshake => {
  const pattern: PatternName = options.serverKey === undefined ? 'NX' : 'NK';
  const state = new HandshakeState(crypto, { pattern, initiator: true, prologue: options.prologue, rs: options.serverKey, e: options.ephemeral });
  const first = state.writeMessage(options.payload ?? new Uint8Array(0));
  // Writing the first message fails only without a key this code always passes.
  if (!first.ok) throw new Error(`handshake: cannot write the first message (${first.error})`);
  const head = options.serverKey === undefined ? Uint8Array.of(PATTERN_ID.NX) : concatBytes(Uint8Array.of(PATTERN_ID.NK), keyId(crypto, options.serverKey));
  return {
    hello: concatBytes(head, first.bytes),
    finish: (answer, wrongKey = false) => {
      if (wrongKey) {
        if (options.serverKey === undefined || answer.length !== DH_LEN) return { ok: false, error: 'malformed' };
        return { ok: false, error: 'server-key-mismatch', expected: options.serverKey, offered: answer.slice() };
      }
      const read = state.readMessage(answer);
      if (!read.ok) return read;
      const serverKey = state.remoteStaticKey();
      if (read.done === undefined || serverKey === undefined) return { ok: false, error: 'malformed' };
      return { ok: true, keys: sessionKeys(crypto, read.done, true, options.protection), serverKey, payload: read.bytes };
    },
  };
};

/** The outcome of a server handshake step. */
export type ServerHandshakeResult =
  | { readonly kind: 'accepted'; readonly serverHello: Uint8Array; readonly keys: SessionKeys; readonly payload: Uint8Array }
  /** An NK hello pinned to another key: answer with `wrongKey` (our public key), keep no state. */
  | { readonly kind: 'wrong-key'; readonly wrongKey: Uint8Array }
  /** Drop the datagram, count it, do not answer. */
  | { readonly kind: 'rejected'; readonly error: HandshakeFailure | 'malformed' };

/** Settings of {@link answerClientHello}. */
export interface ServerHandshakeOptions {
  readonly identity: KeyPair;
  readonly prologue: Uint8Array;
  /** Carried in the ServerHello, encrypted. */
  readonly payload?: Uint8Array;
  readonly protection?: Omit<PacketProtectionOptions, 'sendSecret' | 'receiveSecret'>;
  /** Test vectors only. */
  readonly ephemeral?: KeyPair;
}

/**
 * Answers a ClientHello in one call, so the server holds no handshake state
 * between datagrams: call it only once the client has proven its address
 * (the cookie), then create the connection from `keys`.
 */
export const answerClientHello = (crypto: CryptoProvider, hello: Uint8Array, options: ServerHandshakeOptions): ServerHandshakeResult => {
  const id = hello[0];
  let pattern: PatternName;
  let at = 1;
  if (id === PATTERN_ID.NK) {
    pattern = 'NK';
    if (hello.length < 1 + KEY_ID_LEN + DH_LEN) return { kind: 'rejected', error: 'malformed' };
    if (!equalBytes(hello.subarray(1, 1 + KEY_ID_LEN), keyId(crypto, options.identity.publicKey))) return { kind: 'wrong-key', wrongKey: options.identity.publicKey };
    at += KEY_ID_LEN;
  } else if (id === PATTERN_ID.NX) {
    pattern = 'NX';
  } else {
    return { kind: 'rejected', error: 'malformed' };
  }
  const state = new HandshakeState(crypto, { pattern, initiator: false, prologue: options.prologue, s: options.identity, e: options.ephemeral });
  const read = state.readMessage(hello.subarray(at));
  if (!read.ok) return { kind: 'rejected', error: read.error };
  if (read.bytes.length > MAX_HELLO_PAYLOAD) return { kind: 'rejected', error: 'malformed' };
  const written = state.writeMessage(options.payload ?? new Uint8Array(0));
  if (!written.ok || written.done === undefined) return { kind: 'rejected', error: written.ok ? 'malformed' : written.error };
  return { kind: 'accepted', serverHello: written.bytes, keys: sessionKeys(crypto, written.done, false, options.protection), payload: read.bytes };
};
