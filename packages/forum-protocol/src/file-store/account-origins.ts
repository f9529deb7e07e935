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

/**
 * The origins in a `.forum-account-origins` file, by user name. A line not of the form is skipped (an origin
 * lost makes its account its own group, never another's); of two lines of a name the last counts: a line
 * written for an account whose credentials line then failed to be written names no account, and one made
 * later of that name appends its own.
 */
export const parseAccountOrigins = (text: string): ReadonlyMap<string, string> => {
  const origins = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const m = LINE.exec(raw.endsWith('\r') ? raw.slice(0, -1) : raw);
    if (m?.[1] !== undefined && m[2] !== undefined) origins.set(m[1], m[2]);
  }
  return origins;
};

/** The lines recording the origins of `accounts` (those that have one), or `''`. */
export const accountOriginLines = (accounts: readonly Account[]): string =>
  accounts.flatMap((a) => (a.origin === undefined || !LINE.test(`${a.username} ${a.origin}`) ? [] : [`${a.username} ${a.origin}\n`])).join('');
