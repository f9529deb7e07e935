/**
 * The server's identity: an X25519 key pair kept in the data directory (or
 * the `--identity-file`), created on first start (file mode 0600, written
 * whole and linked into place; created exclusively, `wx`, where the file
 * system has no hard links). Clients pin its public key (their
 * known-hosts file), so keeping the file is what keeps them trusting this server.
 */
import { link, mkdir, open, readdir, readFile, readlink, stat, unlink } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fingerprint, fromHex, nodeCryptoProvider, toHex, type KeyPair } from 'rudpx';
import { systemErrorCode } from 'forum-protocol';
import { createWhole, type WholeFileFs, type WholeFileOutcome } from './no-hard-links.js';
import { notWritableReason } from './unwritable-files.js';

/** The key file's name in the data directory (a leading dot: no thread or upload can take it). */
export const IDENTITY_FILE = '.forum-server-identity';

/** A loaded identity. */
export interface ServerIdentity {
  readonly keyPair: KeyPair;
  /** `SHA256:…`, what clients print and record. */
  readonly fingerprint: string;
  readonly path: string;
  /** Whether this call created the file. */
  readonly created: boolean;
  /** Whether this call created the file's directory too (it did not exist). */
  readonly createdDirectory?: boolean;
}

/** Where {@link loadOrCreateIdentity} may make a missing key's directory. */
export interface IdentityOptions {
  /**
   * Whether a key file whose directory does not exist is created, directory and all (default `true`): a server
   * started with `--identity-file` in a mistyped directory refuses instead (a new key is a new identity).
   */
  readonly makeDirectory?: boolean;
}

/**
 * The log line for a key this start created (`undefined` for one it loaded): a new key is a new identity,
 * which every client that pinned this server's old key refuses, so a mistyped path (or a lost key file) must
 * not pass unsaid beside the fingerprint.
 */
export const createdIdentityNotice = (identity: ServerIdentity): string | undefined =>
  identity.created
    ? `forum-server: created a new identity key ${identity.path}${identity.createdDirectory === true ? ` (and its directory ${dirname(identity.path)}, which did not exist)` : ''}, ` +
      `fingerprint ${identity.fingerprint}: clients that pinned another key for this server will refuse it. ` +
      `If this server had a key, stop it and give that key's path (--identity-file, or the --data-dir that holds it)`
    : undefined;

const HEADER = '# forum-server identity key (X25519). Keep it secret: whoever has it can pose as this server.\n';
const LINE = /^x25519-private ([0-9a-f]{64})$/m;

const identityOf = (keyPair: KeyPair, path: string, created: boolean): ServerIdentity => ({
  keyPair,
  fingerprint: fingerprint(nodeCryptoProvider, keyPair.publicKey),
  path,
  created,
});

const load = async (path: string): Promise<ServerIdentity> => {
  const found = await stat(path);
  // `--identity-file /etc/forum` for `/etc/forum/identity`: its mode was judged as a key's, and the advice
  // was `chmod 600` on the directory (attack round 19).
  if (!found.isFile()) throw new Error(`${path} is ${found.isDirectory() ? 'a directory' : 'not a regular file'}: --identity-file names the key file itself`);
  const mode = found.mode & 0o777;
  // As ssh does with private keys: a key others could read may already be someone else's too.
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new Error(`permissions ${mode.toString(8).padStart(4, '0')} on ${path} are too open: the identity key must be readable by its owner only (chmod 600 ${path})`);
  }
  const hex = LINE.exec(await readFile(path, 'utf8'))?.[1];
  const keyPair = hex === undefined ? undefined : nodeCryptoProvider.keyPairFromPrivateKey(fromHex(hex) ?? new Uint8Array(0));
  if (keyPair === undefined) throw new Error(`${path} is not a forum-server identity key file (expected a line "x25519-private <64 hex digits>")`);
  return identityOf(keyPair, path, false);
};

/**
 * The shape of a temporary key file's name after its prefix: `PID.UUID`, as {@link loadOrCreateIdentity} makes
 * them, or `PID`, as versions before the UUID did (an upgrade after a crash would keep theirs for ever).
 */
const TEMP_TAIL = /^[0-9]+(?:\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?$/;

/**
 * Deletes temporaries of a server killed while creating its key: names of the shape it makes only. The key's
 * directory may be shared (`/etc/forum`), and any `identity.tmp-*` file of another program's was deleted.
 */
const sweepTemporaries = async (dir: string, prefix: string): Promise<void> => {
  for (const name of await readdir(dir)) {
    if (name.startsWith(prefix) && TEMP_TAIL.test(name.slice(prefix.length))) await unlink(join(dir, name)).catch(() => undefined);
  }
};

/**
 * Loads the identity of `dataDir` (or the key file `keyFile`, e.g. one shared by
 * several servers), creating it on first start. Rejects with a readable error.
 */
export const loadOrCreateIdentity = async (dataDir: string, keyFile?: string, options: IdentityOptions = {}): Promise<ServerIdentity> => {
  const path = keyFile ?? join(dataDir, IDENTITY_FILE);
  // Another server starting on the same key file sweeps this one's temporary key file (of the shape every start
  // makes) if its start falls between this one's write and link: then the other server has created the key, or
  // is creating it. Tried again, loading first; a few times, as each try has the same window.
  for (let attempt = 1; ; attempt++) {
    const found = await loadOrCreateOnce(path, options, attempt < SWEPT_TRIES);
    if (found !== undefined) return found;
  }
};

/** Tries of {@link loadOrCreateIdentity} (the last one's swept temporary file is an error). */
const SWEPT_TRIES = 5;

/** One try of {@link loadOrCreateIdentity}; `undefined` if another start swept its temporary key file and `again`. */
const loadOrCreateOnce = async (path: string, options: IdentityOptions, again: boolean): Promise<ServerIdentity | undefined> => {
  const dir = dirname(path);
  const tempPrefix = `${basename(path)}.tmp-`;
  try {
    return await load(path);
  } catch (e) {
    if ((e as { code?: unknown }).code !== 'ENOENT') throw e;
  }
  // A link to a key that is gone (a moved mount, a deleted target): said so. The link below found the name taken and
  // the start failed with "ENOENT … stat" of a path that is there; no key is made through the link (whose target
  // may be anywhere), which would also be a new identity.
  const target = await readlink(path).catch(() => undefined);
  if (target !== undefined) {
    throw new Error(`${path} is a symbolic link to ${target}, which does not exist: point it at the key file, or remove it to create a new key (a new identity)`);
  }
  // The README's `--show-fingerprint --identity-file /etc/forum/identity` on a machine with no /etc/forum yet
  // failed with "ENOENT … scandir": made as the data directory is, readable by its owner only.
  const dirExisted = await stat(dir).then(
    () => true,
    (e: unknown) => {
      if ((e as { code?: unknown }).code === 'ENOENT') return false;
      throw e;
    },
  );
  if (!dirExisted && options.makeDirectory === false) {
    throw new Error(
      `${path} does not exist, nor does its directory ${dir}: check the path (a key made there would be a new identity, which clients that pinned ` +
        `this server's key refuse). To make a new key, create the directory, or run forum-server --show-fingerprint --identity-file ${path}`,
    );
  }
  // Written whole to a temporary file, then linked into place: a server killed half way leaves
  // no half-written key, and `link` never replaces a key another server created meanwhile.
  const keyPair = nodeCryptoProvider.generateKeyPair();
  const text = `${HEADER}x25519-private ${toHex(keyPair.privateKey)}\n`;
  const temp = join(dir, `${tempPrefix}${process.pid}.${randomUUID()}`);
  let outcome: WholeFileOutcome;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await sweepTemporaries(dir, tempPrefix);
    outcome = await createWhole(syncedFs, path, temp, text, 0o600);
  } catch (e) {
    // The link's ENOENT: the temporary file went (the directory is there: it was just made or found).
    if (again && systemErrorCode(e) === 'ENOENT' && (e as { path?: unknown }).path === temp) return undefined;
    const unwritable = notWritableReason(e, dir);
    if (unwritable === undefined) throw e;
    throw new Error(`${path} does not exist and cannot be created: ${unwritable}; run forum-server as a user that may write there, or give --identity-file an existing key`);
  }
  if (outcome.created) return { ...identityOf(keyPair, path, true), createdDirectory: !dirExisted };
  // Another server created it meanwhile: whole if it was linked into place, else perhaps still being written.
  return outcome.linked ? load(path) : loadWhenWritten(path);
};

/**
 * The file operations of the key's creation, on `node:fs`: a file is synced
 * before it is closed (a key a client pinned must survive a power cut).
 */
const syncedFs: WholeFileFs = {
  link: (existing, path) => link(existing, path),
  unlink: (path) => unlink(path),
  writeFile: async (path, data, options) => {
    const file = await open(path, options.flag, options.mode);
    try {
      await file.writeFile(data);
      await file.sync();
    } finally {
      await file.close();
    }
  },
};

/**
 * Loads a key file another server is creating in place (a file system
 * without hard links): read until it is whole (up to 2 s); one killed half
 * way leaves a file that is no key, which stops the start with a message
 * naming it (delete it: it was never used).
 */
const loadWhenWritten = async (path: string): Promise<ServerIdentity> => {
  for (let attempt = 0; ; attempt++) {
    try {
      return await load(path);
    } catch (err) {
      if (attempt >= 100 || !(err instanceof Error) || !err.message.includes('is not a forum-server identity key file')) throw err;
      await delay(20);
    }
  }
};
