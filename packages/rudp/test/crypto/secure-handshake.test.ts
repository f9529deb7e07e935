import { describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../../src/crypto/bytes.js';
import { fingerprint } from '../../src/crypto/fingerprint.js';
import type { SessionKeys } from '../../src/crypto/session-keys.js';
import { answerClientHello, startClientHandshake } from '../../src/crypto/secure-handshake.js';
import { nodeCryptoProvider as crypto } from '../../src/node/crypto-provider.js';

const identity = crypto.generateKeyPair();
const prologue = utf8('rudp v1 cid=1234');

/** Client seals, server opens, and back; both exporters agree. */
const talk = (client: SessionKeys, server: SessionKeys): void => {
  const header = Uint8Array.of(0x40, 0);
  const up = client.protection.seal(header, 0, utf8('LOGIN alice secret'));
  if (!up.ok) throw new Error(up.reason);
  const opened = server.protection.open(header, 0, 0, up.packet);
  expect(opened.ok && new TextDecoder().decode(opened.plaintext)).toBe('LOGIN alice secret');
  const down = server.protection.seal(header, 0, utf8('OK'));
  if (!down.ok) throw new Error(down.reason);
  expect(client.protection.open(header, 0, 0, down.packet).ok).toBe(true);
  expect(toHex(client.exporter.exportKeyingMaterial('t', utf8('c'), 32))).toBe(toHex(server.exporter.exportKeyingMaterial('t', utf8('c'), 32)));
};

describe('secure handshake (NK when pinned, NX on first contact)', () => {
  it('NK: a pinned client and the right server agree on keys; the hello payload is encrypted', () => {
    const client = startClientHandshake(crypto, { serverKey: identity.publicKey, prologue, payload: utf8('hello-secret') });
    expect(Buffer.from(client.hello).includes(Buffer.from('hello-secret'))).toBe(false);
    const server = answerClientHello(crypto, client.hello, { identity, prologue, payload: utf8('welcome') });
    if (server.kind !== 'accepted') throw new Error(server.kind);
    expect(new TextDecoder().decode(server.payload)).toBe('hello-secret');
    const done = client.finish(server.serverHello);
    if (!done.ok) throw new Error(done.error);
    expect(toHex(done.serverKey)).toBe(toHex(identity.publicKey));
    expect(new TextDecoder().decode(done.payload)).toBe('welcome');
    expect(toHex(done.keys.handshakeHash)).toBe(toHex(server.keys.handshakeHash));
    talk(done.keys, server.keys);
  });

  it('NX: a client without a pin learns the server key from an authenticated answer', () => {
    const client = startClientHandshake(crypto, { prologue });
    const server = answerClientHello(crypto, client.hello, { identity, prologue });
    if (server.kind !== 'accepted') throw new Error(server.kind);
    const done = client.finish(server.serverHello);
    if (!done.ok) throw new Error(done.error);
    expect(fingerprint(crypto, done.serverKey)).toBe(fingerprint(crypto, identity.publicKey));
    talk(done.keys, server.keys);
  });

  it('a client pinned to another key gets wrong-key and refuses with both keys', () => {
    const old = crypto.generateKeyPair();
    const client = startClientHandshake(crypto, { serverKey: old.publicKey, prologue });
    const server = answerClientHello(crypto, client.hello, { identity, prologue });
    if (server.kind !== 'wrong-key') throw new Error(server.kind);
    const done = client.finish(server.wrongKey, true);
    expect(done.ok).toBe(false);
    if (done.ok || done.error !== 'server-key-mismatch') throw new Error('expected a mismatch');
    expect(toHex(done.expected)).toBe(toHex(old.publicKey));
    expect(toHex(done.offered)).toBe(toHex(identity.publicKey));
  });

  it('an impostor without the private key cannot answer an NX or NK hello the client accepts', () => {
    const impostor = crypto.generateKeyPair();
    // NK: the impostor claims the pinned key id but cannot compute es; its answer (made with its own key) fails.
    const nk = startClientHandshake(crypto, { serverKey: identity.publicKey, prologue });
    const forged = answerClientHello(crypto, nk.hello, { identity: { publicKey: identity.publicKey, privateKey: impostor.privateKey }, prologue });
    expect(forged.kind).toBe('rejected');
    // A relay that swaps the answer of another session in: decryption fails.
    const other = startClientHandshake(crypto, { serverKey: identity.publicKey, prologue });
    const otherAnswer = answerClientHello(crypto, other.hello, { identity, prologue });
    if (otherAnswer.kind !== 'accepted') throw new Error(otherAnswer.kind);
    expect(nk.finish(otherAnswer.serverHello)).toEqual({ ok: false, error: 'decrypt-failed' });
  });

  it('altered hellos and answers, other prologues and unknown patterns are rejected, never thrown', () => {
    const client = startClientHandshake(crypto, { serverKey: identity.publicKey, prologue });
    for (let i = 9; i < client.hello.length; i += 7) {
      const bad = client.hello.slice();
      bad[i] = (bad[i] ?? 0) ^ 0x80;
      expect(answerClientHello(crypto, bad, { identity, prologue }).kind).toBe('rejected');
    }
    expect(answerClientHello(crypto, client.hello, { identity, prologue: utf8('other') }).kind).toBe('rejected');
    expect(answerClientHello(crypto, Uint8Array.of(9, 1, 2), { identity, prologue })).toEqual({ kind: 'rejected', error: 'malformed' });
    expect(answerClientHello(crypto, new Uint8Array(0), { identity, prologue })).toEqual({ kind: 'rejected', error: 'malformed' });
    expect(answerClientHello(crypto, Uint8Array.of(1, 2, 3), { identity, prologue })).toEqual({ kind: 'rejected', error: 'malformed' });
    const good = answerClientHello(crypto, client.hello, { identity, prologue });
    if (good.kind !== 'accepted') throw new Error(good.kind);
    const tampered = good.serverHello.slice();
    tampered[40] = (tampered[40] ?? 0) ^ 1;
    expect(client.finish(tampered)).toEqual({ ok: false, error: 'decrypt-failed' });
  });

  it('fingerprints are SHA256: and unpadded base64 of the key hash', () => {
    const fp = fingerprint(crypto, identity.publicKey);
    expect(fp).toBe(`SHA256:${Buffer.from(crypto.sha256(identity.publicKey)).toString('base64').replace(/=+$/, '')}`);
    expect(fp).toHaveLength(7 + 43);
  });
});
