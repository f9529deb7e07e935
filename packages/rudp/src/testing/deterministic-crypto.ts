/**
 * A {@link CryptoProvider} for the simulator: the real primitives of a base
 * provider (e.g. `nodeCryptoProvider`), but every random byte and every
 * generated key from a seeded source, so a simulated run with encryption
 * repeats exactly. Never for real use: its keys are as guessable as its seed.
 */
import type { RandomSource } from '../core/sans-io.js';
import { DH_LEN, type CryptoProvider } from '../crypto/crypto-provider.js';
import { fillRandomBytes } from './prng.js';

/** `base` with `randomBytes` and `generateKeyPair` drawn from `random`. */
export const deterministicCrypto = (base: CryptoProvider, random: RandomSource): CryptoProvider => {
  const randomBytes = (n: number): Uint8Array => fillRandomBytes(random, new Uint8Array(n));
  return {
    ...base,
    randomBytes,
    generateKeyPair: () => {
      // Any 32 bytes are a valid X25519 private key (the scalar is clamped when used).
      const pair = base.keyPairFromPrivateKey(randomBytes(DH_LEN));
      if (pair === undefined) throw new Error('base provider refused a 32-byte private key');
      return pair;
    },
  };
};
