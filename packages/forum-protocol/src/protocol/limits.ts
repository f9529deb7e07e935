/**
 * Wire and name limits. They bound what one unauthenticated peer can make the
 * server hold, and they are chosen so that every request passing the codec's
 * field limits also fits in {@link MAX_REQUEST_BYTES} once encoded (JSON
 * escapes at most 6 bytes per UTF-8 byte: 3 × 4096 × 6 + small fields < 96 KiB).
 */

/** Largest encoded request `decode` accepts, in bytes. */
export const MAX_REQUEST_BYTES = 98_304;
/** Largest encoded server message `decodeServerMessage` accepts, in bytes (RDT of a long thread). */
export const MAX_SERVER_MESSAGE_BYTES = 8 * 1024 * 1024;
/**
 * Largest a thread may grow to, measured as its RDT reply's lines in JSON,
 * in bytes. MSG, EDT and UPD refuse to go past it, so every thread stays readable:
 * its reply always fits in {@link MAX_SERVER_MESSAGE_BYTES} with room to
 * spare (half of it, so one reader holds at most this much), however its
 * text escapes (a control character takes 6 bytes in JSON).
 */
export const MAX_THREAD_REPLY_BYTES = MAX_SERVER_MESSAGE_BYTES / 2;
/**
 * Most lines (messages and upload lines) a thread may grow to (MSG and UPD
 * refuse to go past it, see thread-growth.ts). Each change
 * of a thread walks its entries a few times (copying, numbering, checking),
 * so a thread of 250,000 one-character messages, which fits the reply limit,
 * cost about 25 ms of CPU per MSG; at this many, about 1 ms.
 */
export const MAX_THREAD_ENTRIES = 10_000;
/** Largest single argument (a title, a file name, a message text), in UTF-8 bytes. */
export const MAX_ARG_BYTES = 4096;
/** Most arguments a request may carry (`EDT title N message` has three). */
export const MAX_ARGS = 3;
/** Longest request id, in characters. */
export const MAX_ID_LENGTH = 64;
/** Longest user name or password, in UTF-8 bytes. */
export const MAX_CREDENTIAL_BYTES = 64;
/** Longest thread title or file name, in UTF-8 bytes (so `TITLE-FILENAME` stays under 255). */
export const MAX_NAME_BYTES = 100;

const encoder = new TextEncoder();

/** Length of `s` in UTF-8 bytes. */
export const utf8Length = (s: string): number => encoder.encode(s).length;
