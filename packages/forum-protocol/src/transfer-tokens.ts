import * as O from 'fp-ts/lib/Option.js';
import type * as T from 'fp-ts/lib/Task.js';
import * as TE from 'fp-ts/lib/TaskEither.js';
import type { KeyingMaterialExporter } from 'rudpx';
import type { StoreError } from './errors.js';
import type { TransferDirection } from './messages.js';
import { deriveTransferKeys, type TransferKeys } from './transfer-keys.js';

/** What a transfer token is asked for: one upload or download of one file of one thread, by one user, until `expiresAt` (ms). */
export interface TransferRequest {
  readonly direction: TransferDirection;
  readonly thread: string;
  readonly filename: string;
  readonly username: string;
  readonly expiresAt: number;
}

/**
 * What a transfer token allows: the request, and the keys of its TCP
 * connection. The keys are derived when the token is issued, from the rudp
 * session that asked for it (see {@link deriveTransferKeys}), because the
 * session itself cannot travel to another server: any server that redeems the
 * token can then seal the transfer for that session's client.
 */
export interface TransferGrant extends TransferRequest {
  readonly keys: TransferKeys;
}

/**
 * Single-use tokens for the TCP side of UPD/DWN. Asynchronous because the
 * tokens may be shared by several servers (a table in PostgreSQL, see
 * `createPostgresTransferTokens`), so that any server can serve a transfer.
 */
export interface TransferTokens {
  /** Issues a fresh token (64 hex characters) for `request`, keyed by `session` (the asking client's rudp session). */
  issue(request: TransferRequest, session: KeyingMaterialExporter): TE.TaskEither<StoreError, string>;
  /** The grant of `token` if it exists and has not expired at `now`; the token is spent either way (atomically: one redeemer wins). */
  redeem(token: string, now: number): TE.TaskEither<StoreError, O.Option<TransferGrant>>;
  /** Drops every token of `username` (on logout or idle timeout). Best effort: never fails. */
  revokeUser(username: string): T.Task<void>;
}

/** The in-memory {@link TransferTokens} of one server, which can also count its tokens. */
export interface LocalTransferTokens extends TransferTokens {
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

/** Bytes of randomness in a token (64 hex characters). */
export const TOKEN_BYTES = 32;

/** Creates an in-memory {@link TransferTokens} registry (one server). */
export const createTransferTokens = (options: TransferTokensOptions): LocalTransferTokens => {
  const capacity = options.capacity ?? 1024;
  const grants = new Map<string, TransferGrant>();
  return {
    issue: (request, session) =>
      TE.fromIO(() => {
        let token: string;
        do {
          token = Buffer.from(options.randomBytes(TOKEN_BYTES)).toString('hex');
        } while (grants.has(token));
        grants.set(token, { ...request, keys: deriveTransferKeys(session, token) });
        while (grants.size > capacity) {
          const oldest = grants.keys().next();
          if (oldest.done === true) break;
          grants.delete(oldest.value);
        }
        return token;
      }),
    redeem: (token, now) =>
      TE.fromIO(() => {
        const grant = grants.get(token);
        grants.delete(token);
        return grant !== undefined && now <= grant.expiresAt ? O.some(grant) : O.none;
      }),
    revokeUser: (username) => async () => {
      for (const [token, grant] of grants) if (grant.username === username) grants.delete(token);
    },
    size: () => grants.size,
  };
};
