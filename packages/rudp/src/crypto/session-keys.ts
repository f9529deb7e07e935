/**
 * What the core keeps from a finished handshake: packet protection for each
 * direction (by role) and the exporter.
 */
import type { CryptoProvider } from './crypto-provider.js';
import { createExporter, type KeyingMaterialExporter } from './exporter.js';
import { KeyArena } from './key-arena.js';
import { PacketProtection, protectionArenaBytes, type PacketProtectionOptions } from './packet-protection.js';
import type { SplitResult } from './symmetric-state.js';

/** A secured session's state. */
export interface SessionKeys {
  readonly protection: PacketProtection;
  readonly exporter: KeyingMaterialExporter;
  /** The handshake hash: the same at both ends, unique per session. */
  readonly handshakeHash: Uint8Array;
}

/** Builds a session's keys from the handshake's split, for the initiator (client) or the responder (server). */
export const sessionKeys = (
  crypto: CryptoProvider,
  split: SplitResult,
  initiator: boolean,
  options: Omit<PacketProtectionOptions, 'sendSecret' | 'receiveSecret' | 'arena'> = {},
): SessionKeys => {
  const secrets = {
    ...options,
    sendSecret: initiator ? split.initiatorSecret : split.responderSecret,
    receiveSecret: initiator ? split.responderSecret : split.initiatorSecret,
  };
  // Everything the session keeps for its lifetime in one buffer (see KeyArena).
  const arena = new KeyArena(protectionArenaBytes(secrets) + split.exporterSecret.length);
  const protection = new PacketProtection(crypto, { ...secrets, arena });
  const { bytes, at } = arena.take(split.exporterSecret.length);
  bytes.set(split.exporterSecret, at);
  return { protection, exporter: createExporter(crypto, bytes, at, split.exporterSecret.length), handshakeHash: split.handshakeHash };
};
