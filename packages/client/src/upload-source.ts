import { constants, type Stats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { errorCode } from './error-code.js';

/** A UPD's local file, opened: its handle (the caller's to close) and its size, both of the file that was opened. */
export interface UploadSource {
  readonly handle: FileHandle;
  readonly size: number;
}

/** Why `localName` cannot be sent, from what its stat or open failed with. */
const failureText = (localName: string, e: unknown): string => {
  const code = errorCode(e);
  if (code === 'EACCES' || code === 'EPERM') return `File ${localName} cannot be read (permission denied)`;
  if (code === undefined || code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return `File ${localName} does not exist`;
  return `File ${localName} cannot be read (${code})`;
};

/** Why a file of `found`'s kind cannot be sent; `undefined` for a regular file. */
const kindProblem = (localName: string, found: Stats): string | undefined => {
  if (found.isDirectory()) return `File ${localName} is a directory, not a file`;
  // A FIFO, a socket or a device has no size to announce before its bytes (the size line comes first, and the
  // server stores the upload only once that many came): refused, not read until it ends.
  if (!found.isFile()) return `File ${localName} is not a regular file (${kindName(found)}): only a regular file can be uploaded`;
  return undefined;
};

const kindName = (found: Stats): string =>
  found.isFIFO() ? 'a named pipe' : found.isCharacterDevice() ? 'a character device' : found.isBlockDevice() ? 'a block device' : found.isSocket() ? 'a socket' : 'not a file';

/** `problem`, once the handle opened is closed (a read-only file's close has nothing to lose: its error is no news). */
const refused = async (handle: FileHandle, problem: string): Promise<{ readonly problem: string }> => {
  await handle.close().catch(() => undefined);
  return { problem };
};

/**
 * Why a regular file whose size reads 0 cannot be sent: it has bytes all the same (/proc and /sys files, whose
 * size is not known before they are read). Sent as announced, 0 bytes, the server stored an empty file and
 * said it was uploaded. `undefined`: it is empty.
 */
const sizelessProblem = async (localName: string, handle: FileHandle): Promise<string | undefined> => {
  const probe = await handle.read(Buffer.alloc(1), 0, 1, 0).then(
    (r) => r.bytesRead,
    (e: unknown) => failureText(localName, e),
  );
  if (typeof probe === 'string') return probe;
  return probe === 0 ? undefined : `File ${localName} has no size to announce (it reads 0 bytes long but has content: a /proc or /sys file?)`;
};

/**
 * Opens the local file of a UPD for sending, and checks that what was opened is a regular file: its size is
 * measured on the handle, and the bytes are read from it. Before, the file was measured by name and opened by
 * name again: a named pipe in its place by then measured 0 bytes and was sent as an empty file (stored by the
 * server as complete), and opened plainly a pipe without a writer blocks for ever. The kind is checked by
 * name first (nothing opened that is not a regular file: opening a device can act on it), and the open does
 * not block (`O_NONBLOCK`, which changes nothing for a regular file's reads).
 */
export const openUploadSource = async (localName: string): Promise<UploadSource | { readonly problem: string }> => {
  let found: Stats;
  try {
    found = await stat(localName);
  } catch (e) {
    return { problem: failureText(localName, e) };
  }
  const problem = kindProblem(localName, found);
  if (problem !== undefined) return { problem };
  let handle: FileHandle;
  try {
    handle = await open(localName, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    return { problem: failureText(localName, e) };
  }
  // What was opened, which may not be what was looked at by name a moment before.
  const opened = await handle.stat().then(
    (s) => kindProblem(localName, s) ?? s,
    (e: unknown) => failureText(localName, e),
  );
  if (typeof opened === 'string') return refused(handle, opened);
  const sizeless = opened.size === 0 ? await sizelessProblem(localName, handle) : undefined;
  return sizeless === undefined ? { handle, size: opened.size } : refused(handle, sizeless);
};

/**
 * Why the local file a UPD names cannot be sent, checked before anything is
 * sent (the spec's "rejected by the client"): `undefined` when it is a
 * regular file this process can open for reading. A directory was reported
 * as missing, and an unreadable file found out only after the server had
 * granted the upload and spent its token.
 */
export const uploadSourceProblem = async (localName: string): Promise<string | undefined> => {
  const opened = await openUploadSource(localName);
  if ('problem' in opened) return opened.problem;
  await opened.handle.close().catch(() => undefined);
  return undefined;
};
