import type { Migration } from './migration.js';

/**
 * Migration 14: the two per-account shares kept in counters, not summed from the rows at each request. The upload share
 * summed the account's uploads for every 256 KiB chunk (with 100,000 1-byte files of its own some 30 ms a chunk,
 * with a million 0.3 s; the byte share allows both), and a non-creator's share of a thread read every line of
 * the thread under its row's lock (a thread of 10,000 lines: about 50 ms a MSG, every other change of the thread
 * waiting): see SECURITY.md. `uploader_bytes` holds what postgres-upload-share.ts counted (a committed upload's
 * size, a pending one's chunks), `thread_holdings` each account's lines in a thread: how many, how many are
 * messages, and their reply bytes without the messages' numbers (which a DLT before them changes:
 * postgres-thread-share.ts adds them when it reads). Both are kept by triggers in the transaction that writes
 * the rows, whichever server writes them: a server of schema 13 still running keeps them exact too (it reads
 * its shares from the rows, as before). Filled here under the tables' locks (a server of
 * schema 13 waits for the migration). Rows are locked in one order (by uploader; by thread, account), and a
 * thread's holdings only under its row's lock (every writer of its lines takes it first): no deadlock. A
 * removed thread's lines are not counted out one by one: its holdings go with it (the foreign key's cascade).
 * May run again (IF NOT EXISTS, refilled).
 */
export const migration14: Migration = [
  `LOCK TABLE threads, entries, uploads, upload_chunks IN EXCLUSIVE MODE`,
  `CREATE TABLE IF NOT EXISTS uploader_bytes (uploader text PRIMARY KEY, bytes bigint NOT NULL)`,
  `DELETE FROM uploader_bytes`,
  // What an upload row holds of its uploader's share: a committed one its size, a pending one its chunks
  // (their lengths only: octet_length reads a stored chunk's header, not its bytes). Written out in each
  // statement below, not as a function: one with a subquery is not inlined, and is called once a row.
  `INSERT INTO uploader_bytes (uploader, bytes)
     SELECT uploader, sum(held) FROM (
       SELECT uploader, size AS held FROM uploads WHERE committed
       UNION ALL
       SELECT u.uploader, octet_length(c.data) FROM upload_chunks c JOIN uploads u ON u.id = c.upload_id WHERE NOT u.committed) x
     GROUP BY uploader`,
  // Changes of many accounts' rows at once (RMV's cascade, the sweep of dead servers' uploads) add to their
  // counters in the uploaders' order, so that two such never wait for each other's rows.
  `CREATE OR REPLACE FUNCTION forum_count_uploader_bytes() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
     BEGIN
       IF TG_TABLE_NAME = 'upload_chunks' AND TG_OP = 'INSERT' THEN
         -- A chunk counts while its upload is pending; a committed one counts its size.
         INSERT INTO uploader_bytes AS b (uploader, bytes)
           SELECT u.uploader, sum(octet_length(a.data)) FROM added a JOIN uploads u ON u.id = a.upload_id AND NOT u.committed
           GROUP BY u.uploader ORDER BY u.uploader
           ON CONFLICT (uploader) DO UPDATE SET bytes = b.bytes + EXCLUDED.bytes;
       ELSIF TG_TABLE_NAME = 'upload_chunks' THEN
         -- Chunks of a deleted upload (the sweeper's) no longer counted: only those of a pending upload still there.
         INSERT INTO uploader_bytes AS b (uploader, bytes)
           SELECT u.uploader, -sum(octet_length(r.data)) FROM removed r JOIN uploads u ON u.id = r.upload_id AND NOT u.committed
           GROUP BY u.uploader ORDER BY u.uploader
           ON CONFLICT (uploader) DO UPDATE SET bytes = b.bytes + EXCLUDED.bytes;
       ELSIF TG_OP = 'INSERT' THEN
         INSERT INTO uploader_bytes AS b (uploader, bytes)
           SELECT a.uploader, sum(CASE WHEN a.committed THEN a.size ELSE (SELECT COALESCE(sum(octet_length(c.data)), 0) FROM upload_chunks c WHERE c.upload_id = a.id) END) FROM added a GROUP BY a.uploader ORDER BY a.uploader
           ON CONFLICT (uploader) DO UPDATE SET bytes = b.bytes + EXCLUDED.bytes;
       ELSIF TG_OP = 'DELETE' THEN
         -- A pending upload's chunks are still there (doomed, the sweeper deletes them after this commits).
         INSERT INTO uploader_bytes AS b (uploader, bytes)
           SELECT r.uploader, -sum(CASE WHEN r.committed THEN r.size ELSE (SELECT COALESCE(sum(octet_length(c.data)), 0) FROM upload_chunks c WHERE c.upload_id = r.id) END) FROM removed r GROUP BY r.uploader ORDER BY r.uploader
           ON CONFLICT (uploader) DO UPDATE SET bytes = b.bytes + EXCLUDED.bytes;
       ELSE
         -- A commit: the pending upload's chunks become its size (the same bytes, unless a writer says otherwise).
         INSERT INTO uploader_bytes AS b (uploader, bytes)
           SELECT who, sum(held) FROM (VALUES (OLD.uploader, -(CASE WHEN OLD.committed THEN OLD.size ELSE (SELECT COALESCE(sum(octet_length(c.data)), 0) FROM upload_chunks c WHERE c.upload_id = OLD.id) END)),
                                              (NEW.uploader, CASE WHEN NEW.committed THEN NEW.size ELSE (SELECT COALESCE(sum(octet_length(c.data)), 0) FROM upload_chunks c WHERE c.upload_id = NEW.id) END)) AS d (who, held)
           GROUP BY who ORDER BY who
           ON CONFLICT (uploader) DO UPDATE SET bytes = b.bytes + EXCLUDED.bytes;
       END IF;
       RETURN NULL;
     END $$`,
  // Named to fire before upload_bytes_added (a table's triggers fire in their names' order): a chunk takes its
  // account's counter row, then the forum's, so that a transaction holding only the account's (its commit, an
  // RMV) holds back that account's chunks, not every user's through the forum's row.
  `CREATE OR REPLACE TRIGGER account_bytes_chunk_added AFTER INSERT ON upload_chunks REFERENCING NEW TABLE AS added
     FOR EACH STATEMENT EXECUTE FUNCTION forum_count_uploader_bytes()`,
  `CREATE OR REPLACE TRIGGER account_bytes_chunk_removed AFTER DELETE ON upload_chunks REFERENCING OLD TABLE AS removed
     FOR EACH STATEMENT EXECUTE FUNCTION forum_count_uploader_bytes()`,
  `CREATE OR REPLACE TRIGGER uploader_bytes_upload_added AFTER INSERT ON uploads REFERENCING NEW TABLE AS added
     FOR EACH STATEMENT EXECUTE FUNCTION forum_count_uploader_bytes()`,
  `CREATE OR REPLACE TRIGGER uploader_bytes_upload_removed AFTER DELETE ON uploads REFERENCING OLD TABLE AS removed
     FOR EACH STATEMENT EXECUTE FUNCTION forum_count_uploader_bytes()`,
  // Only an update that changes what the row holds: not a lease's renewal (every chunk, every heartbeat).
  `CREATE OR REPLACE TRIGGER uploader_bytes_upload_changed AFTER UPDATE OF committed, size, uploader, id ON uploads FOR EACH ROW
     WHEN (OLD.committed IS DISTINCT FROM NEW.committed OR OLD.size IS DISTINCT FROM NEW.size OR OLD.uploader IS DISTINCT FROM NEW.uploader OR OLD.id IS DISTINCT FROM NEW.id)
     EXECUTE FUNCTION forum_count_uploader_bytes()`,
  `CREATE TABLE IF NOT EXISTS thread_holdings (
       thread text NOT NULL REFERENCES threads (title) ON DELETE CASCADE,
       account text NOT NULL,
       entries integer NOT NULL,
       messages integer NOT NULL,
       bytes bigint NOT NULL,
       PRIMARY KEY (thread, account))`,
  // A line's bytes in the RDT reply (its JSON and comma, as schema 3's reply_bytes counts them), a message's
  // without its number: the number is ASCII digits, which JSON writes as they are, ahead of the rest.
  `CREATE OR REPLACE FUNCTION forum_line_bytes_unnumbered(line_kind text, line_author text, line_body text) RETURNS bigint
     LANGUAGE sql STABLE AS $$
       SELECT (CASE line_kind WHEN 'message' THEN octet_length(to_json(' ' || line_author || ': ' || line_body)::text)
                              ELSE octet_length(to_json(line_author || ' uploaded ' || line_body)::text) END + 1)::bigint
     $$`,
  `DELETE FROM thread_holdings`,
  `INSERT INTO thread_holdings (thread, account, entries, messages, bytes)
     SELECT thread, author, count(*), count(*) FILTER (WHERE kind = 'message'), sum(forum_line_bytes_unnumbered(kind, author, body))
     FROM entries WHERE kind IN ('message', 'upload') GROUP BY thread, author`,
  // Lines of a thread already deleted in the transaction (RMV's cascade) are left out: their holdings go with it.
  `CREATE OR REPLACE FUNCTION forum_count_holdings() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
     BEGIN
       IF TG_OP = 'INSERT' THEN
         INSERT INTO thread_holdings AS h (thread, account, entries, messages, bytes)
           SELECT thread, author, count(*), count(*) FILTER (WHERE kind = 'message'), sum(forum_line_bytes_unnumbered(kind, author, body))
           FROM added WHERE kind IN ('message', 'upload') GROUP BY thread, author ORDER BY thread, author
           ON CONFLICT (thread, account) DO UPDATE SET entries = h.entries + EXCLUDED.entries, messages = h.messages + EXCLUDED.messages, bytes = h.bytes + EXCLUDED.bytes;
       ELSIF TG_OP = 'DELETE' THEN
         -- A thread's lines are deleted with it by one statement of their own (the cascade): its first line's
         -- thread gone, so is every line's. Not read then: RMV of 10,000 lines read them all, to count none
         -- (15-20 ms more of a 20-40 ms RMV under the thread's lock, a loaded 2-core machine).
         IF EXISTS (SELECT 1 FROM threads WHERE title = (SELECT thread FROM removed LIMIT 1)) THEN
           INSERT INTO thread_holdings AS h (thread, account, entries, messages, bytes)
             SELECT thread, author, -count(*), -count(*) FILTER (WHERE kind = 'message'), -sum(forum_line_bytes_unnumbered(kind, author, body))
             FROM removed WHERE kind IN ('message', 'upload') AND thread IN (SELECT title FROM threads WHERE title IN (SELECT thread FROM removed))
             GROUP BY thread, author ORDER BY thread, author
             ON CONFLICT (thread, account) DO UPDATE SET entries = h.entries + EXCLUDED.entries, messages = h.messages + EXCLUDED.messages, bytes = h.bytes + EXCLUDED.bytes;
         END IF;
       ELSE
         INSERT INTO thread_holdings AS h (thread, account, entries, messages, bytes)
           SELECT thread, author, sum(e), sum(m), sum(b) FROM (
             SELECT thread, author, 1 AS e, (kind = 'message')::int AS m, forum_line_bytes_unnumbered(kind, author, body) AS b
             FROM added WHERE kind IN ('message', 'upload')
             UNION ALL
             SELECT thread, author, -1, -((kind = 'message')::int), -forum_line_bytes_unnumbered(kind, author, body)
             FROM removed WHERE kind IN ('message', 'upload')) d
           WHERE thread IN (SELECT title FROM threads WHERE title IN (SELECT thread FROM added))
           GROUP BY thread, author ORDER BY thread, author
           ON CONFLICT (thread, account) DO UPDATE SET entries = h.entries + EXCLUDED.entries, messages = h.messages + EXCLUDED.messages, bytes = h.bytes + EXCLUDED.bytes;
       END IF;
       RETURN NULL;
     END $$`,
  `CREATE OR REPLACE TRIGGER thread_holdings_added AFTER INSERT ON entries REFERENCING NEW TABLE AS added
     FOR EACH STATEMENT EXECUTE FUNCTION forum_count_holdings()`,
  `CREATE OR REPLACE TRIGGER thread_holdings_removed AFTER DELETE ON entries REFERENCING OLD TABLE AS removed
     FOR EACH STATEMENT EXECUTE FUNCTION forum_count_holdings()`,
  `CREATE OR REPLACE TRIGGER thread_holdings_changed AFTER UPDATE ON entries REFERENCING OLD TABLE AS removed NEW TABLE AS added
     FOR EACH STATEMENT EXECUTE FUNCTION forum_count_holdings()`,
  // The account's messages in a thread by position: how many of them are numbered past 10, 100, 1,000 and 10,000
  // (their numbers' digits) is counted here, from the index alone (postgres-thread-share.ts).
  `CREATE INDEX IF NOT EXISTS entries_author_messages ON entries (thread, author, pos) WHERE kind = 'message'`,
];
