import * as E from 'fp-ts/lib/Either.js';
import { MAX_CREDENTIAL_BYTES, MAX_NAME_BYTES, utf8Length } from './limits.js';
import { mixedScripts } from './scripts.js';

/** What a name is for; it picks the wording of the error. */
export type NameKind = 'thread title' | 'file name';

// C0, DEL and C1 controls: they corrupt line-based files and terminals.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const WHITESPACE = /\s/;
// Characters Windows file names cannot hold; on NTFS `name:x` even addresses a hidden stream of `name`.
const WINDOWS_RESERVED = /[<>:"|?*]/;
// Windows device names are unopenable there even with an extension (CON.txt).
const RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;
// A lone surrogate: JSON can carry one ("\ud800"), but UTF-8 cannot, so the file system sees U+FFFD.
const LONE_SURROGATE = /\p{Cs}/u;
// Line and paragraph separators: some readers split lines on them.
const LINE_SEPARATOR = /[\u2028\u2029]/;
// Invisible characters: format controls (Cf: U+200B, bidi overrides U+202A–U+202E and isolates
// U+2066–U+2069, ...) and everything Unicode says to render as nothing (variation selectors, fillers).
const INVISIBLE = /[\p{Cf}\p{Default_Ignorable_Code_Point}]/u;
// Unassigned code points may be assigned (and given case or decompositions) later; private-use ones mean nothing portable.
const UNASSIGNED_OR_PRIVATE = /[\p{Cn}\p{Co}]/u;

/** The file the data directory keeps accounts in; no thread or upload may take its name. */
export const CREDENTIALS_FILE = 'credentials.txt';

const hex = (s: string): string => `U+${(s.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * The identity rules every name shares (user names, thread titles, file
 * names): well-formed Unicode, already in NFC, nothing invisible, no line
 * separators, nothing unassigned or private, one script (see scripts.ts).
 * Returns why the name breaks a rule, or `undefined`.
 */
const identityProblem = (name: string): string | undefined => {
  if (LONE_SURROGATE.test(name)) return 'must be well-formed Unicode (no lone surrogates such as \\ud800)';
  // One identity per name: we refuse rather than normalise, so the name a client sent is the name stored.
  if (name.normalize('NFC') !== name) return 'must be in Unicode normalization form NFC (composed characters)';
  const sep = LINE_SEPARATOR.exec(name);
  if (sep) return `must not contain line or paragraph separators (${hex(sep[0])})`;
  const invisible = INVISIBLE.exec(name);
  if (invisible) return `must not contain invisible or formatting characters (${hex(invisible[0])})`;
  const odd = UNASSIGNED_OR_PRIVATE.exec(name);
  if (odd) return `must not contain unassigned or private-use characters (${hex(odd[0])})`;
  const mixed = mixedScripts(name);
  if (mixed !== undefined) return `must not mix scripts (${mixed.join(' and ')}); look-alike letters are refused`;
  return undefined;
};

/**
 * The key under which two names are the same name: NFKC, then full case
 * folding (upper then lower case, so `ß` and `SS` agree). Case-insensitive
 * file systems (macOS, Windows) would open one file for both, so the forum
 * treats names with equal keys as one name. Compatibility forms (`ﬁ` and
 * `fi`) fold together too: stricter than any file system, never looser.
 */
export const nameKey = (name: string): string => name.normalize('NFKC').toUpperCase().toLowerCase().normalize('NFKC');

/** Whether `a` and `b` are the same name under {@link nameKey}. */
export const sameName = (a: string, b: string): boolean => nameKey(a) === nameKey(b);

/**
 * Checks that `name` is a plain file name that is safe to use inside the data
 * directory and has one identity (see `identityProblem`). Returns the name, or
 * the line to print (e.g. `Invalid thread title: must not contain '/'`).
 */
export const validateName = (kind: NameKind, name: string): E.Either<string, string> => {
  const fail = (why: string): E.Either<string, string> => E.left(`Invalid ${kind}: ${why}`);
  if (name.length === 0) return fail('must not be empty');
  if (name.includes('\u0000')) return fail('must not contain a NUL byte');
  if (CONTROL.test(name)) return fail('must not contain control characters');
  const sep = LINE_SEPARATOR.exec(name);
  // Before the space rule: \s matches them too, and "spaces" would be a puzzling reason.
  if (sep) return fail(`must not contain line or paragraph separators (${hex(sep[0])})`);
  if (name.includes('/')) return fail("must not contain '/'");
  if (name.includes('\\')) return fail("must not contain '\\'");
  if (name.includes('..')) return fail("must not contain '..'");
  if (WHITESPACE.test(name)) return fail('must not contain spaces');
  const win = WINDOWS_RESERVED.exec(name);
  if (win) return fail(`must not contain '${win[0]}' (not allowed in Windows file names)`);
  if (name.startsWith('.')) return fail("must not start with '.'");
  if (name.endsWith('.')) return fail("must not end with '.'");
  if (utf8Length(name) > MAX_NAME_BYTES) return fail(`must be at most ${MAX_NAME_BYTES} bytes`);
  const problem = identityProblem(name);
  if (problem !== undefined) return fail(problem);
  if (RESERVED.test(name)) return fail('must not be a reserved device name');
  // In any case: on a case-insensitive file system (macOS, Windows) `Credentials.TXT` opens the accounts file.
  if (sameName(name, CREDENTIALS_FILE)) return fail(`must not be '${CREDENTIALS_FILE}'`);
  return E.right(name);
};

/**
 * Checks a user name or password: non-empty, no spaces or control characters
 * (the credentials file separates fields with one space), no line
 * separators, well-formed Unicode, at most {@link MAX_CREDENTIAL_BYTES}
 * bytes. A user name also follows the identity rules of thread titles and
 * may not contain `:` (a thread's message line is `N username: text`).
 * Returns the value or the line to print.
 */
export const validateCredential = (kind: 'username' | 'password', value: string): E.Either<string, string> => {
  const fail = (why: string): E.Either<string, string> => E.left(`Invalid ${kind}: ${why}`);
  if (value.length === 0) return fail('must not be empty');
  if (CONTROL.test(value)) return fail('must not contain control characters');
  const sep = LINE_SEPARATOR.exec(value);
  if (sep) return fail(`must not contain line or paragraph separators (${hex(sep[0])})`);
  if (WHITESPACE.test(value)) return fail('must not contain spaces');
  if (utf8Length(value) > MAX_CREDENTIAL_BYTES) return fail(`must be at most ${MAX_CREDENTIAL_BYTES} bytes`);
  if (kind === 'password') {
    // A password is compared as sent, so only what the file cannot hold faithfully is refused.
    if (LONE_SURROGATE.test(value)) return fail('must be well-formed Unicode (no lone surrogates such as \\ud800)');
    return E.right(value);
  }
  if (value.includes(':')) return fail("must not contain ':'");
  const problem = identityProblem(value);
  return problem === undefined ? E.right(value) : fail(problem);
};

/**
 * Checks a message text: non-empty, one line (no control characters, no
 * U+2028/U+2029), well-formed Unicode, bounded.
 */
export const validateMessageText = (text: string, maxBytes: number): E.Either<string, string> => {
  if (text.trim().length === 0) return E.left('Invalid message: must not be empty');
  if (CONTROL.test(text)) return E.left('Invalid message: must not contain control characters');
  const sep = LINE_SEPARATOR.exec(text);
  if (sep) return E.left(`Invalid message: must not contain line or paragraph separators (${hex(sep[0])})`);
  if (LONE_SURROGATE.test(text)) return E.left('Invalid message: must be well-formed Unicode (no lone surrogates such as \\ud800)');
  if (utf8Length(text) > maxBytes) return E.left(`Invalid message: must be at most ${maxBytes} bytes`);
  return E.right(text);
};
