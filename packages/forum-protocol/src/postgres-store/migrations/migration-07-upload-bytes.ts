import type { Migration } from './migration.js';

/**
 * Migration 7: the bytes of every upload's chunks, committed or pending, in one row kept by triggers in the
 * transaction that inserts or deletes them (RMV's cascade included), so that a limit on what uploads may
 * hold in the database (`maxStoredUploadBytes`, postgres-upload.ts) is one row to read, not a sum of every
 * chunk, and holds over every server: a chunk's insert and the row's update commit together, and the row's
 * lock puts concurrent inserts one after another. Before, with --store nothing bounded the bytes uploads
 * held but each file's size: one account's 4 uploads at a time filled the database's disk. The count is
 * filled from the chunks under the table's lock (a server of schema 6 still running waits for it, then is
 * counted by the triggers too). May run again.
 */
export const migration7: Migration = [
  `LOCK TABLE upload_chunks IN EXCLUSIVE MODE`,
  `CREATE TABLE IF NOT EXISTS upload_bytes (id integer PRIMARY KEY CHECK (id = 1), bytes bigint NOT NULL)`,
  `DELETE FROM upload_bytes`,
  `INSERT INTO upload_bytes (id, bytes) SELECT 1, COALESCE(sum(octet_length(data)), 0) FROM upload_chunks`,
  // Statement triggers with the rows changed: a cascade deleting an upload's 4,096 chunks updates the row once.
  `CREATE OR REPLACE FUNCTION forum_count_upload_bytes() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
     BEGIN
       IF TG_OP = 'INSERT' THEN
         UPDATE upload_bytes SET bytes = bytes + (SELECT COALESCE(sum(octet_length(data)), 0) FROM added);
       ELSE
         UPDATE upload_bytes SET bytes = bytes - (SELECT COALESCE(sum(octet_length(data)), 0) FROM removed);
       END IF;
       RETURN NULL;
     END $$`,
  `CREATE OR REPLACE TRIGGER upload_bytes_added AFTER INSERT ON upload_chunks REFERENCING NEW TABLE AS added
     FOR EACH STATEMENT EXECUTE FUNCTION forum_count_upload_bytes()`,
  `CREATE OR REPLACE TRIGGER upload_bytes_removed AFTER DELETE ON upload_chunks REFERENCING OLD TABLE AS removed
     FOR EACH STATEMENT EXECUTE FUNCTION forum_count_upload_bytes()`,
];
