/**
 * Each account's share of the room uploads have in the database (`maxStoredUploadBytes`, the server's
 * `--max-data-bytes` with `--store`). That limit is forum-wide, and only a thread's creator may remove its
 * uploads (RMV): one account uploading to threads of its own filled it (64 MiB in 16.4 s over loopback,
 * attack round 27), after which every other user's upload was refused, a new account's too, until the attacker
 * removed its threads. The share bounds what one account's uploads, committed and in progress, hold.
 *
 * Counted from the rows themselves (committed uploads' `size`, and the chunks of the account's pending ones),
 * read in a chunk's transaction before its insert, under an advisory lock of the account's held to the commit
 * (postgres-upload.ts): chunks of one account stored at once on any servers of the database are counted one
 * after the other, each counting the ones committed before it, so two never pass the share together. Once the
 * read came after the insert, under `upload_bytes`' row lock (its trigger, schema 7), which every chunk of every
 * account takes: the read's time, as long as the account's uploads are many (30-70 ms at 100,000 of its own,
 * which 1-byte files reach within the share), held every other user's chunk on every server. A server of the
 * code before this one, still running beside it, does not take the account's lock: while both run, an account's
 * chunks stored at once on the two may pass its share by a chunk each. Nothing is kept beside the rows, so
 * nothing can drift from them (an RMV's cascade, a discard, the sweep of a dead server's uploads all give the
 * room back as they delete the rows).
 */
import type { Sql, TransactionSql } from 'postgres';

export { defaultMaxUserUploadBytes, MIN_USER_UPLOAD_BYTES, UPLOAD_SHARE_DIVISOR } from '../store/upload-share.js';

/**
 * {@link uploaderBytes}' statement (`$1`: the uploader), apart so that its plan can be looked at (EXPLAIN). Both
 * reads find the account's rows by schema 13's index on `uploader`: without it each scanned every upload.
 */
export const UPLOADER_BYTES_QUERY = `
  SELECT COALESCE((SELECT sum(size) FROM uploads WHERE uploader = $1 AND committed), 0)
       + COALESCE((SELECT sum(octet_length(c.data)) FROM upload_chunks c JOIN uploads u ON u.id = c.upload_id
                   WHERE u.uploader = $1 AND NOT u.committed), 0) AS bytes`;

/**
 * Bytes `uploader`'s uploads hold: its committed files' sizes and its pending uploads' chunks (on every
 * server). Deleted uploads (their chunks doomed, waiting for the sweep) no longer count: their room is the
 * forum's again as soon as the sweep deletes them, and no longer the account's at once.
 */
export const uploaderBytes = async (q: Sql | TransactionSql, uploader: string): Promise<number> => {
  const rows = await q.unsafe<{ bytes: string }[]>(UPLOADER_BYTES_QUERY, [uploader]);
  return Number(rows[0]?.bytes ?? 0);
};
