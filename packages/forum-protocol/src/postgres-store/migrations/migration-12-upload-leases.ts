import type { Migration } from './migration.js';

/**
 * Migration 12: a pending upload's lease (postgres-upload-leases.ts), renewed by its server with each chunk and a heartbeat:
 * one that lapsed belongs to a server that is gone, and any server deletes it when its room is needed. Only
 * the sweep of stale uploads (10 minutes untouched) took a killed server's half upload, whose bytes counted
 * against maxStoredUploadBytes meanwhile: a 4 MiB upload under a 5 MiB limit was refused "remove threads to
 * make room" for 10 minutes after a server died 2 MiB into another (attack round 18). Nullable, no default: a
 * metadata change, and a server of schema 11 still running inserts rows without it (NULL), left to the
 * stale sweep as before. The partial index finds the pending rows among every committed one. May run again.
 */
export const migration12: Migration = [
  `ALTER TABLE uploads ADD COLUMN IF NOT EXISTS lease_expires_at timestamptz`,
  `CREATE INDEX IF NOT EXISTS uploads_pending_lease ON uploads (lease_expires_at) WHERE NOT committed`,
];
