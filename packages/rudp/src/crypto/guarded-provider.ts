/**
 * A `CryptoProvider` whose every method turns a throw into a
 * {@link PluginFault}, so the transport can tell a provider's failure from a
 * bug of its own and end only the connection it was working for
 * (plugin-fault.ts). The keys a provider makes are guarded where they are
 * used (`PacketKey`), not wrapped here: a wrapper per key would be heap in
 * every connection. The providers rudpx ships are not guarded (`OWN`).
 */
import type { AeadKey, CryptoProvider, KeyPair, PacketAead } from './crypto-provider.js';
import { PluginFault } from './plugin-fault.js';

const fault = (method: string, e: unknown): PluginFault => new PluginFault('crypto provider', method, e);

/**
 * The providers rudpx ships (node/crypto-provider.ts), by identity: their code is rudpx's own, as the
 * default BBR is, so a throw there is a bug of rudpx's that must stay visible, not a `PluginFault` ending a
 * connection quietly. A copy (`{ ...defaultCryptoProvider, aeadKey: mine }`) is the application's, guarded.
 */
const OWN = new WeakSet<CryptoProvider>();

/** @internal Marks `p` as one of rudpx's own providers (see `OWN`); returns it. */
export function ownProvider<P extends CryptoProvider>(p: P): P {
  OWN.add(p);
  return p;
}

/** Whether `p` is one of the providers rudpx ships (see `OWN`): not guarded, its throws propagate. */
export const isOwnProvider = (p: CryptoProvider): boolean => OWN.has(p);

/** `p` with each method's throw turned into a {@link PluginFault} (`packetAead` only where `p` has one); one of rudpx's own as it is. */
export function guardProvider(p: CryptoProvider): CryptoProvider {
  if (OWN.has(p)) return p;
  // Each method called on `p` (its `this`); `packetAead` offered only where `p` has one, as the transport checks for it.
  const packetAead = p.packetAead;
  const guarded: CryptoProvider = {
    generateKeyPair(): KeyPair {
      try {
        return p.generateKeyPair();
      } catch (e) {
        throw fault('generateKeyPair', e);
      }
    },
    keyPairFromPrivateKey(privateKey: Uint8Array): KeyPair | undefined {
      try {
        return p.keyPairFromPrivateKey(privateKey);
      } catch (e) {
        throw fault('keyPairFromPrivateKey', e);
      }
    },
    dh(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | undefined {
      try {
        return p.dh(privateKey, publicKey);
      } catch (e) {
        throw fault('dh', e);
      }
    },
    seal(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
      try {
        return p.seal(key, nonce, ad, plaintext);
      } catch (e) {
        throw fault('seal', e);
      }
    },
    open(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array | undefined {
      try {
        return p.open(key, nonce, ad, ciphertext);
      } catch (e) {
        throw fault('open', e);
      }
    },
    aeadKey(key: Uint8Array): AeadKey {
      try {
        return p.aeadKey(key);
      } catch (e) {
        throw fault('aeadKey', e);
      }
    },
    sha256(...parts: readonly Uint8Array[]): Uint8Array {
      try {
        return p.sha256(...parts);
      } catch (e) {
        throw fault('sha256', e);
      }
    },
    hmacSha256(key: Uint8Array, ...parts: readonly Uint8Array[]): Uint8Array {
      try {
        return p.hmacSha256(key, ...parts);
      } catch (e) {
        throw fault('hmacSha256', e);
      }
    },
    randomBytes(n: number): Uint8Array {
      try {
        return p.randomBytes(n);
      } catch (e) {
        throw fault('randomBytes', e);
      }
    },
  };
  if (packetAead === undefined) return guarded;
  return {
    ...guarded,
    packetAead(keyIv: Uint8Array): PacketAead {
      try {
        return packetAead.call(p, keyIv);
      } catch (e) {
        throw fault('packetAead', e);
      }
    },
  };
}
