import type { Migration } from './migration.js';

/**
 * Migration 8: an upload's row deleted (RMV's cascade, a discard, the sweep of stale uploads) no longer deletes its
 * chunks in the same transaction: its id goes to `doomed_uploads`, and each server's sweeper
 * (postgres-doomed-uploads.ts) deletes the chunks after, in small transactions. RMV of a thread holding
 * GiBs deleted every chunk before it answered (1 GiB: 2.4 to 5 s; from about 1.6 GiB past the client's
 * 8 s wait, the client said the server was unreachable while it went on deleting). The foreign key from
 * the chunks to their upload goes (it cascaded the deletion); a trigger keeps its check, raising the
 * foreign key's SQLSTATE as it did, so a chunk is never stored for a row already gone (a writer of any
 * schema reads that as its thread removed). A server of schema 7 still running keeps working: its RMV and
 * discards get the detached deletion too (through the trigger); its downloads in flight of a removed
 * thread's file on another server are not stopped until the sweeper deletes their chunks (from the last).
 * May run again.
 */
export const migration8: Migration = [
  `CREATE TABLE IF NOT EXISTS doomed_uploads (id bigint PRIMARY KEY, doomed_at timestamptz NOT NULL DEFAULT now())`,
  `CREATE OR REPLACE FUNCTION forum_doom_upload_chunks() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
     BEGIN
       INSERT INTO doomed_uploads (id) SELECT id FROM removed ON CONFLICT DO NOTHING;
       RETURN NULL;
     END $$`,
  `CREATE OR REPLACE TRIGGER uploads_doomed AFTER DELETE ON uploads REFERENCING OLD TABLE AS removed
     FOR EACH STATEMENT EXECUTE FUNCTION forum_doom_upload_chunks()`,
  // As the foreign key checked: the upload's row locked (KEY SHARE) until the chunk commits, so a deletion
  // of the row waits for it, and the chunk is in the table before its id is doomed.
  `CREATE OR REPLACE FUNCTION forum_chunk_of_live_upload() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
     BEGIN
       PERFORM 1 FROM uploads WHERE id = NEW.upload_id FOR KEY SHARE;
       IF NOT FOUND THEN
         RAISE EXCEPTION 'upload % is gone (its thread was removed)', NEW.upload_id USING ERRCODE = 'foreign_key_violation';
       END IF;
       RETURN NEW;
     END $$`,
  `CREATE OR REPLACE TRIGGER upload_chunks_of_live_upload BEFORE INSERT OR UPDATE OF upload_id ON upload_chunks
     FOR EACH ROW EXECUTE FUNCTION forum_chunk_of_live_upload()`,
  `ALTER TABLE upload_chunks DROP CONSTRAINT IF EXISTS upload_chunks_upload_id_fkey`,
];
