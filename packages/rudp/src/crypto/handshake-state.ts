/**
 * Noise's HandshakeState (spec rev 34 §5.3): runs one handshake pattern,
 * message by message. Errors are values; after any error the state is spent
 * (the symmetric state may have absorbed part of the message) and must be dropped.
 */
import { concatBytes } from './bytes.js';
import { DH_LEN, TAG_LEN, type CryptoProvider, type KeyPair } from './crypto-provider.js';
import { PATTERNS, protocolName, type PatternName, type Token } from './handshake-pattern.js';
import { SymmetricState, type SplitResult } from './symmetric-state.js';

/** Why a handshake step failed. */
export type HandshakeFailure =
  | 'out-of-turn' // writeMessage/readMessage called for the other side's message, or after the end
  | 'missing-key' // a key the pattern needs was not given
  | 'short-message' // the message ends before its keys
  | 'bad-key' // a peer key is malformed or of low order
  | 'decrypt-failed' // a static key or the payload does not authenticate
  | 'spent'; // an earlier step failed

/** The outcome of one step. `done` carries the transport keys once the last message is through. */
export type HandshakeStep =
  | { readonly ok: true; readonly bytes: Uint8Array; readonly done: SplitResult | undefined }
  | { readonly ok: false; readonly error: HandshakeFailure };

/** Settings of {@link HandshakeState}. */
export interface HandshakeOptions {
  readonly pattern: PatternName;
  readonly initiator: boolean;
  /** Bytes both sides must agree on (protocol version, connection ids…); a mismatch fails the handshake. */
  readonly prologue: Uint8Array;
  /** Our static key pair, if the pattern uses one. */
  readonly s?: KeyPair;
  /** Our ephemeral key pair: only tests pass one (the vectors fix it); normally generated. */
  readonly e?: KeyPair;
  /** The peer's static public key when known beforehand (NK and IK initiators). */
  readonly rs?: Uint8Array;
}

const fail = (error: HandshakeFailure): HandshakeStep => ({ ok: false, error });

/** Noise HandshakeState. */
export class HandshakeState {
  private readonly ss: SymmetricState;
  private readonly messages: readonly (readonly Token[])[];
  private readonly initiator: boolean;
  private s: KeyPair | undefined;
  private e: KeyPair | undefined;
  private rs: Uint8Array | undefined;
  private re: Uint8Array | undefined;
  private index = 0;
  private broken = false;

  constructor(
    private readonly crypto: CryptoProvider,
    options: HandshakeOptions,
  ) {
    const pattern = PATTERNS[options.pattern];
    this.ss = new SymmetricState(crypto, protocolName(options.pattern));
    this.messages = pattern.messages;
    this.initiator = options.initiator;
    this.s = options.s;
    this.e = options.e;
    this.rs = options.rs;
    this.ss.mixHash(options.prologue);
    // Pre-messages: the initiator's keys first, then the responder's, each from whoever holds it.
    for (const _ of pattern.preInitiator) {
      const key = this.initiator ? this.s?.publicKey : this.rs;
      if (key === undefined) this.broken = true;
      else this.ss.mixHash(key);
    }
    for (const _ of pattern.preResponder) {
      const key = this.initiator ? this.rs : this.s?.publicKey;
      if (key === undefined) this.broken = true;
      else this.ss.mixHash(key);
    }
  }

  /** Whether the next message is ours to write. */
  isMyTurn(): boolean {
    return this.index < this.messages.length && this.index % 2 === (this.initiator ? 0 : 1);
  }

  /** Whether every message has been processed. */
  isComplete(): boolean {
    return this.index >= this.messages.length;
  }

  /** The peer's static public key, once the pattern has transmitted (or pre-shared) it. */
  remoteStaticKey(): Uint8Array | undefined {
    return this.rs;
  }

  /** The handshake hash so far. */
  handshakeHash(): Uint8Array {
    return this.ss.handshakeHash();
  }

  private mixDh(priv: KeyPair | undefined, pub: Uint8Array | undefined): HandshakeFailure | undefined {
    if (priv === undefined || pub === undefined) return 'missing-key';
    const shared = this.crypto.dh(priv.privateKey, pub);
    if (shared === undefined) return 'bad-key';
    this.ss.mixKey(shared);
    return undefined;
  }

  private dhToken(token: Exclude<Token, 'e' | 's'>): HandshakeFailure | undefined {
    switch (token) {
      case 'ee':
        return this.mixDh(this.e, this.re);
      case 'es':
        return this.initiator ? this.mixDh(this.e, this.rs) : this.mixDh(this.s, this.re);
      case 'se':
        return this.initiator ? this.mixDh(this.s, this.re) : this.mixDh(this.e, this.rs);
      case 'ss':
        return this.mixDh(this.s, this.rs);
    }
  }

  private finish(bytes: Uint8Array): HandshakeStep {
    this.index++;
    return { ok: true, bytes, done: this.isComplete() ? this.ss.split() : undefined };
  }

  /** WriteMessage(payload): the next message of ours, carrying `payload` (encrypted once a key exists). */
  writeMessage(payload: Uint8Array): HandshakeStep {
    if (this.broken) return fail('spent');
    if (!this.isMyTurn()) return fail('out-of-turn');
    const out: Uint8Array[] = [];
    const step = (): HandshakeFailure | undefined => {
      for (const token of this.messages[this.index] ?? []) {
        if (token === 'e') {
          this.e ??= this.crypto.generateKeyPair();
          out.push(this.e.publicKey);
          this.ss.mixHash(this.e.publicKey);
        } else if (token === 's') {
          if (this.s === undefined) return 'missing-key';
          const ct = this.ss.encryptAndHash(this.s.publicKey);
          if (ct === undefined) return 'spent';
          out.push(ct);
        } else {
          const failure = this.dhToken(token);
          if (failure !== undefined) return failure;
        }
      }
      const ct = this.ss.encryptAndHash(payload);
      if (ct === undefined) return 'spent';
      out.push(ct);
      return undefined;
    };
    const failure = step();
    if (failure !== undefined) {
      this.broken = true;
      return fail(failure);
    }
    return this.finish(concatBytes(...out));
  }

  /** ReadMessage(message): processes the peer's next message and returns its payload. */
  readMessage(message: Uint8Array): HandshakeStep {
    if (this.broken) return fail('spent');
    if (this.isMyTurn() || this.isComplete()) return fail('out-of-turn');
    let at = 0;
    const take = (n: number): Uint8Array | undefined => {
      if (at + n > message.length) return undefined;
      const part = message.subarray(at, at + n);
      at += n;
      return part;
    };
    const step = (): HandshakeFailure | Uint8Array => {
      for (const token of this.messages[this.index] ?? []) {
        if (token === 'e') {
          const re = take(DH_LEN);
          if (re === undefined) return 'short-message';
          this.re = re.slice();
          this.ss.mixHash(this.re);
        } else if (token === 's') {
          const sealed = take(this.ss.hasKey() ? DH_LEN + TAG_LEN : DH_LEN);
          if (sealed === undefined) return 'short-message';
          const rs = this.ss.decryptAndHash(sealed);
          if (rs === undefined) return 'decrypt-failed';
          this.rs = rs.slice();
        } else {
          const failure = this.dhToken(token);
          if (failure !== undefined) return failure;
        }
      }
      const rest = message.subarray(at);
      if (this.ss.hasKey() && rest.length < TAG_LEN) return 'short-message';
      const payload = this.ss.decryptAndHash(rest);
      return payload ?? 'decrypt-failed';
    };
    const result = step();
    if (typeof result === 'string') {
      this.broken = true;
      return fail(result);
    }
    return this.finish(result.slice());
  }
}
