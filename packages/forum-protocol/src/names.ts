import * as E from 'fp-ts/lib/Either.js';
import { MAX_CREDENTIAL_BYTES, MAX_NAME_BYTES, utf8Length } from './limits.js';

/** What a name is for; it picks the wording of the error. */
export type NameKind = 'thread title' | 'file name';

// C0, DEL and C1 controls: they corrupt line-based files and terminals.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const WHITESPACE = /\s/;
// Windows device names are unopenable there even with an extension (CON.txt).
const RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;

/** The file the data directory keeps accounts in; no thread or upload may take its name. */
export const CREDENTIALS_FILE = 'credentials.txt';

/**
 * Checks that `name` is a plain file name that is safe to use inside the data
 * directory. Returns the name, or the line to print (e.g.
 * `Invalid thread title: must not contain '/'`).
 */
export const validateName = (kind: NameKind, name: string): E.Either<string, string> => {
  const fail = (why: string): E.Either<string, string> => E.left(`Invalid ${kind}: ${why}`);
  if (name.length === 0) return fail('must not be empty');
  if (name.includes('\u0000')) return fail('must not contain a NUL byte');
  if (CONTROL.test(name)) return fail('must not contain control characters');
  if (name.includes('/')) return fail("must not contain '/'");
  if (name.includes('\\')) return fail("must not contain '\\'");
  if (name.includes('..')) return fail("must not contain '..'");
  if (WHITESPACE.test(name)) return fail('must not contain spaces');
  if (name.startsWith('.')) return fail("must not start with '.'");
  if (name.endsWith('.')) return fail("must not end with '.'");
  if (utf8Length(name) > MAX_NAME_BYTES) return fail(`must be at most ${MAX_NAME_BYTES} bytes`);
  if (RESERVED.test(name)) return fail('must not be a reserved device name');
  // In any case: on a case-insensitive file system (macOS, Windows) `Credentials.TXT` opens the accounts file.
  if (name.toLowerCase() === CREDENTIALS_FILE) return fail(`must not be '${CREDENTIALS_FILE}'`);
  return E.right(name);
};

/**
 * Checks a user name or password: non-empty, no spaces or control characters
 * (the credentials file separates fields with one space), at most
 * {@link MAX_CREDENTIAL_BYTES} bytes. Returns the value or the line to print.
 */
export const validateCredential = (kind: 'username' | 'password', value: string): E.Either<string, string> => {
  const fail = (why: string): E.Either<string, string> => E.left(`Invalid ${kind}: ${why}`);
  if (value.length === 0) return fail('must not be empty');
  if (CONTROL.test(value)) return fail('must not contain control characters');
  if (WHITESPACE.test(value)) return fail('must not contain spaces');
  if (utf8Length(value) > MAX_CREDENTIAL_BYTES) return fail(`must be at most ${MAX_CREDENTIAL_BYTES} bytes`);
  return E.right(value);
};

/** Checks a message text: non-empty, one line, no control characters, bounded. */
export const validateMessageText = (text: string, maxBytes: number): E.Either<string, string> => {
  if (text.trim().length === 0) return E.left('Invalid message: must not be empty');
  if (CONTROL.test(text)) return E.left('Invalid message: must not contain control characters');
  if (utf8Length(text) > maxBytes) return E.left(`Invalid message: must be at most ${maxBytes} bytes`);
  return E.right(text);
};
