/**
 * `rudpx/crypto`: the pure cryptography (Noise handshake, packet protection,
 * exporter) behind the injected {@link CryptoProvider}; the `node:crypto`
 * provider is `nodeCryptoProvider` from `rudpx`.
 */
export * from './crypto/index.js';
