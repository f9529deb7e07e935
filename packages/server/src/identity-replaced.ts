import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { IDENTITY_FILE, type ServerIdentity } from './identity-key.js';

/**
 * The warning for a key just created at `--identity-file` beside a data directory that holds its own key: a
 * mistyped or moved `--identity-file` at a restart, where the server made a new key, said only `(created …)`
 * and every client that knew it was refused as facing an impersonator (forum-client exit 5; attack round 20).
 * `undefined` when there is nothing to say: the key was read, or no other key is there.
 */
export const replacedIdentityWarning = async (identity: ServerIdentity, dataDir: string): Promise<string | undefined> => {
  if (!identity.created) return undefined;
  const own = join(dataDir, IDENTITY_FILE);
  if (own === identity.path || !(await lstat(own).then(() => true, () => false))) return undefined;
  return (
    `forum-server: warning: a new identity key was made at ${identity.path}, but the data directory holds one (${own}): ` +
    `clients that knew this server refuse the new key as an impersonator's (forum-client exit status 5) until each deletes its known_hosts line; ` +
    `if the server should keep its identity, check --identity-file`
  );
};
