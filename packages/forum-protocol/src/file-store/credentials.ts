import type { Account } from '../store/store.js';
import { wordProblem } from '../store/thread.js';

/** The accounts in a credentials file, with one warning per line that was skipped. */
export interface ParsedCredentials {
  readonly accounts: readonly Account[];
  readonly warnings: readonly string[];
  /**
   * The names of malformed lines (their first word) that no well-formed line gives an account, each with
   * its first such line's number: the store keeps them from being made anew (see `damagedAccount`).
   */
  readonly damaged: ReadonlyMap<string, number>;
}

const LINE = /^(\S+) (\S+)$/;

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * Where the first line begins: after a UTF-8 byte order mark, which editors on
 * Windows (Notepad) write at the start of a file. Read as part of the first
 * user name, it made that account's line malformed and skipped, and the name
 * free: the next client to log in as it created the account anew, with a
 * password of its choosing. The mark stays in the file (never rewritten away).
 */
const firstLineStart = (text: string): number => (text.startsWith('\uFEFF') ? 1 : 0);

/**
 * Parses `credentials.txt`: one `username password` per line, one space
 * between. Blank lines are ignored; a malformed line or a repeated user name
 * is reported and skipped (the first account of a name wins). A byte order
 * mark before the first line is not part of it. A malformed line's first word
 * is kept in `damaged`: skipped, its name had been free to register, and a
 * login as it made the account anew with the caller's password.
 */
export const parseCredentials = (text: string): ParsedCredentials => {
  const accounts: Account[] = [];
  const warnings: string[] = [];
  const seen = new Set<string>();
  const damaged = new Map<string, number>();
  const malformed: { readonly at: number; readonly line: number; readonly name: string | undefined }[] = [];
  text.slice(firstLineStart(text)).split('\n').forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    const m = LINE.exec(line);
    const username = m?.[1];
    const password = m?.[2];
    if (username === undefined || password === undefined) {
      // `alice secret ` (a trailing blank), `alice<TAB>secret`, `alice`: most likely alice's account, mangled by hand.
      // Not anchored: ` alice secret` (a leading blank) and a byte order mark not at the file's start (two files
      // joined with `cat`), white space to `\s`, had left `alice` free all the same.
      const name = /\S+/.exec(line)?.[0];
      if (name !== undefined && !damaged.has(name)) damaged.set(name, i + 1);
      malformed.push({ at: warnings.length, line: i + 1, name });
      warnings.push(`credentials.txt line ${i + 1} is malformed and was skipped`);
    } else if (seen.has(username)) {
      warnings.push(`credentials.txt line ${i + 1} repeats user ${username} and was skipped`);
    } else {
      seen.add(username);
      accounts.push({ username, password });
    }
  });
  for (const name of seen) damaged.delete(name);
  // Said once the file is read: a name is held only if no well-formed line of it came after.
  for (const m of malformed) {
    if (m.name !== undefined && damaged.get(m.name) === m.line) warnings[m.at] += `; logins as ${m.name} are refused until it is mended`;
  }
  return { accounts, warnings, damaged };
};

/**
 * Whether a line appended to a credentials file of these bytes must start
 * with a newline: only when its last line is unfinished. An empty file, or
 * one holding nothing but a byte order mark, has no line to finish (a newline
 * there made a blank first line).
 */
export const credentialsNeedNewline = (bytes: Uint8Array): boolean =>
  bytes.length > 0 && bytes[bytes.length - 1] !== 0x0a && !Buffer.from(bytes).equals(UTF8_BOM);

/**
 * The credentials file after appending `account`: the old text byte for byte
 * (so skipped lines survive), a newline if it lacked a final one, then the new line.
 */
export const appendCredential = (text: string, account: Account): string =>
  `${text}${credentialsNeedNewline(Buffer.from(text, 'utf8')) ? '\n' : ''}${account.username} ${account.password}\n`;

/**
 * The credentials file with the secret of `username` replaced by `secret`:
 * every other byte (other accounts, skipped lines, line endings) is kept.
 * The line changed is the one {@link parseCredentials} reads the account
 * from (the first well-formed line of that name). `undefined` if there is none.
 */
export const replaceCredential = (text: string, username: string, secret: string): string | undefined => {
  const bytes = Buffer.from(text, 'utf8');
  const next = replaceCredentialBytes(bytes, username, secret);
  return next === undefined ? undefined : Buffer.concat([bytes.subarray(0, next.from), next.tail]).toString('utf8');
};

/**
 * {@link replaceCredential} on the file's bytes: the bytes from `from` on
 * (the start of the line's secret) are replaced by `tail`. Worked on bytes,
 * not on the file's text: a line of invalid UTF-8 (a name typed in Latin-1),
 * decoded and encoded again, came back with its bytes turned into U+FFFD,
 * so a rehash or a new account altered other accounts' lines. The account's
 * own name is kept as its bytes too.
 */
export const replaceCredentialBytes = (bytes: Buffer, username: string, secret: string): { readonly tail: Buffer; readonly from: number } | undefined => {
  // A byte order mark is no part of the first line (as in parseCredentials), nor is any decoding's U+FFFD
  // able to take in a space or a newline: an invalid sequence never swallows an ASCII byte.
  let start = bytes.subarray(0, 3).equals(UTF8_BOM) ? 3 : 0;
  while (start <= bytes.length) {
    const nl = bytes.indexOf(0x0a, start);
    const end = nl === -1 ? bytes.length : nl;
    const crlf = end > start && bytes[end - 1] === 0x0d;
    const line = bytes.subarray(start, crlf ? end - 1 : end);
    if (LINE.exec(line.toString('utf8'))?.[1] === username) {
      const from = start + line.indexOf(0x20) + 1;
      return { tail: Buffer.concat([Buffer.from(`${secret}${crlf ? '\r' : ''}`, 'utf8'), bytes.subarray(end)]), from };
    }
    if (nl === -1) break;
    start = nl + 1;
  }
  return undefined;
};

/**
 * Why `account` would not read back from `credentials.txt` as the same
 * account (an empty or spaced field, a line break, a lone surrogate, a NUL),
 * or `undefined` when it would.
 */
export const accountStoreProblem = (account: Account): string | undefined => {
  const problem = wordProblem('the user name', account.username) ?? wordProblem('the password', account.password);
  if (problem !== undefined) return problem;
  const m = LINE.exec(`${account.username} ${account.password}`);
  return m?.[1] === account.username && m[2] === account.password ? undefined : 'the account would not read back as the same line';
};
