import * as O from 'fp-ts/lib/Option.js';
import type { KeyingMaterialExporter } from 'rudp';
import type { TransferDirection } from './messages.js';

/** What a transfer token allows: one upload or download of one file of one thread, by one user, until `expiresAt` (ms). */
export interface TransferGrant {
  readonly direction: TransferDirection;
  readonly thread: string;
  readonly filename: string;
  readonly username: string;
  readonly expiresAt: number;
  /** The session that asked for the transfer: its exporter keys the TCP connection (see {@link deriveTransferKeys}). */
  readonly session: KeyingMaterialExporter;
}

/** Single-use tokens for the TCP side of UPD/DWN. */
export interface TransferTokens {
  /** Issues a fresh token (64 hex characters) for `grant`. */
  issue(grant: TransferGrant): string;
  /** The grant of `token` if it exists and has not expired at `now`; the token is spent either way. */
  redeem(token: string, now: number): O.Option<TransferGrant>;
  /** Drops every token of `username` (on logout or idle timeout). */
  revokeUser(username: string): void;
  /** Outstanding tokens. */
  size(): number;
}

/** Options for {@link createTransferTokens}. */
export interface TransferTokensOptions {
  /** Source of randomness, e.g. `node:crypto` `randomBytes`. Injected so tests are deterministic. */
  readonly randomBytes: (n: number) => Uint8Array;
  /** Most outstanding tokens; issuing beyond it drops the oldest. Default 1024. */
  readonly capacity?: number;
}

const TOKEN_BYTES = 32;

/** Creates a {@link TransferTokens} registry. */
export const createTransferTokens = (options: TransferTokensOptions): TransferTokens => {
  const capacity = options.capacity ?? 1024;
  const grants = new Map<string, TransferGrant>();
  return {
    issue: (grant) => {
      let token: string;
      do {
        token = Buffer.from(options.randomBytes(TOKEN_BYTES)).toString('hex');
      } while (grants.has(token));
      grants.set(token, grant);
      while (grants.size > capacity) {
        const oldest = grants.keys().next();
        if (oldest.done === true) break;
        grants.delete(oldest.value);
      }
      return token;
    },
    redeem: (token, now) => {
      const grant = grants.get(token);
      grants.delete(token);
      return grant !== undefined && now <= grant.expiresAt ? O.some(grant) : O.none;
    },
    revokeUser: (username) => {
      for (const [token, grant] of grants) if (grant.username === username) grants.delete(token);
    },
    size: () => grants.size,
  };
};
