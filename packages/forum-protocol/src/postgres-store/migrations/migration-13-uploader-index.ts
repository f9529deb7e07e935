import type { Migration } from './migration.js';

/**
 * Migration 13: each account's share of the uploads' room (postgres-upload-share.ts, attack round 27) reads the account's
 * uploads for every 256 KiB chunk stored and every upload begun; with no index on `uploader` that read scanned
 * every upload of every account (100,000 uploads of others: see the forum-protocol README). Built in the
 * migration's transaction (CREATE INDEX CONCURRENTLY cannot run in one): uploads by servers of schema 12 still
 * running wait for it, as for any migration's lock (some 0.1 s a 100,000 uploads). Nothing else changes:
 * a server of schema 12 writes its rows and reads the share as before, and the index keeps their rows too.
 * May run again (IF NOT EXISTS).
 */
export const migration13: Migration = [`CREATE INDEX IF NOT EXISTS uploads_uploader ON uploads (uploader)`];
