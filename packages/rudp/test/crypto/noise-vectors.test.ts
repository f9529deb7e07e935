import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/crypto/bytes.js';
import type { CipherState } from '../../src/crypto/cipher-state.js';
import type { PatternName } from '../../src/crypto/handshake-pattern.js';
import { HandshakeState } from '../../src/crypto/handshake-state.js';
import type { SplitResult } from '../../src/crypto/symmetric-state.js';
import { nodeCryptoProvider as crypto } from '../../src/node/crypto-provider.js';

interface Vector {
  readonly protocol_name: string;
  readonly init_prologue: string;
  readonly init_static?: string;
  readonly init_ephemeral: string;
  readonly init_remote_static?: string;
  readonly resp_prologue: string;
  readonly resp_static?: string;
  readonly resp_ephemeral: string;
  readonly handshake_hash: string;
  readonly messages: readonly { readonly payload: string; readonly ciphertext: string }[];
}

const file = JSON.parse(readFileSync(new URL('../fixtures/noise-cacophony-vectors.json', import.meta.url), 'utf8')) as { vectors: readonly Vector[] };

const hex = (s: string | undefined): Uint8Array => {
  const b = fromHex(s ?? '');
  if (b === undefined || s === undefined) throw new Error(`bad hex in vector: ${String(s)}`);
  return b;
};
const pair = (s: string | undefined) => (s === undefined ? undefined : crypto.keyPairFromPrivateKey(hex(s)));

describe('Noise handshake against the cacophony test vectors', () => {
  it('has the NK, IK and XX vectors', () => {
    expect(file.vectors.map((v) => v.protocol_name).sort()).toEqual([
      'Noise_IK_25519_ChaChaPoly_SHA256',
      'Noise_NK_25519_ChaChaPoly_SHA256',
      'Noise_XX_25519_ChaChaPoly_SHA256',
    ]);
  });

  for (const v of file.vectors) {
    it(v.protocol_name, () => {
      const pattern = /^Noise_([A-Z]+)_/.exec(v.protocol_name)?.[1] as PatternName;
      const respStatic = pair(v.resp_static);
      const init = new HandshakeState(crypto, {
        pattern,
        initiator: true,
        prologue: hex(v.init_prologue),
        s: pair(v.init_static),
        e: pair(v.init_ephemeral),
        rs: v.init_remote_static === undefined ? undefined : hex(v.init_remote_static),
      });
      const resp = new HandshakeState(crypto, { pattern, initiator: false, prologue: hex(v.resp_prologue), s: respStatic, e: pair(v.resp_ephemeral) });
      let initDone: SplitResult | undefined;
      let respDone: SplitResult | undefined;
      let i = 0;
      // Handshake messages, alternating from the initiator, each checked byte for byte.
      for (; initDone === undefined; i++) {
        const m = v.messages[i];
        if (m === undefined) throw new Error('vector ends mid-handshake');
        const [writer, reader] = i % 2 === 0 ? [init, resp] : [resp, init];
        const written = writer.writeMessage(hex(m.payload));
        if (!written.ok) throw new Error(written.error);
        expect(toHex(written.bytes)).toBe(m.ciphertext);
        const read = reader.readMessage(written.bytes);
        if (!read.ok) throw new Error(read.error);
        expect(toHex(read.bytes)).toBe(m.payload);
        if (written.done !== undefined) [initDone, respDone] = i % 2 === 0 ? [written.done, read.done] : [read.done, written.done];
      }
      if (respDone === undefined) throw new Error('responder not done');
      expect(toHex(initDone.handshakeHash)).toBe(v.handshake_hash);
      expect(toHex(respDone.handshakeHash)).toBe(v.handshake_hash);
      expect(toHex(initDone.exporterSecret)).toBe(toHex(respDone.exporterSecret));
      // Transport messages keep alternating: initiator with the first split key, responder with the second.
      for (; i < v.messages.length; i++) {
        const m = v.messages[i];
        if (m === undefined) break;
        const [tx, rx]: [CipherState, CipherState] = i % 2 === 0 ? [initDone.initiatorToResponder, respDone.initiatorToResponder] : [respDone.responderToInitiator, initDone.responderToInitiator];
        const ct = tx.encryptWithAd(new Uint8Array(0), hex(m.payload));
        expect(toHex(ct ?? new Uint8Array(0))).toBe(m.ciphertext);
        expect(toHex(rx.decryptWithAd(new Uint8Array(0), hex(m.ciphertext)) ?? new Uint8Array(0))).toBe(m.payload);
      }
    });
  }
});

describe('Noise handshake failures are values', () => {
  const server = crypto.generateKeyPair();
  const prologue = new Uint8Array([1]);

  it('NK: a client pinning a different key cannot complete; the server reports decrypt-failed', () => {
    const other = crypto.generateKeyPair();
    const client = new HandshakeState(crypto, { pattern: 'NK', initiator: true, prologue, rs: other.publicKey });
    const resp = new HandshakeState(crypto, { pattern: 'NK', initiator: false, prologue, s: server });
    const m1 = client.writeMessage(new TextEncoder().encode('hello'));
    if (!m1.ok) throw new Error(m1.error);
    expect(resp.readMessage(m1.bytes)).toEqual({ ok: false, error: 'decrypt-failed' });
    expect(resp.readMessage(m1.bytes)).toEqual({ ok: false, error: 'spent' });
  });

  it('a flipped bit, a short message or a different prologue fail; the untouched message succeeds', () => {
    const run = (mutate: (m: Uint8Array) => Uint8Array, respPrologue = prologue) => {
      const client = new HandshakeState(crypto, { pattern: 'NK', initiator: true, prologue, rs: server.publicKey });
      const resp = new HandshakeState(crypto, { pattern: 'NK', initiator: false, prologue: respPrologue, s: server });
      const m1 = client.writeMessage(new Uint8Array(0));
      if (!m1.ok) throw new Error(m1.error);
      return resp.readMessage(mutate(m1.bytes.slice()));
    };
    expect(run((m) => m).ok).toBe(true);
    expect(run((m) => (m[40] = (m[40] ?? 0) ^ 1, m))).toEqual({ ok: false, error: 'decrypt-failed' });
    expect(run((m) => m.subarray(0, 20))).toEqual({ ok: false, error: 'short-message' });
    expect(run((m) => m.subarray(0, 40))).toEqual({ ok: false, error: 'short-message' });
    expect(run((m) => m, new Uint8Array([2]))).toEqual({ ok: false, error: 'decrypt-failed' });
    expect(run((m) => (m.fill(0, 0, 32), m))).toEqual({ ok: false, error: 'bad-key' });
  });

  it('NX: the client learns the server key; writing out of turn fails', () => {
    const client = new HandshakeState(crypto, { pattern: 'NX', initiator: true, prologue });
    const resp = new HandshakeState(crypto, { pattern: 'NX', initiator: false, prologue, s: server });
    expect(resp.writeMessage(new Uint8Array(0))).toEqual({ ok: false, error: 'out-of-turn' });
    const m1 = client.writeMessage(new Uint8Array(0));
    if (!m1.ok) throw new Error(m1.error);
    const r1 = resp.readMessage(m1.bytes);
    expect(r1.ok).toBe(true);
    const m2 = resp.writeMessage(new Uint8Array(0));
    if (!m2.ok) throw new Error(m2.error);
    const r2 = client.readMessage(m2.bytes);
    expect(r2.ok && r2.done !== undefined).toBe(true);
    expect(toHex(client.remoteStaticKey() ?? new Uint8Array(0))).toBe(toHex(server.publicKey));
  });
});
