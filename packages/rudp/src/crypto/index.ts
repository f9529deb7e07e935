/**
 * rudp's cryptography: the injected {@link CryptoProvider}, the Noise
 * handshake, packet protection and the keying-material exporter. Pure code:
 * no `node:*`, no clock, no global randomness.
 */
export * from './crypto-provider.js';
export { PluginFault, type PluginKind } from './plugin-fault.js';
export { guardProvider } from './guarded-provider.js';
export { fromHex, toHex, equalBytes } from './bytes.js';
export { CipherState } from './cipher-state.js';
export { SymmetricState, type SplitResult } from './symmetric-state.js';
export { PATTERNS, protocolName, type HandshakePattern, type PatternName, type Token } from './handshake-pattern.js';
export { HandshakeState, type HandshakeFailure, type HandshakeOptions, type HandshakeStep } from './handshake-state.js';
export { CHACHA20_POLY1305_LIMITS, type AeadLimits } from './aead-limits.js';
export { PacketKey, packetKeyFromSecret, nextTrafficSecret, packetNonce, MAX_PACKET_NUMBER } from './packet-key.js';
export { ReplayWindow, DEFAULT_REPLAY_WINDOW, type ReplayVerdict } from './replay-window.js';
export { PacketProtection, type KeyPhase, type OpenFailure, type OpenResult, type SealResult, type PacketProtectionOptions, type ProtectionCounters } from './packet-protection.js';
export { createExporter, type KeyingMaterialExporter } from './exporter.js';
export { sessionKeys, type SessionKeys } from './session-keys.js';
export { fingerprint } from './fingerprint.js';
export { RESET_TOKEN_BYTES, resetSecret, resetToken } from './reset-token.js';
export {
  startClientHandshake,
  answerClientHello,
  keyId,
  MAX_HELLO_PAYLOAD,
  type ClientHandshake,
  type ClientHandshakeOptions,
  type ClientHandshakeResult,
  type ServerHandshakeOptions,
  type ServerHandshakeResult,
} from './secure-handshake.js';
