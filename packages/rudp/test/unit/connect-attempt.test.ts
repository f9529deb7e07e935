/**
 * What an ACCEPT means to a client still connecting, on its own: refusals
 * (only after the cookie), the pinned-key mismatch, the downgrade, forged
 * server parameters, and the accepted connection's id, window and keys.
 */
import { describe, expect, it } from 'vitest';
import { type AcceptOutcome, ConnectAttempt } from '../../src/core/connect-attempt.js';
import { MIN_RECEIVE_WINDOW } from '../../src/core/credit.js';
import type { HandshakeParams } from '../../src/core/handshake.js';
import { encodeServerParams } from '../../src/core/security.js';
import type { ClientHandshake, ClientHandshakeResult, SessionKeys } from '../../src/crypto/index.js';
import { MAX_RECEIVE_WINDOW } from '../../src/wire/frame.js';
import { type AcceptPayload, AcceptKind, BusyReason } from '../../src/wire/packet.js';
import { UNAUTHENTICATED_REFUSAL } from '../../src/core/connect-attempt.js';

const PARAMS: HandshakeParams = { localCid: 0x1234, receiveWindow: 65_536, initialLimit: 65_536, mtu: 1_200, handshakeTimeoutMs: 5_000, copies: 1, copySpacingMs: 3 };
const REMOTE = '192.0.2.1:4000';
const KEYS = { protection: {}, exporter: {}, handshakeHash: new Uint8Array(32) } as unknown as SessionKeys;
const SERVER_KEY = new Uint8Array(32).fill(7);
/** A stateless reset token, as the server's sealed parameters carry one. */
const TOKEN = new Uint8Array(16).fill(9);

const accept = (kind: AcceptKind, handshake: Uint8Array = new Uint8Array(0), scid = 0x5678, receiveWindow = 32_768): AcceptPayload => ({ scid, params: { receiveWindow, initialLimit: receiveWindow }, kind, handshake });

/** A Noise state that answers every `finish` with `result`. */
const noise = (result: ClientHandshakeResult): ClientHandshake => ({ hello: new Uint8Array(48), finish: () => result });
const serverHello = (payload: Uint8Array): ClientHandshakeResult => ({ ok: true, keys: KEYS, serverKey: SERVER_KEY, payload });

/** An attempt that has the server's cookie (a RETRY came). */
function withCookie(attempt: ConnectAttempt): ConnectAttempt {
  attempt.timing.onRetry(10, Uint8Array.of(1, 2, 3));
  return attempt;
}

describe('connect attempt: plaintext', () => {
  it('a Busy refusal before the cookie is forged: dropped as malformed', () => {
    expect(new ConnectAttempt(PARAMS, 0, undefined).check(accept(AcceptKind.Busy, Uint8Array.of(BusyReason.ServerFull), 0), REMOTE)).toEqual({ kind: 'dropped', why: 'malformed' });
  });

  it('a Busy refusal after the cookie ends the attempt, naming the reason and the server', () => {
    const a = withCookie(new ConnectAttempt(PARAMS, 0, undefined));
    expect(a.check(accept(AcceptKind.Busy, Uint8Array.of(BusyReason.HostFull), 0), REMOTE)).toEqual({
      kind: 'refused',
      message: `the server at ${REMOTE} refused the connection: it has too many connections from this address${UNAUTHENTICATED_REFUSAL}`,
      mismatch: undefined,
    });
  });

  it("the server's 'requires encryption' refusal ends the attempt, saying so; its 'does not encrypt' one is not meant for a plaintext client", () => {
    const a = withCookie(new ConnectAttempt(PARAMS, 0, undefined));
    expect(a.check(accept(AcceptKind.Busy, Uint8Array.of(BusyReason.NoEncryption), 0), REMOTE)).toEqual({ kind: 'dropped', why: 'malformed' });
    expect(a.check(accept(AcceptKind.Busy, Uint8Array.of(BusyReason.EncryptionRequired), 0), REMOTE)).toEqual({
      kind: 'refused',
      message: `the server at ${REMOTE} refused the connection: the server requires encryption (this client has 'plaintext: true')${UNAUTHENTICATED_REFUSAL}`,
      mismatch: undefined,
    });
  });

  it('a plaintext ACCEPT gives the server id and window; any other kind is malformed', () => {
    const a = new ConnectAttempt(PARAMS, 0, undefined);
    expect(a.check(accept(AcceptKind.Plaintext), REMOTE)).toEqual({ kind: 'accepted', remoteCid: 0x5678, peerWindow: 32_768, peerLimit: 32_768, keys: undefined, serverKey: undefined, resetToken: undefined });
    expect(a.check(accept(AcceptKind.ServerHello), REMOTE)).toEqual({ kind: 'dropped', why: 'malformed' });
  });

  it('a window smaller than MIN_RECEIVE_WINDOW is malformed in clear (no message of a few hundred bytes would fit it); sealed, a protocol violation saying so', () => {
    const a = new ConnectAttempt(PARAMS, 0, undefined);
    expect(a.check(accept(AcceptKind.Plaintext, undefined, 0x5678, MIN_RECEIVE_WINDOW - 1), REMOTE)).toEqual({ kind: 'dropped', why: 'malformed' });
    expect(a.check(accept(AcceptKind.Plaintext, undefined, 0x5678, MIN_RECEIVE_WINDOW), REMOTE)).toMatchObject({ kind: 'accepted', peerWindow: MIN_RECEIVE_WINDOW });
    const sealed = new ConnectAttempt(PARAMS, 0, noise(serverHello(encodeServerParams({ resetToken: TOKEN, scid: 0x5678, receiveWindow: 200, initialLimit: 200 }))));
    // Authenticated, it is the server's own: the attempt ends at once, naming the cause (it was dropped, and the client timed out).
    expect(sealed.check(accept(AcceptKind.ServerHello, undefined, 0x5678, 200), REMOTE)).toEqual({
      kind: 'invalid',
      remoteCid: 0x5678,
      keys: KEYS,
      message: `protocol violation: the server at ${REMOTE} announced an invalid receive window: 200 bytes (a window is ${MIN_RECEIVE_WINDOW} bytes to 2^40)`,
    });
  });
  it('a window past MAX_RECEIVE_WINDOW (2^40, what a WINDOW frame may carry) is malformed in clear, a protocol violation sealed; 2^40 itself is taken', () => {
    const a = new ConnectAttempt(PARAMS, 0, undefined);
    const windowed = (receiveWindow: number): AcceptPayload => ({ ...accept(AcceptKind.Plaintext), params: { receiveWindow, initialLimit: 32_768 } });
    expect(a.check(windowed(MAX_RECEIVE_WINDOW + 1), REMOTE)).toEqual({ kind: 'dropped', why: 'malformed' });
    expect(a.check(windowed(2 ** 53 - 1), REMOTE)).toEqual({ kind: 'dropped', why: 'malformed' });
    expect(a.check(windowed(MAX_RECEIVE_WINDOW), REMOTE)).toMatchObject({ kind: 'accepted', peerWindow: MAX_RECEIVE_WINDOW, peerLimit: 32_768 });
    const sealedWith = (receiveWindow: number): AcceptOutcome => {
      const server = { scid: 0x5678, receiveWindow, initialLimit: 32_768, resetToken: TOKEN };
      return new ConnectAttempt(PARAMS, 0, noise(serverHello(encodeServerParams(server)))).check({ ...accept(AcceptKind.ServerHello), params: { receiveWindow, initialLimit: 32_768 } }, REMOTE);
    };
    expect(sealedWith(MAX_RECEIVE_WINDOW + 1)).toEqual({
      kind: 'invalid',
      remoteCid: 0x5678,
      keys: KEYS,
      message: `protocol violation: the server at ${REMOTE} announced an invalid receive window: ${MAX_RECEIVE_WINDOW + 1} bytes (a window is ${MIN_RECEIVE_WINDOW} bytes to 2^40)`,
    });
    expect(sealedWith(MAX_RECEIVE_WINDOW)).toMatchObject({ kind: 'accepted', peerWindow: MAX_RECEIVE_WINDOW });
  });

  it('a first limit past the window or below MIN_RECEIVE_WINDOW is malformed in clear, a protocol violation sealed; one below the window is the peer limit', () => {
    const a = new ConnectAttempt(PARAMS, 0, undefined);
    const limited = (initialLimit: number): AcceptPayload => ({ ...accept(AcceptKind.Plaintext), params: { receiveWindow: 32_768, initialLimit } });
    expect(a.check(limited(32_769), REMOTE)).toEqual({ kind: 'dropped', why: 'malformed' });
    expect(a.check(limited(2 ** 53 - 1), REMOTE)).toEqual({ kind: 'dropped', why: 'malformed' });
    expect(a.check(limited(MIN_RECEIVE_WINDOW - 1), REMOTE)).toEqual({ kind: 'dropped', why: 'malformed' });
    expect(a.check(limited(MIN_RECEIVE_WINDOW), REMOTE)).toMatchObject({ kind: 'accepted', peerWindow: 32_768, peerLimit: MIN_RECEIVE_WINDOW });
    const sealed = new ConnectAttempt(PARAMS, 0, noise(serverHello(encodeServerParams({ resetToken: TOKEN, scid: 0x5678, receiveWindow: 32_768, initialLimit: 32_769 }))));
    expect(sealed.check({ ...accept(AcceptKind.ServerHello), params: { receiveWindow: 32_768, initialLimit: 32_769 } }, REMOTE)).toEqual({
      kind: 'invalid',
      remoteCid: 0x5678,
      keys: KEYS,
      message: `protocol violation: the server at ${REMOTE} announced an invalid receive window: a first limit of 32769 bytes in a window of 32768 (a first limit is ${MIN_RECEIVE_WINDOW} bytes to the window)`,
    });
  });
});

describe("connect attempt: the handshake timeout's note", () => {
  it('names the first plaintext ACCEPT dropped for its window, as unauthenticated; nothing for other drops', () => {
    const a = new ConnectAttempt(PARAMS, 0, undefined);
    expect(a.noAnswerNote()).toBeUndefined();
    a.check(accept(AcceptKind.ServerHello), REMOTE);
    expect(a.noAnswerNote()).toBeUndefined();
    a.check({ ...accept(AcceptKind.Plaintext), params: { receiveWindow: 32_768, initialLimit: 32_769 } }, REMOTE);
    a.check(accept(AcceptKind.Plaintext, undefined, 0x5678, MIN_RECEIVE_WINDOW - 1), REMOTE);
    expect(a.noAnswerNote()).toBe(
      `an unauthenticated ACCEPT was dropped for announcing an invalid receive window: a first limit of 32769 bytes in a window of 32768 (a first limit is ${MIN_RECEIVE_WINDOW} bytes to the window)`,
    );
  });
});

describe("connect attempt: the handshake timeout's note after a RETRY", () => {
  it('counts the INITIALs that carried the cookie back (copies not counted); nothing before the RETRY; the dropped ACCEPT comes first', () => {
    const a = new ConnectAttempt(PARAMS, 0, undefined);
    const scratch = new Uint8Array(1_500);
    expect(a.timing.pollInitial(0, scratch)).toBeDefined();
    expect(a.noAnswerNote()).toBeUndefined();
    a.timing.onRetry(40, Uint8Array.of(1, 2, 3));
    expect(a.noAnswerNote()).toBeUndefined();
    expect(a.timing.pollInitial(40, scratch)).toBeDefined();
    // The INITIAL's copy (PARAMS.copies: 1) is the same INITIAL again.
    expect(a.timing.pollInitial(43, scratch)).toBeDefined();
    const one = 'a RETRY came, but no ACCEPT for any of the 1 INITIAL that carried its cookie back (lost or altered on the path, or the RETRY was forged)';
    expect(a.noAnswerNote()).toBe(one);
    expect(a.timing.pollInitial(a.timing.initialDeadline(), scratch)).toBeDefined();
    expect(a.noAnswerNote()).toBe(one.replace('1 INITIAL', '2 INITIALs'));
    a.check({ ...accept(AcceptKind.Plaintext), params: { receiveWindow: 32_768, initialLimit: 32_769 } }, REMOTE);
    expect(a.noAnswerNote()).toMatch(/^an unauthenticated ACCEPT was dropped for announcing an invalid receive window: /);
  });
});

describe("connect attempt: the handshake timeout's note after ACCEPTs that failed to authenticate", () => {
  it('counts them, and says so before the RETRY note (ACCEPTs did come); a forged window in clear is not one of them', () => {
    const a = withCookie(new ConnectAttempt(PARAMS, 0, noise({ ok: false, error: 'decrypt-failed' })));
    a.timing.pollInitial(20, new Uint8Array(1_500));
    expect(a.noAnswerNote()).toMatch(/^a RETRY came/);
    expect(a.check(accept(AcceptKind.ServerHello), REMOTE)).toEqual({ kind: 'dropped', why: 'auth' });
    expect(a.noAnswerNote()).toBe('1 ACCEPT came that failed to authenticate (the INITIAL or the answer altered or forged on the path)');
    a.check(accept(AcceptKind.ServerHello), REMOTE);
    expect(a.noAnswerNote()).toBe('2 ACCEPTs came that failed to authenticate (the INITIAL or the answer altered or forged on the path)');
  });
});

describe('connect attempt: encrypted', () => {
  it('the server hello gives the id and window it carries, its keys, key and stateless reset token', () => {
    const a = new ConnectAttempt(PARAMS, 0, noise(serverHello(encodeServerParams({ resetToken: TOKEN, scid: 0x5678, receiveWindow: 32_768, initialLimit: 32_768 }))));
    expect(a.check(accept(AcceptKind.ServerHello), REMOTE)).toEqual({ kind: 'accepted', remoteCid: 0x5678, peerWindow: 32_768, peerLimit: 32_768, keys: KEYS, serverKey: SERVER_KEY, resetToken: TOKEN });
  });

  it('a plaintext ACCEPT is a downgrade, and parameters changed on the path or a failed hello are forgeries', () => {
    const a = new ConnectAttempt(PARAMS, 0, noise(serverHello(encodeServerParams({ resetToken: TOKEN, scid: 0x5678, receiveWindow: 32_768, initialLimit: 32_768 }))));
    expect(a.check(accept(AcceptKind.Plaintext), REMOTE)).toEqual({ kind: 'dropped', why: 'unprotected' });
    expect(a.check(accept(AcceptKind.ServerHello, undefined, 0x9999), REMOTE)).toEqual({ kind: 'dropped', why: 'auth' });
    expect(a.check(accept(AcceptKind.ServerHello, undefined, 0x5678, 1), REMOTE)).toEqual({ kind: 'dropped', why: 'auth' });
    // The first limit too: an on-path change to the clear copy does not match the sealed one.
    expect(a.check({ ...accept(AcceptKind.ServerHello), params: { receiveWindow: 32_768, initialLimit: 16_384 } }, REMOTE)).toEqual({ kind: 'dropped', why: 'auth' });
    const failed = new ConnectAttempt(PARAMS, 0, noise({ ok: false, error: 'malformed' }));
    expect(failed.check(accept(AcceptKind.ServerHello), REMOTE)).toEqual({ kind: 'dropped', why: 'auth' });
  });

  it("the server's 'does not encrypt' refusal ends the attempt (never a plaintext connection), only after the cookie; a 'requires encryption' one is not meant for it", () => {
    const early = new ConnectAttempt(PARAMS, 0, noise(serverHello(encodeServerParams({ resetToken: TOKEN, scid: 0x5678, receiveWindow: 32_768, initialLimit: 32_768 }))));
    expect(early.check(accept(AcceptKind.Busy, Uint8Array.of(BusyReason.NoEncryption), 0), REMOTE)).toEqual({ kind: 'dropped', why: 'malformed' });
    const a = withCookie(new ConnectAttempt(PARAMS, 0, noise(serverHello(encodeServerParams({ resetToken: TOKEN, scid: 0x5678, receiveWindow: 32_768, initialLimit: 32_768 })))));
    expect(a.check(accept(AcceptKind.Busy, Uint8Array.of(BusyReason.EncryptionRequired), 0), REMOTE)).toEqual({ kind: 'dropped', why: 'malformed' });
    expect(a.check(accept(AcceptKind.Busy, Uint8Array.of(BusyReason.NoEncryption), 0), REMOTE)).toEqual({
      kind: 'refused',
      message: `the server at ${REMOTE} refused the connection: the server does not encrypt (it has 'plaintext: true'; this client requires encryption)${UNAUTHENTICATED_REFUSAL}`,
      mismatch: undefined,
    });
  });

  it('a WrongKey before the cookie is forged (the server answers a hello only in a cookie INITIAL): dropped as malformed, the attempt goes on', () => {
    const expected = new Uint8Array(32).fill(1);
    const a = new ConnectAttempt(PARAMS, 0, noise({ ok: false, error: 'server-key-mismatch', expected, offered: SERVER_KEY }));
    expect(a.check(accept(AcceptKind.WrongKey, SERVER_KEY), REMOTE)).toEqual({ kind: 'dropped', why: 'malformed' });
    // The same answer once the cookie came is the server's word (unauthenticated, as a Busy is).
    expect(withCookie(a).check(accept(AcceptKind.WrongKey, SERVER_KEY), REMOTE)).toMatchObject({ kind: 'refused' });
  });

  it('another key than the pinned one refuses the connection, not counted as a drop; a WrongKey that does not prove one is dropped as malformed', () => {
    const expected = new Uint8Array(32).fill(1);
    const a = withCookie(new ConnectAttempt(PARAMS, 0, noise({ ok: false, error: 'server-key-mismatch', expected, offered: SERVER_KEY })));
    expect(a.check(accept(AcceptKind.WrongKey, SERVER_KEY), REMOTE)).toEqual({
      kind: 'refused',
      message: `the server at ${REMOTE} proved another key than the pinned one`,
      mismatch: { expected, offered: SERVER_KEY },
    });
    const other = withCookie(new ConnectAttempt(PARAMS, 0, noise({ ok: false, error: 'malformed' })));
    expect(other.check(accept(AcceptKind.WrongKey, SERVER_KEY), REMOTE)).toEqual({ kind: 'dropped', why: 'malformed' });
  });
});
