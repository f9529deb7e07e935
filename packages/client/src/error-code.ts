import { systemErrorCode } from 'forum-protocol';

/**
 * The `code` of a failed system call's error (`ENOENT`, `EACCES`, `EEXIST`, …), or `undefined` when `e`
 * carries none: forum-protocol's reading, under the name the client's modules use.
 */
export const errorCode: (e: unknown) => string | undefined = systemErrorCode;
