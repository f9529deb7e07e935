import type { Migration } from './migration.js';

/**
 * Migration 3: a thread's size (thread-size.ts) kept on its row, in the transaction that changes its lines, so that
 * a MSG checks the thread's limits without reading its lines. Filled here for the threads already written:
 * reply_bytes is the RDT reply's lines as a JSON array (to_json escapes as JSON.stringify does, for any
 * text PostgreSQL can hold), each line with a comma, and 2 for the brackets.
 */
export const migration3: Migration = [
  `ALTER TABLE threads
       ADD COLUMN entry_count integer NOT NULL DEFAULT 0,
       ADD COLUMN message_count integer NOT NULL DEFAULT 0,
       ADD COLUMN reply_bytes bigint NOT NULL DEFAULT 2`,
  `UPDATE threads t SET entry_count = s.entries, message_count = s.messages, reply_bytes = 2 + s.bytes
     FROM (
       SELECT thread, count(*) AS entries, count(*) FILTER (WHERE kind = 'message') AS messages,
              sum(octet_length(to_json(CASE kind
                WHEN 'message' THEN n || ' ' || author || ': ' || body
                WHEN 'upload' THEN author || ' uploaded ' || body
                ELSE body END)::text) + 1) AS bytes
       FROM (SELECT thread, kind, author, body, count(*) FILTER (WHERE kind = 'message') OVER (PARTITION BY thread ORDER BY pos) AS n FROM entries) numbered
       GROUP BY thread) s
     WHERE t.title = s.thread`,
];
