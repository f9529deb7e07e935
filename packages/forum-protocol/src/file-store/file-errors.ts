/** What a failed file operation says, and the unlink that tolerates a file already gone. */
import { readFile, unlink } from 'node:fs/promises';
import { systemErrorCode } from '../store/system-error-code.js';

/** The `code` of a Node file-system error (`ENOENT`, `EISDIR`, …), or the error as text. */
export const errorCode = (e: unknown): string => systemErrorCode(e) ?? String(e);

/** Whether `e` says the file does not exist. */
export const isEnoent = (e: unknown): boolean => errorCode(e) === 'ENOENT';

/** Deletes `file`; one that is not there is no error. */
export const unlinkIfPresent = (file: string): Promise<void> => unlink(file).catch((e: unknown) => (isEnoent(e) ? undefined : Promise.reject(e)));

/** The bytes of `file`, or `undefined` if it is not there (any other failure is thrown). */
export const readFileIfPresent = (file: string): Promise<Buffer | undefined> =>
  readFile(file).catch((e: unknown) => (isEnoent(e) ? undefined : Promise.reject(e)));
