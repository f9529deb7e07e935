import * as O from 'fp-ts/lib/Option.js';
import type { Sql } from 'postgres';
import { attempt } from './postgres-timeouts.js';
import type { TransferDirection } from '../protocol/messages.js';
import { deriveTransferKeys } from '../transfer/transfer-keys.js';
import { DEFAULT_TOKENS_PER_USER, TOKEN_BYTES, type TransferGrant, type TransferTokens } from '../transfer/transfer-tokens.js';

/** Options for {@link createPostgresTransferTokens}. */
export interface PostgresTokensOptions {
  /** Source of randomness, e.g. `node:crypto` `randomBytes`. */
  readonly randomBytes: (n: number) => Uint8Array;
  /**
   * Most outstanding tokens of one user, over all servers. Default
   * {@link DEFAULT_TOKENS_PER_USER}. A user at the cap who asks again drops its
   * own token that expires first (its oldest: every server issues with the same
   * lifetime), never another user's.
   */
  readonly perUser?: number;
}

// Namespaces the per-user issue lock (the two-key advisory locks do not overlap the one-key migration lock).
const TOKEN_LOCK_CLASS = 0x746f6b; // "tok"

interface TokenRow {
  readonly direction: string;
  readonly thread: string;
  readonly filename: string;
  readonly username: string;
  readonly expires_at: string;
  readonly keys: Uint8Array;
  readonly thread_id: string | null;
}

/** Bytes of one direction's key; the `keys` column holds client-to-server then server-to-client. */
const KEY_BYTES = 32;

/**
 * UPD/DWN tokens in the `transfer_tokens` table, so that the TCP connection
 * may reach any server. Redeeming is one `DELETE … RETURNING`: of two servers
 * redeeming one token at once, exactly one gets the grant. The transfer's
 * keys are derived by the issuing server (which holds the rudp session) and
 * kept in the row, so the redeeming server can seal the connection; a row
 * lives only until it is redeemed, revoked (with the session it was issued
 * to: `connection_key`) or swept after it expired.
 *
 * Each user holds at most `perUser` tokens over all servers (see
 * {@link PostgresTokensOptions.perUser}), enforced in the issuing
 * transaction under a per-user lock, so one account pipelining UPD/DWN can
 * only drop its own tokens. There is no global cap: the table is on disk and
 * every issue sweeps expired rows, so it holds at most `perUser` live tokens
 * per account; nothing ever evicts another user's token.
 */
export const createPostgresTransferTokens = (sql: Sql, options: PostgresTokensOptions): TransferTokens => {
  const perUser = Math.max(1, options.perUser ?? DEFAULT_TOKENS_PER_USER);
  return {
    issue: (grant, session) =>
      attempt(async () => {
        const token = Buffer.from(options.randomBytes(TOKEN_BYTES)).toString('hex');
        const keys = deriveTransferKeys(session, token);
        const stored = Buffer.concat([keys.clientToServer, keys.serverToClient]);
        // Expired tokens are never redeemed; sweeping them here keeps the table small.
        await sql`DELETE FROM transfer_tokens WHERE expires_at < ${Date.now()}`;
        await sql.begin(async (tx) => {
          // Issues of one user wait for each other, on any server: two of them counting the same rows
          // at once would each keep perUser - 1 and together exceed the cap.
          await tx`SELECT pg_advisory_xact_lock(${TOKEN_LOCK_CLASS}, hashtext(${grant.username}))`;
          // Only this user's own tokens make room: a client asking again has given up on its oldest.
          await tx`
            DELETE FROM transfer_tokens WHERE token IN (
              SELECT token FROM transfer_tokens WHERE username = ${grant.username}
              ORDER BY expires_at DESC, token DESC OFFSET ${perUser - 1})`;
          await tx`
            INSERT INTO transfer_tokens (token, direction, thread, filename, username, expires_at, keys, thread_id, connection_key)
            VALUES (${token}, ${grant.direction}, ${grant.thread}, ${grant.filename}, ${grant.username}, ${grant.expiresAt}, ${stored}, ${grant.incarnation}, ${grant.connectionKey})`;
        });
        return token;
      }),
    redeem: (token, now) =>
      attempt(async () => {
        const rows = await sql<TokenRow[]>`
          DELETE FROM transfer_tokens WHERE token = ${token} RETURNING direction, thread, filename, username, expires_at, keys, thread_id`;
        const r = rows[0];
        if (r === undefined || now > Number(r.expires_at) || r.keys.length !== 2 * KEY_BYTES) return O.none;
        const direction: TransferDirection = r.direction === 'upload' ? 'upload' : 'download';
        // A token without its thread row was issued by a server of schema 4 (before the thread ids): its upload
        // could land in, its download read from, a later thread of its title, so it is refused as an invalid
        // one (it lived 60 s at most).
        if (r.thread_id === null) return O.none;
        const keys = { clientToServer: Uint8Array.from(r.keys.subarray(0, KEY_BYTES)), serverToClient: Uint8Array.from(r.keys.subarray(KEY_BYTES)) };
        const incarnation = String(r.thread_id);
        const grant: TransferGrant = { direction, thread: r.thread, filename: r.filename, username: r.username, expiresAt: Number(r.expires_at), keys, incarnation };
        return O.some(grant);
      }),
    // The session's own tokens, on whichever server it ends: another session of the account (a new login after a
    // takeover, maybe on another server) keeps its own. A token issued by a server of schema 9 names no session
    // (connection_key NULL): never matched here, its own server revokes it by username.
    revokeSession: (session) => async () => {
      await sql`DELETE FROM transfer_tokens WHERE username = ${session.username} AND connection_key = ${session.connectionKey}`.catch(() => undefined);
    },
  };
};
