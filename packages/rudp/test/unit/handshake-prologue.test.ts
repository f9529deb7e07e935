/**
 * The handshake's prologue binds the window and first limit the client's INITIAL carries in clear
 * (core/security.ts, protocol version 7): a server that read other figures than the client sent cannot
 * complete the handshake with it, pinned (NK: the hello fails to open) or not (NX: the client cannot open
 * the answer). Before, the server took rewritten figures and the connection ran on them.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONNECTION_CONFIG } from '../../src/core/config.js';
import { clientSecurity, handshakePrologue } from '../../src/core/security.js';
import { answerClientHello } from '../../src/crypto/index.js';
import { nodeCryptoProvider as crypto } from '../../src/node/crypto-provider.js';
import type { TransportParams } from '../../src/wire/packet.js';

const CID = 0x1234_5678;
const OWN: TransportParams = { receiveWindow: 32 * 1024 * 1024, initialLimit: 1024 * 1024 };
const identity = crypto.generateKeyPair();

/** Begins a client's Noise state as a connection does, and has the server answer it under the figures it read. */
function handshake(pinned: boolean, read: TransportParams) {
  const security = clientSecurity(crypto, CID, pinned ? identity.publicKey : undefined, DEFAULT_CONNECTION_CONFIG);
  if (security.mode !== 'client') throw new Error(security.mode);
  const client = security.begin(OWN);
  const answer = answerClientHello(crypto, client.hello, { identity, prologue: handshakePrologue(CID, read) });
  return { answer, finished: answer.kind === 'accepted' ? client.finish(answer.serverHello) : undefined };
}

describe('handshake prologue', () => {
  it('differs in each of the connection id, the window and the first limit', () => {
    const base = handshakePrologue(CID, OWN);
    expect(handshakePrologue(CID, OWN)).toEqual(base);
    for (const other of [handshakePrologue(CID + 1, OWN), handshakePrologue(CID, { ...OWN, receiveWindow: 1024 }), handshakePrologue(CID, { ...OWN, initialLimit: 1024 })]) {
      expect(other).not.toEqual(base);
    }
  });

  it.each([true, false])('the figures the client sent: the handshake completes (pinned %s)', (pinned) => {
    const { answer, finished } = handshake(pinned, OWN);
    expect(answer.kind).toBe('accepted');
    expect(finished?.ok).toBe(true);
  });

  it.each([
    ['window', { ...OWN, receiveWindow: 1024 }],
    ['first limit', { ...OWN, initialLimit: 1024 }],
  ] as const)('the %s rewritten, pinned: the server cannot open the hello', (_what, read) => {
    expect(handshake(true, read).answer).toEqual({ kind: 'rejected', error: 'decrypt-failed' });
  });

  it.each([
    ['window', { ...OWN, receiveWindow: 1024 }],
    ['first limit', { ...OWN, initialLimit: 1024 }],
  ] as const)('the %s rewritten, not pinned: the server answers, and the client cannot open the answer', (_what, read) => {
    const { answer, finished } = handshake(false, read);
    expect(answer.kind).toBe('accepted');
    expect(finished).toEqual({ ok: false, error: 'decrypt-failed' });
  });
});
