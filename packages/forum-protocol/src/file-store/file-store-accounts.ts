import * as E from 'fp-ts/lib/Either.js';
import * as O from 'fp-ts/lib/Option.js';
import * as TE from 'fp-ts/lib/TaskEither.js';
import { PRIVATE_FILE_MODE, writeFileAtomic } from './atomic-write.js';
import { ACCOUNT_ORIGINS_FILE, accountOriginLines } from './account-origins.js';
import { accountStoreProblem, credentialsNeedNewline, replaceCredentialBytes } from './credentials.js';
import { toIoError, type IoError, type StoreError } from '../store/errors.js';
import { attempt, unstorable, type FileStoreContext } from './file-store-context.js';
import { createBatcher } from '../concurrency/group-commit.js';
import { CREDENTIALS_FILE, nameKey } from '../protocol/names.js';
import type { Account, ForumStore } from '../store/store.js';

/** A new account waiting for the next batch. */
interface AccountJob {
  readonly account: Account;
  readonly settle: (r: E.Either<StoreError, boolean>) => void;
}

/**
 * The accounts of the file store: `credentials.txt` as loaded (`undefined`
 * if there was none) and its parsed `loaded` accounts, then kept in memory
 * and written through (new accounts appended, a changed secret rewritten
 * from its line on, each through the undo journal).
 */
export const fileStoreAccounts = (
  ctx: FileStoreContext,
  credentials: Buffer | undefined,
  loaded: readonly Account[],
  damaged: ReadonlyMap<string, number> = new Map(),
  origins?: Buffer,
): Pick<ForumStore, 'getAccount' | 'listAccounts' | 'damagedAccount' | 'createAccount' | 'replaceAccountSecret'> => {
  const { dir, mutex, journal } = ctx;
  // The file's bytes, not its text: a line of invalid UTF-8 is someone's, and is written back as it was.
  let credentialsFile = credentials ?? Buffer.alloc(0);
  let credentialsExists = credentials !== undefined;
  // `.forum-account-origins` (account-origins.ts), appended to as accounts with an origin are made.
  let originsFile = origins ?? Buffer.alloc(0);
  let originsExists = origins !== undefined;
  const accounts = new Map(loaded.map((a) => [a.username, a]));
  for (const a of loaded) if (a.origin !== undefined) ctx.contents.setOrigin(a.username, a.origin);
  // By name key: `Alice` is the same name as a damaged `alice` (names.ts), and registered beside it would
  // be a second account of one name once the operator mends the line.
  const damagedKeys = new Map<string, number>();
  for (const [name, line] of damaged) if (!damagedKeys.has(nameKey(name))) damagedKeys.set(nameKey(name), line);
  const damagedLine = (username: string): number | undefined => (accounts.has(username) ? undefined : damagedKeys.get(nameKey(username)));

  // Concurrent new accounts are appended together: one journal record, one write, one sync.
  const accountBatches = createBatcher<AccountJob>(mutex, async (_key, jobs) => {
    const added = new Map<string, Account>();
    const outcomes = jobs.map((job): E.Either<StoreError, boolean> => {
      const problem = accountStoreProblem(job.account);
      if (problem !== undefined) return E.left(unstorable(problem));
      // The login refuses such a name first (handlers/auth.ts); this keeps any other caller from taking it.
      const line = damagedLine(job.account.username);
      if (line !== undefined) return E.left(unstorable(`credentials.txt line ${line}, skipped as malformed, may be this account's`));
      if (accounts.has(job.account.username) || added.has(job.account.username)) return E.right(false);
      added.set(job.account.username, job.account);
      return E.right(true);
    });
    if (added.size > 0) {
      const lines = [...added.values()].map((a) => `${a.username} ${a.password}\n`).join('');
      const tail = Buffer.from(`${credentialsNeedNewline(credentialsFile) ? '\n' : ''}${lines}`, 'utf8');
      const originLines = accountOriginLines([...added.values()]);
      const originTail = Buffer.from(`${credentialsNeedNewline(originsFile) ? '\n' : ''}${originLines}`, 'utf8');
      try {
        await ctx.disk.run(async () => {
          // The origins first: an origin line whose account was then not written names no account (and a later
          // account of that name appends its own, which counts), while an account written without its origin
          // would be a group of its own, outside its origin's bound, for good.
          if (originLines !== '') {
            if (originsExists) await journal.replaceTail(ACCOUNT_ORIGINS_FILE, originsFile.length, originTail, originsFile.length);
            else await writeFileAtomic(dir, ACCOUNT_ORIGINS_FILE, originTail, PRIVATE_FILE_MODE);
            originsExists = true;
            originsFile = Buffer.concat([originsFile, originTail]);
          }
          if (credentialsExists) {
            await journal.replaceTail(CREDENTIALS_FILE, credentialsFile.length, tail, credentialsFile.length);
          } else {
            // Owner-only: it holds every password, in plain text unless --hash-passwords.
            await writeFileAtomic(dir, CREDENTIALS_FILE, tail, PRIVATE_FILE_MODE);
            credentialsExists = true;
          }
        });
      } catch (e) {
        // Nothing of the batch was stored: every account that would have been added fails.
        jobs.forEach((job, i) => job.settle(E.isRight(outcomes[i] as E.Either<StoreError, boolean>) ? E.left(toIoError(e)) : (outcomes[i] as E.Either<StoreError, boolean>)));
        return;
      }
      credentialsFile = Buffer.concat([credentialsFile, tail]);
      for (const a of added.values()) {
        accounts.set(a.username, a);
        if (a.origin !== undefined) ctx.contents.setOrigin(a.username, a.origin);
      }
    }
    jobs.forEach((job, i) => job.settle(outcomes[i] as E.Either<StoreError, boolean>));
  });

  const createAccount = (account: Account): TE.TaskEither<StoreError, boolean> => () => {
    // Not queued behind a write the disk does not answer (disk-watch.ts).
    const stalled = ctx.disk.stalled();
    if (stalled !== undefined) return Promise.resolve(E.left(stalled));
    return new Promise((resolve) => accountBatches.add(CREDENTIALS_FILE, { account, settle: resolve }));
  };

  const replaceAccountSecret = (username: string, secret: string): TE.TaskEither<StoreError, boolean> =>
    attempt(async () => {
      const stalled = ctx.disk.stalled();
      if (stalled !== undefined) return E.left(stalled);
      return mutex.run(CREDENTIALS_FILE, async (): Promise<E.Either<StoreError, boolean>> => {
        if (!accounts.has(username)) return E.right(false);
        const problem = accountStoreProblem({ username, password: secret });
        if (problem !== undefined) return E.left(unstorable(problem));
        const next = replaceCredentialBytes(credentialsFile, username, secret);
        if (next === undefined) return E.left({ kind: 'io', message: `credentials.txt has no line for ${username}` } satisfies IoError);
        await ctx.disk.run(() => journal.replaceTail(CREDENTIALS_FILE, next.from, next.tail, credentialsFile.length));
        credentialsFile = Buffer.concat([credentialsFile.subarray(0, next.from), next.tail]);
        accounts.set(username, { ...accounts.get(username), username, password: secret });
        return E.right(true);
      });
    });

  return {
    getAccount: (username) => TE.right(O.fromNullable(accounts.get(username))),
    listAccounts: () => TE.right([...accounts.keys()]),
    damagedAccount: damagedLine,
    createAccount,
    replaceAccountSecret,
  };
};
