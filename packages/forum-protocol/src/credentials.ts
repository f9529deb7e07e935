import type { Account } from './store.js';

/** The accounts in a credentials file, with one warning per line that was skipped. */
export interface ParsedCredentials {
  readonly accounts: readonly Account[];
  readonly warnings: readonly string[];
}

const LINE = /^(\S+) (\S+)$/;

/**
 * Parses `credentials.txt`: one `username password` per line, one space
 * between. Blank lines are ignored; a malformed line or a repeated user name
 * is reported and skipped (the first account of a name wins).
 */
export const parseCredentials = (text: string): ParsedCredentials => {
  const accounts: Account[] = [];
  const warnings: string[] = [];
  const seen = new Set<string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    const m = LINE.exec(line);
    const username = m?.[1];
    const password = m?.[2];
    if (username === undefined || password === undefined) {
      warnings.push(`credentials.txt line ${i + 1} is malformed and was skipped`);
    } else if (seen.has(username)) {
      warnings.push(`credentials.txt line ${i + 1} repeats user ${username} and was skipped`);
    } else {
      seen.add(username);
      accounts.push({ username, password });
    }
  });
  return { accounts, warnings };
};

/**
 * The credentials file after appending `account`: the old text byte for byte
 * (so skipped lines survive), a newline if it lacked a final one, then the new line.
 */
export const appendCredential = (text: string, account: Account): string =>
  `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${account.username} ${account.password}\n`;

/**
 * The credentials file with the secret of `username` replaced by `secret`:
 * every other byte (other accounts, skipped lines, line endings) is kept.
 * The line changed is the one {@link parseCredentials} reads the account
 * from (the first well-formed line of that name). `undefined` if there is none.
 */
export const replaceCredential = (text: string, username: string, secret: string): string | undefined => {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] as string;
    const crlf = raw.endsWith('\r');
    const m = LINE.exec(crlf ? raw.slice(0, -1) : raw);
    if (m?.[1] === username) {
      lines[i] = `${username} ${secret}${crlf ? '\r' : ''}`;
      return lines.join('\n');
    }
  }
  return undefined;
};
