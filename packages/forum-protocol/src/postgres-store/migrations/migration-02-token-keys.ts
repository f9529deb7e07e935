import type { Migration } from './migration.js';

/**
 * Migration 2: a token carries its transfer's keys (derived by the issuing server from the client's rudp session,
 * which the redeeming server does not have). Tokens of version 1 have no keys and live seconds: drop them.
 */
export const migration2: Migration = [`DELETE FROM transfer_tokens`, `ALTER TABLE transfer_tokens ADD COLUMN keys bytea NOT NULL`];
