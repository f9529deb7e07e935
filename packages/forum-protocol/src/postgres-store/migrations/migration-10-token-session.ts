import type { Migration } from './migration.js';

/**
 * Migration 10: a transfer token names the session it was issued to (connection_key: the lease's, `Session.connectionKey`),
 * and a session's end revokes only its own tokens (postgres-tokens.ts). Before, it revoked every token of its
 * username: an account taken over (its lease lapsed, a new login on another server) had the new session's
 * tokens deleted by the old session's clean-up, and its upload or download refused. Nullable, no default: a
 * metadata change, and a server of schema 9 still running inserts tokens without it (NULL). Those stay
 * redeemable by any server (nothing a redeemer checks is missing); a schema 10 server's revocation never
 * matches them, their own server's revokes them by username as before. So while a schema 9 server runs, its
 * sessions' ends still revoke every token of their account, a schema 10 server's included (the old behaviour,
 * for the sessions it serves); a schema 10 server's ends revoke only their own. May run again.
 */
export const migration10: Migration = [`ALTER TABLE transfer_tokens ADD COLUMN IF NOT EXISTS connection_key text`];
