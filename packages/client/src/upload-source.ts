import type { Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { errorCode } from './error-code.js';

/**
 * Why the local file a UPD names cannot be sent, checked before anything is
 * sent (the spec's "rejected by the client"): `undefined` when it is a
 * regular file this process can open for reading. A directory was reported
 * as missing, and an unreadable file found out only after the server had
 * granted the upload and spent its token.
 */
export const uploadSourceProblem = async (localName: string): Promise<string | undefined> => {
  const unreadable = `File ${localName} cannot be read (permission denied)`;
  let found: Stats;
  try {
    found = await stat(localName);
  } catch (e) {
    return errorCode(e) === 'EACCES' ? unreadable : `File ${localName} does not exist`;
  }
  if (found.isDirectory()) return `File ${localName} is a directory, not a file`;
  if (!found.isFile()) return `File ${localName} is not a regular file`;
  // Opened, as the upload will (access(2) would judge by the real user, not the effective one).
  return open(localName, 'r').then(
    (handle) => handle.close().then(() => undefined),
    (e: unknown) => (errorCode(e) === 'EACCES' ? unreadable : `File ${localName} cannot be read (${errorCode(e) ?? String(e)})`),
  );
};
