/**
 * Where the data directory keeps each account's origin (store/origin-shares.ts): `.forum-account-origins`,
 * one `username origin` line per account that has one, beside `credentials.txt`, whose lines stay the spec's
 * `username password`. A thread title never starts with `.`, so the name is no thread's. A directory without
 * the file (written before origins were kept) reads as accounts of no origin, each its own group, as before.
 */
import type { Account } from '../store/store.js';

/** The file of the accounts' origins in the data directory. */
export const ACCOUNT_ORIGINS_FILE = '.forum-account-origins';

const LINE = /^(\S+) (\S+)$/;

/** The origins of a `.forum-account-origins` file, with one warning per line that was skipped. */
export interface ParsedAccountOrigins {
  /** Each account's origin, by user name. */
  readonly origins: ReadonlyMap<string, string>;
  /** One per line not of the form (blank lines aside), said at open as a damaged credentials line is. */
  readonly warnings: readonly string[];
}

/**
 * The origins in a `.forum-account-origins` file, by user name. A line not of the form is skipped (an origin
 * lost makes its account its own group, never another's) and said: the account it named, if any, is then
 * outside its origin's bound until the line is mended, which the operator should know. Of two lines of a name
 * the last counts: a line written for an account whose credentials line then failed to be written names no
 * account, and one made later of that name appends its own.
 */
export const parseAccountOrigins = (text: string): ParsedAccountOrigins => {
  const origins = new Map<string, string>();
  const warnings: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const m = LINE.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) origins.set(m[1], m[2]);
    else if (line.trim() !== '') warnings.push(`${ACCOUNT_ORIGINS_FILE} line ${i + 1} is malformed and was skipped (its account, if any, counts as a group of its own, outside its origin's --origin-shares)`);
  });
  return { origins, warnings };
};

/** The lines recording the origins of `accounts` (those that have one), or `''`. */
export const accountOriginLines = (accounts: readonly Account[]): string =>
  accounts.flatMap((a) => (a.origin === undefined || !LINE.test(`${a.username} ${a.origin}`) ? [] : [`${a.username} ${a.origin}\n`])).join('');
