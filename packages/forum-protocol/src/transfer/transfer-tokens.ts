import * as O from 'fp-ts/lib/Option.js';
import type * as T from 'fp-ts/lib/Task.js';
import * as TE from 'fp-ts/lib/TaskEither.js';
import type { KeyingMaterialExporter } from 'rudpx';
import type { StoreError } from '../store/errors.js';
import type { TransferDirection } from '../protocol/messages.js';
import type { Session } from '../store/session.js';
import type { ThreadIncarnation } from '../store/thread-incarnations.js';
import { deriveTransferKeys, type TransferKeys } from './transfer-keys.js';

/** What a transfer token allows: one upload or download of one file of one thread, by one user, until `expiresAt` (ms). */
export interface TransferAllowance {
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
 * What a transfer token is asked for: the {@link TransferAllowance}, and the
 * session that asks. The token belongs to that session, not to its user: the
 * session's end revokes it ({@link TransferTokens.revokeSession}), and the end
 * of another session of the same account (one taken over by a new login, on
 * this server or another) does not.
 */
export interface TransferRequest extends TransferAllowance {
  /** The asking session's `Session.connectionKey` (its `username` is the allowance's). */
  readonly connectionKey: string;
}

/**
 * What a redeemed transfer token allows: the allowance, and the keys of its TCP
 * connection. The keys are derived when the token is issued, from the rudp
 * session that asked for it (see {@link deriveTransferKeys}), because the
 * session itself cannot travel to another server: any server that redeems the
 * token can then seal the transfer for that session's client.
 */
export interface TransferGrant extends TransferAllowance {
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
  /**
   * Drops every token `session` was issued (as it ends: logout, idle timeout, a takeover, its connection
   * gone), and no other: a token of the same account's next session stays. Best effort: never fails.
   */
  revokeSession(session: Session): T.Task<void>;
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
const heaviestHolder = (byUser: ReadonlyMap<string, readonly string[]>, grants: ReadonlyMap<string, Issued>, issuer: string): string | undefined => {
  let most = 0;
  for (const tokens of byUser.values()) most = Math.max(most, tokens.length);
  if (most === 0) return undefined;
  if ((byUser.get(issuer)?.length ?? 0) === most) return issuer;
  // Map order is issue order: the first grant whose holder is tied for the most is the oldest such.
  for (const { grant } of grants.values()) if (byUser.get(grant.username)?.length === most) return grant.username;
  return undefined;
};

/** A token's grant and the session it was issued to. */
interface Issued {
  readonly grant: TransferGrant;
  readonly connectionKey: string;
}

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
  const grants = new Map<string, Issued>();
  // Each user's outstanding tokens, oldest first (at most `perUser`, so the arrays stay short).
  const byUser = new Map<string, string[]>();
  const drop = (token: string): void => {
    const issued = grants.get(token);
    if (issued === undefined) return;
    grants.delete(token);
    const username = issued.grant.username;
    const rest = (byUser.get(username) ?? []).filter((t) => t !== token);
    if (rest.length === 0) byUser.delete(username);
    else byUser.set(username, rest);
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
    issue: ({ connectionKey, ...allowance }, session) =>
      TE.fromIO(() => {
        makeRoom(allowance.username);
        const token = freshToken(options.randomBytes, grants);
        grants.set(token, { grant: { ...allowance, keys: deriveTransferKeys(session, token) }, connectionKey });
        byUser.set(allowance.username, [...(byUser.get(allowance.username) ?? []), token]);
        return token;
      }),
    redeem: (token, now) =>
      TE.fromIO(() => {
        const grant = grants.get(token)?.grant;
        drop(token);
        return grant !== undefined && now <= grant.expiresAt ? O.some(grant) : O.none;
      }),
    // Among the user's tokens (at most perUser): the session's own go, another session's of the account stay.
    revokeSession: (session) => async () => {
      for (const token of byUser.get(session.username) ?? []) if (grants.get(token)?.connectionKey === session.connectionKey) drop(token);
    },
    size: () => grants.size,
  };
};
