import { randomBytes, scrypt, timingSafeEqual, createHash } from 'node:crypto';
import { Semaphore } from '../concurrency/semaphore.js';

/** Prefix of a hashed secret in `credentials.txt`: `scrypt$<salt-b64>$<hash-b64>`. */
export const PASSWORD_HASH_PREFIX = 'scrypt$';

/** Bytes of random salt per password. */
export const SALT_BYTES = 16;
/** Bytes of derived key stored. */
export const HASH_BYTES = 32;

// Node's defaults (N = 2^14, r = 8, p = 1: 16 MiB and tens of ms per hash).
// They are not recorded in the secret, so changing them invalidates every stored hash.
const SCRYPT = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The salt and hash of a stored secret. */
export interface PasswordHash {
  readonly salt: Buffer;
  readonly hash: Buffer;
}

/**
 * Hashes that may run at once: half of libuv's thread pool (4 threads unless
 * UV_THREADPOOL_SIZE says otherwise), at least one. scrypt runs on that pool,
 * and so does the data directory's file I/O: a login flood that took all
 * four threads made a normal MSG wait 1.2 s (p50) instead of 13 ms.
 */
export const SCRYPT_CONCURRENCY = Math.max(1, Math.floor((Number(process.env['UV_THREADPOOL_SIZE']) || 4) / 2));

/** The places of {@link SCRYPT_CONCURRENCY}; every hash and check waits for one (exported for tests). */
export const scryptSlots = new Semaphore(SCRYPT_CONCURRENCY);

const derive = (password: string, salt: Buffer): Promise<Buffer> =>
  scryptSlots.run(
    () => new Promise((resolve, reject) => scrypt(password.normalize('NFC'), salt, HASH_BYTES, SCRYPT, (err, key) => (err ? reject(err) : resolve(key)))),
  );

/**
 * Reads `scrypt$<salt-b64>$<hash-b64>`; `undefined` for anything else (a
 * plain password). No plain password can look like one: a hashed secret is
 * 76 bytes, passwords are at most 64.
 */
export const parsePasswordHash = (secret: string): PasswordHash | undefined => {
  if (!secret.startsWith(PASSWORD_HASH_PREFIX)) return undefined;
  const parts = secret.slice(PASSWORD_HASH_PREFIX.length).split('$');
  if (parts.length !== 2) return undefined;
  const [s, h] = parts as [string, string];
  if (!B64.test(s) || !B64.test(h)) return undefined;
  const salt = Buffer.from(s, 'base64');
  const hash = Buffer.from(h, 'base64');
  return salt.length === SALT_BYTES && hash.length === HASH_BYTES ? { salt, hash } : undefined;
};

/** True if `secret` is a hashed secret rather than a plain password. */
export const isPasswordHash = (secret: string): boolean => parsePasswordHash(secret) !== undefined;

/** Hashes `password` with scrypt and a fresh random salt (or `salt`, for tests) into the stored form. */
export const hashPassword = async (password: string, salt: Buffer = randomBytes(SALT_BYTES)): Promise<string> =>
  `${PASSWORD_HASH_PREFIX}${salt.toString('base64')}$${(await derive(password, salt)).toString('base64')}`;

/** Whether `password` matches a hashed secret; compared in constant time. */
export const verifyPasswordHash = async (password: string, stored: PasswordHash): Promise<boolean> =>
  timingSafeEqual(await derive(password, stored.salt), stored.hash);

/**
 * Compares a typed password with a plain stored one without leaking where
 * they differ or (through `timingSafeEqual`'s length rule) how long the stored one is.
 */
export const plainPasswordsEqual = (typed: string, stored: string): boolean => {
  const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(typed), digest(stored));
};
