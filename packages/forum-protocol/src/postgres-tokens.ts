import * as E from 'fp-ts/lib/Either.js';
import * as O from 'fp-ts/lib/Option.js';
import type * as TE from 'fp-ts/lib/TaskEither.js';
import type { Sql } from 'postgres';
import { toIoError, type StoreError } from './errors.js';
import type { TransferDirection } from './messages.js';
import { deriveTransferKeys } from './transfer-keys.js';
import { TOKEN_BYTES, type TransferGrant, type TransferTokens } from './transfer-tokens.js';

/** Options for {@link createPostgresTransferTokens}. */
export interface PostgresTokensOptions {
  /** Source of randomness, e.g. `node:crypto` `randomBytes`. */
  readonly randomBytes: (n: number) => Uint8Array;
}

const attempt = <A>(work: () => Promise<A>): TE.TaskEither<StoreError, A> => async () => {
  try {
    return E.right(await work());
  } catch (e) {
    return E.left(toIoError(e));
  }
};

interface TokenRow {
  readonly direction: string;
  readonly thread: string;
  readonly filename: string;
  readonly username: string;
  readonly expires_at: string;
  readonly keys: Uint8Array;
}

/** Bytes of one direction's key; the `keys` column holds client-to-server then server-to-client. */
const KEY_BYTES = 32;

/**
 * UPD/DWN tokens in the `transfer_tokens` table, so that the TCP connection
 * may reach any server. Redeeming is one `DELETE … RETURNING`: of two servers
 * redeeming one token at once, exactly one gets the grant. The transfer's
 * keys are derived by the issuing server (which holds the rudp session) and
 * kept in the row, so the redeeming server can seal the connection; a row
 * lives only until it is redeemed, revoked or swept after it expired.
 */
export const createPostgresTransferTokens = (sql: Sql, options: PostgresTokensOptions): TransferTokens => ({
  issue: (grant, session) =>
    attempt(async () => {
      const token = Buffer.from(options.randomBytes(TOKEN_BYTES)).toString('hex');
      const keys = deriveTransferKeys(session, token);
      const stored = Buffer.concat([keys.clientToServer, keys.serverToClient]);
      // Expired tokens are never redeemed; sweeping them here keeps the table small.
      await sql`DELETE FROM transfer_tokens WHERE expires_at < ${Date.now()}`;
      await sql`
        INSERT INTO transfer_tokens (token, direction, thread, filename, username, expires_at, keys)
        VALUES (${token}, ${grant.direction}, ${grant.thread}, ${grant.filename}, ${grant.username}, ${grant.expiresAt}, ${stored})`;
      return token;
    }),
  redeem: (token, now) =>
    attempt(async () => {
      const rows = await sql<TokenRow[]>`DELETE FROM transfer_tokens WHERE token = ${token} RETURNING direction, thread, filename, username, expires_at, keys`;
      const r = rows[0];
      if (r === undefined || now > Number(r.expires_at) || r.keys.length !== 2 * KEY_BYTES) return O.none;
      const direction: TransferDirection = r.direction === 'upload' ? 'upload' : 'download';
      const keys = { clientToServer: Uint8Array.from(r.keys.subarray(0, KEY_BYTES)), serverToClient: Uint8Array.from(r.keys.subarray(KEY_BYTES)) };
      const grant: TransferGrant = { direction, thread: r.thread, filename: r.filename, username: r.username, expiresAt: Number(r.expires_at), keys };
      return O.some(grant);
    }),
  revokeUser: (username) => async () => {
    await sql`DELETE FROM transfer_tokens WHERE username = ${username}`.catch(() => undefined);
  },
});
