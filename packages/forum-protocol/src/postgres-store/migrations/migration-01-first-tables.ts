import type { Migration } from './migration.js';

/**
 * Migration 1: accounts, threads and their lines, uploads in chunks, session leases, transfer tokens.
 */
export const migration1: Migration = [
  `CREATE TABLE accounts (username text PRIMARY KEY, secret text NOT NULL)`,
  `CREATE TABLE threads (title text PRIMARY KEY, creator text NOT NULL)`,
  // One row per line after the creator line; messages are numbered by their order (pos), as in the thread file.
  // message: author + text; upload: author = uploader, body = file name; other: body = the verbatim line.
  `CREATE TABLE entries (
       thread text NOT NULL REFERENCES threads (title) ON DELETE CASCADE,
       pos bigint NOT NULL,
       kind text NOT NULL CHECK (kind IN ('message', 'upload', 'other')),
       author text NOT NULL,
       body text NOT NULL,
       PRIMARY KEY (thread, pos))`,
  // An upload is pending (invisible) until its commit sets committed and adds the thread's line, in one transaction.
  `CREATE TABLE uploads (
       id bigserial PRIMARY KEY,
       thread text NOT NULL REFERENCES threads (title) ON DELETE CASCADE,
       filename text NOT NULL,
       uploader text NOT NULL,
       size bigint NOT NULL DEFAULT 0,
       committed boolean NOT NULL DEFAULT false,
       touched_at timestamptz NOT NULL DEFAULT now())`,
  `CREATE UNIQUE INDEX uploads_committed_name ON uploads (thread, filename) WHERE committed`,
  `CREATE TABLE upload_chunks (
       upload_id bigint NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
       seq integer NOT NULL,
       data bytea NOT NULL,
       PRIMARY KEY (upload_id, seq))`,
  // One live session per account across servers; a lease not renewed by its server's heartbeat expires.
  `CREATE TABLE session_leases (
       username text PRIMARY KEY,
       server_id text NOT NULL,
       connection_key text NOT NULL,
       expires_at timestamptz NOT NULL)`,
  `CREATE INDEX session_leases_server ON session_leases (server_id)`,
  // Single-use UPD/DWN tokens, redeemable on any server; expires_at is ms since the epoch.
  `CREATE TABLE transfer_tokens (
       token text PRIMARY KEY,
       direction text NOT NULL CHECK (direction IN ('upload', 'download')),
       thread text NOT NULL,
       filename text NOT NULL,
       username text NOT NULL,
       expires_at bigint NOT NULL)`,
  `CREATE INDEX transfer_tokens_user ON transfer_tokens (username)`,
  `CREATE INDEX transfer_tokens_expiry ON transfer_tokens (expires_at)`,
];
