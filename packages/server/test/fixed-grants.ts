/**
 * Transfer grants for tests of the transfer server alone (no session): tokens numbered `n`, their channel keys
 * derived as from a session whose exported keying material is all zeros, so client and server agree without one.
 */
import { deriveTransferKeys, type TransferGrant, type TransferTokens } from 'forum-protocol';

/** The channel keys of `token` under an all-zero session exporter. */
export const keysOf = (token: string): TransferGrant['keys'] => deriveTransferKeys({ exportKeyingMaterial: (_label, _context, length) => new Uint8Array(length) }, token);

/** Token number `n`, in a token's form (64 hex digits). */
export const tokenOf = (n: number): string => n.toString(16).padStart(64, '0');

/** Tokens that grant user `u` the download of `t`'s `big` (of `incarnation`) to any token, keyed by the token itself. */
export const downloadTokens = (incarnation: string): TransferTokens => ({
  issue: () => async () => ({ _tag: 'Left', left: { kind: 'io', message: 'not in this test' } }),
  redeem: (token) => async () => {
    const grant: TransferGrant = { direction: 'download', thread: 't', incarnation, filename: 'big', username: 'u', expiresAt: Date.now() + 60_000, keys: keysOf(token) };
    return { _tag: 'Right', right: { _tag: 'Some', value: grant } };
  },
  revokeSession: () => async () => undefined,
});
