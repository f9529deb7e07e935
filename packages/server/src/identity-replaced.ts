import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { IDENTITY_FILE, type ServerIdentity } from './identity-key.js';

/**
 * The data directory's own key when `--identity-file` names another file: looked at before the start, so
 * that {@link replacedIdentityWarning} needs nothing after it. `undefined`: no such key, or no other file.
 */
export const otherIdentityBeside = async (identityFile: string | undefined, dataDir: string): Promise<string | undefined> => {
  const own = join(dataDir, IDENTITY_FILE);
  if (identityFile === undefined || identityFile === own) return undefined;
  return (await lstat(own).then(() => true, () => false)) ? own : undefined;
};

/**
 * The warning for a key just created at `--identity-file` beside a data directory that holds its own (`own`,
 * from {@link otherIdentityBeside}): a mistyped or moved `--identity-file` at a restart, where the server made a
 * new key, said only `(created …)`, and every client that knew it was refused as facing an impersonator
 * (forum-client exit 5; attack round 20). `undefined` when there is nothing to say: the key was read.
 */
export const replacedIdentityWarning = (identity: ServerIdentity, own: string | undefined): string | undefined =>
  !identity.created || own === undefined
    ? undefined
    : `forum-server: warning: a new identity key was made at ${identity.path}, but the data directory holds one (${own}): ` +
      `clients that knew this server refuse the new key as an impersonator's (forum-client exit status 5) until each deletes its known_hosts line; ` +
      `if the server should keep its identity, check --identity-file`;
