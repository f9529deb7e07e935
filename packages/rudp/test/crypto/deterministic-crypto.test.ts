import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/crypto/bytes.js';
import { answerClientHello, startClientHandshake } from '../../src/crypto/secure-handshake.js';
import { nodeCryptoProvider } from '../../src/node/crypto-provider.js';
import { deterministicCrypto } from '../../src/testing/deterministic-crypto.js';
import { createRandom } from '../../src/testing/prng.js';

describe('deterministic crypto for the simulator', () => {
  it('the same seed gives the same keys and the same handshake bytes; another seed does not', () => {
    const run = (seed: number): string => {
      const crypto = deterministicCrypto(nodeCryptoProvider, createRandom(seed));
      const identity = crypto.generateKeyPair();
      const client = startClientHandshake(crypto, { serverKey: identity.publicKey, prologue: new Uint8Array(0) });
      const server = answerClientHello(crypto, client.hello, { identity, prologue: new Uint8Array(0) });
      if (server.kind !== 'accepted') throw new Error(server.kind);
      expect(client.finish(server.serverHello).ok).toBe(true);
      return toHex(client.hello) + toHex(server.serverHello);
    };
    expect(run(7)).toBe(run(7));
    expect(run(7)).not.toBe(run(8));
  });
});
