/**
 * The default share of the uploads' room one account may hold, on either store: the PostgreSQL store's
 * `maxUserUploadBytes` of `maxStoredUploadBytes`, the data directory's of the server's disk quota
 * (`--max-data-bytes`). Without a share one account filled that room with uploads to its own threads, and
 * every other user's upload was refused until it removed them (attack round 27).
 */

/** The share is this fraction of all uploads' room by default (`1/16`). */
export const UPLOAD_SHARE_DIVISOR = 16;

/** The least default share, bytes (1 MiB), so that a small forum-wide limit still takes a user's file. */
export const MIN_USER_UPLOAD_BYTES = 1024 * 1024;

/**
 * The default share of an upload room of `maxStoredUploadBytes`: 1/{@link UPLOAD_SHARE_DIVISOR} of it, at
 * least {@link MIN_USER_UPLOAD_BYTES}, at most all of it.
 */
export const defaultMaxUserUploadBytes = (maxStoredUploadBytes: number): number =>
  Math.min(maxStoredUploadBytes, Math.max(MIN_USER_UPLOAD_BYTES, Math.floor(maxStoredUploadBytes / UPLOAD_SHARE_DIVISOR)));
