import * as O from 'fp-ts/lib/Option.js';
import type * as T from 'fp-ts/lib/Task.js';
import * as TE from 'fp-ts/lib/TaskEither.js';
import type { KeyingMaterialExporter } from 'rudpx';
import type { StoreError } from '../store/errors.js';
import type { TransferDirection } from '../protocol/messages.js';
import type { ThreadIncarnation } from '../store/thread-incarnations.js';
import { deriveTransferKeys, type TransferKeys } from './transfer-keys.js';

/** What a transfer token is asked for: one upload or download of one file of one thread, by one user, until `expiresAt` (ms). */
export interface TransferRequest {
  readonly direction: TransferDirection;
  readonly thread: string;
  /**
   * The thread it was granted for (what `checkUpload` answered at UPD,
   * `statUpload` at DWN): an upload goes to that thread or nowhere, a download
   * reads that thread's file or nothing, even if the title is removed and
   * made again before the transfer starts.
   */
  readonly incarnation: ThreadIncarnation;
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
  /**
   * Most outstanding tokens of one user. Default {@link DEFAULT_TOKENS_PER_USER}.
   * A user at the cap who asks again drops its own oldest token (a client that
   * asks again has given up on its earlier one), never another user's.
   */
  readonly perUser?: number;
  /**
   * Most outstanding tokens in all: a memory bound. Default 1024. When it is
   * reached, the oldest token of the user holding the most is dropped (the
   * issuer's own if it holds as many as anyone); see {@link createTransferTokens}.
   */
  readonly capacity?: number;
}

/** Bytes of randomness in a token (64 hex characters). */
export const TOKEN_BYTES = 32;

/**
 * Default of {@link TransferTokensOptions.perUser} (and of the PostgreSQL
 * store's): a client runs its transfers one after another, so a few spare
 * tokens cover retries and a UPD racing a DWN.
 */
export const DEFAULT_TOKENS_PER_USER = 8;

/** Draws a token that is not outstanding. */
const freshToken = (randomBytes: (n: number) => Uint8Array, taken: ReadonlyMap<string, unknown>): string => {
  let token: string;
  do {
    token = Buffer.from(randomBytes(TOKEN_BYTES)).toString('hex');
  } while (taken.has(token));
  return token;
};

/**
 * The user whose oldest token goes when the table is full: whoever holds the
 * most, `issuer` on a tie (so a user never loses a token to someone holding as
 * many), else the holder of the oldest token among the tied.
 */
const heaviestHolder = (byUser: ReadonlyMap<string, readonly string[]>, grants: ReadonlyMap<string, TransferGrant>, issuer: string): string | undefined => {
  let most = 0;
  for (const tokens of byUser.values()) most = Math.max(most, tokens.length);
  if (most === 0) return undefined;
  if ((byUser.get(issuer)?.length ?? 0) === most) return issuer;
  // Map order is issue order: the first grant whose holder is tied for the most is the oldest such.
  for (const grant of grants.values()) if (byUser.get(grant.username)?.length === most) return grant.username;
  return undefined;
};

/**
 * Creates an in-memory {@link TransferTokens} registry (one server).
 *
 * Tokens are capped per user ({@link TransferTokensOptions.perUser}), so one
 * account pipelining UPD/DWN only ever drops its own tokens: before the cap,
 * a hostile account could evict every other user's token from the shared
 * table before that user connected over TCP.
 *
 * The global `capacity` is only a memory bound. Reaching it takes
 * `capacity / perUser` accounts holding full sets of unredeemed tokens at once
 * (128 with the defaults): one account has one live session per server (the
 * session registry), and accounts per client host are rate limited. Even then
 * the token dropped is the oldest of the user holding the most, so a user
 * holding fewer tokens than the issuer never loses one. Evicting was chosen
 * over refusing the issue: refusing would let those accounts lock every other
 * user out of transfers until their tokens expire (tokens are not swept here),
 * while evicting from the heaviest holder takes from the accounts that filled
 * the table.
 */
export const createTransferTokens = (options: TransferTokensOptions): LocalTransferTokens => {
  const capacity = options.capacity ?? 1024;
  const perUser = Math.max(1, options.perUser ?? DEFAULT_TOKENS_PER_USER);
  const grants = new Map<string, TransferGrant>();
  // Each user's outstanding tokens, oldest first (at most `perUser`, so the arrays stay short).
  const byUser = new Map<string, string[]>();
  const drop = (token: string): void => {
    const grant = grants.get(token);
    if (grant === undefined) return;
    grants.delete(token);
    const own = byUser.get(grant.username) ?? [];
    const rest = own.filter((t) => t !== token);
    if (rest.length === 0) byUser.delete(grant.username);
    else byUser.set(grant.username, rest);
  };
  const makeRoom = (username: string): void => {
    // A user asking again has given up on its oldest token: that one goes first.
    for (let own = byUser.get(username); own !== undefined && own.length >= perUser; own = byUser.get(username)) drop(own[0] ?? '');
    while (grants.size >= capacity) {
      const victim = heaviestHolder(byUser, grants, username);
      const oldest = victim === undefined ? undefined : byUser.get(victim)?.[0];
      if (oldest === undefined) break;
      drop(oldest);
    }
  };
  return {
    issue: (request, session) =>
      TE.fromIO(() => {
        makeRoom(request.username);
        const token = freshToken(options.randomBytes, grants);
        grants.set(token, { ...request, keys: deriveTransferKeys(session, token) });
        byUser.set(request.username, [...(byUser.get(request.username) ?? []), token]);
        return token;
      }),
    redeem: (token, now) =>
      TE.fromIO(() => {
        const grant = grants.get(token);
        drop(token);
        return grant !== undefined && now <= grant.expiresAt ? O.some(grant) : O.none;
      }),
    revokeUser: (username) => async () => {
      for (const token of byUser.get(username) ?? []) grants.delete(token);
      byUser.delete(username);
    },
    size: () => grants.size,
  };
};
