/**
 * The keys of one file transfer: exported from the rudp session that asked
 * for it and bound to the transfer's single-use token, so only the two ends
 * of that session can read or forge the TCP bytes of that one transfer.
 */
import type { KeyingMaterialExporter } from 'rudpx';

/** Exporter label of transfer keys; changing the record format means a new label. */
export const TRANSFER_KEY_LABEL = 'forum transfer v1';

/** One key per direction, so the two directions' counter nonces never meet under one key. */
export interface TransferKeys {
  readonly clientToServer: Uint8Array;
  readonly serverToClient: Uint8Array;
}

/** Derives a transfer's keys from its session and token (the token's 64 hex characters, as sent). */
export const deriveTransferKeys = (session: KeyingMaterialExporter, token: string): TransferKeys => {
  const material = session.exportKeyingMaterial(TRANSFER_KEY_LABEL, new TextEncoder().encode(token), 64);
  return { clientToServer: material.slice(0, 32), serverToClient: material.slice(32, 64) };
};
