/**
 * Each account's share of the room uploads have in the database (`maxStoredUploadBytes`, the server's
 * `--max-data-bytes` with `--store`). That limit is forum-wide, and only a thread's creator may remove its
 * uploads (RMV): one account uploading to threads of its own filled it (64 MiB in 16.4 s over loopback,
 * attack round 27), after which every other user's upload was refused, a new account's too, until the attacker
 * removed its threads. The share bounds what one account's uploads, committed and in progress, hold.
 *
 * Read from the account's counter (`uploader_bytes`, schema 14: committed uploads' `size`, and the chunks of
 * its pending ones), in a chunk's transaction before its insert, under an advisory lock of the account's held
 * to the commit (postgres-upload.ts): chunks of one account stored at once on any servers of the database are
 * counted one after the other, each counting the ones committed before it, so two never pass the share
 * together. The counter is kept by the database's triggers in the transaction that writes the rows (a chunk's
 * insert, a commit, a deletion: RMV's cascade, a discard, the sweep of a dead server's uploads), whichever
 * server writes them. Until schema 14 the share was summed from the rows at each chunk, as long as the
 * account's uploads are many (30 ms a chunk at 100,000 of its own 1-byte files, 0.3 s at a million: see the
 * forum-protocol README). Before that the read came after the insert, under `upload_bytes`' row lock, which
 * every chunk of every account takes, and held every other user's chunk meanwhile. A server of schema 13
 * still running beside this one writes the same rows (the triggers count them) and sums them for its read (the
 * same bytes, more slowly), under the same lock if its code has it (since 596ab80b); an older one takes no
 * lock: while it runs, an account's chunks stored at once on it and another server may pass its share by a
 * chunk each.
 */
import type { Sql, TransactionSql } from 'postgres';

export { defaultMaxUserUploadBytes, MIN_USER_UPLOAD_BYTES, UPLOAD_SHARE_DIVISOR } from '../store/upload-share.js';

/**
 * The bytes of `$1`'s uploads summed from the rows, as schema 13's servers read the share (and tests check
 * the counter by). Both reads find the account's rows by schema 13's index on `uploader`.
 */
export const UPLOADER_BYTES_RECOUNT = `
  SELECT COALESCE((SELECT sum(size) FROM uploads WHERE uploader = $1 AND committed), 0)
       + COALESCE((SELECT sum(octet_length(c.data)) FROM upload_chunks c JOIN uploads u ON u.id = c.upload_id
                   WHERE u.uploader = $1 AND NOT u.committed), 0) AS bytes`;

/**
 * Bytes `uploader`'s uploads hold: its committed files' sizes and its pending uploads' chunks (on every
 * server), one row's read. Deleted uploads (their chunks doomed, waiting for the sweep) no longer count:
 * their room is the forum's again as soon as the sweep deletes them, and no longer the account's at once.
 */
export const uploaderBytes = async (q: Sql | TransactionSql, uploader: string): Promise<number> => {
  const rows = await q<{ bytes: string }[]>`SELECT bytes FROM uploader_bytes WHERE uploader = ${uploader}`;
  return Number(rows[0]?.bytes ?? 0);
};
