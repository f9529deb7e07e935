/**
 * What the data-directory store acknowledged means exactly the same after a
 * restart (issue 15, finding 3): random command sequences with hostile strings
 * run against the store and against the in-memory oracle; after every restart
 * (a new store opened on the same directory) every thread, message, author,
 * account and uploaded file is compared, and every file in the directory with
 * the spec's format of the oracle's state.
 */
import * as E from 'fp-ts/lib/Either.js';
import * as O from 'fp-ts/lib/Option.js';
import fc from 'fast-check';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  createMemoryStore,
  formatThreadFile,
  handlers,
  openFileStore,
  parseCredentials,
  UNSTORABLE,
  uploadFileName,
  type CommandError,
  type ForumStore,
  type HandlerSuccess,
} from '../src/index.js';
import { readAll, upload } from './helpers.js';

const openStore = async (dir: string): Promise<ForumStore> => {
  const s = await openFileStore(dir)();
  if (E.isLeft(s)) throw new Error(s.left.message);
  expect(s.right.warnings).toEqual([]);
  return s.right;
};

// Names that collide as thread and upload (`a` + `b-c`, `a-b` + `c`), that
// carry the format's separators, or that no file system or line can hold.
const HOSTILE_NAMES = ['a', 'a-b', 'a-b-c', 'b', 'b-c', 'c', 'x\u2028y', 'é', 'e\u0301', '\ud800', '\udfff', '\ud800\udc00', '.', '..', '.forum-journal', 'credentials.txt', 'Credentials.TXT', 'a/b', 'a b', '', 'n\nl', '\u200b', '\u202e', 'аlice', 'x'.repeat(256)];
const HOSTILE_USERS = ['alice', 'bob', 'bob:', 'a:b', ':', '1', '12', 'uploaded', 'x\u2028', '\ud800', '', 'a b', 'a\u0085b', 'аlice'];
const HOSTILE_TEXTS = ['hi', 'one\u2028two', '\u2029', 'a\rb', 'a\nb', ': x', '1 bob: forged', 'bob uploaded f', ' lead', '\u0000', '\ud800', 'x\u0085y', ''];

const name = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...HOSTILE_NAMES) }, { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }) });
const user = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...HOSTILE_USERS) }, { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }) });
const text = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...HOSTILE_TEXTS) }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) });

type Op =
  | { readonly op: 'account'; readonly user: string; readonly password: string }
  | { readonly op: 'secret'; readonly user: string; readonly password: string }
  | { readonly op: 'CRT'; readonly user: string; readonly title: string }
  | { readonly op: 'MSG'; readonly user: string; readonly title: string; readonly text: string }
  | { readonly op: 'EDT'; readonly user: string; readonly title: string; readonly n: number; readonly text: string }
  | { readonly op: 'DLT'; readonly user: string; readonly title: string; readonly n: number }
  | { readonly op: 'UPD'; readonly user: string; readonly title: string; readonly filename: string; readonly bytes: Uint8Array }
  | { readonly op: 'RMV'; readonly user: string; readonly title: string }
  | { readonly op: 'restart' };

/** Bytes that read like a thread file whose upload lines claim names other threads have. */
const lookalike = (creator: string, claims: readonly string[]): Uint8Array => Buffer.from(`${creator}\n1 ${creator}: not a thread\n${claims.map((c) => `${creator} uploaded ${c}\n`).join('')}`);

/** A run's cast: a few names and users (hostile ones among them), so commands meet the same threads again. */
const cast = fc
  .record({
    // `a`, `b` and `a-b-c` always: upload `b` of `a` is `a-b`, whose look-alike lines can claim `c`, i.e. `a-b-c`.
    plainNames: fc.uniqueArray(fc.constantFrom('a-b', 'b-c', 'c'), { maxLength: 2 }).map((more) => ['a', 'b', 'a-b-c', ...more]),
    names: fc.uniqueArray(name, { maxLength: 3 }),
    plainUsers: fc.uniqueArray(fc.constantFrom('alice', 'bob', 'bob:', 'a:b', '1', 'uploaded', '\u00e9'), { minLength: 1, maxLength: 3 }),
    users: fc.uniqueArray(user, { maxLength: 2 }),
  })
  .map((c) => ({ names: [...new Set([...c.plainNames, ...c.names])], users: [...new Set([...c.plainUsers, ...c.users])] }));
type Cast = { readonly names: readonly string[]; readonly users: readonly string[] };

const pick = <T,>(xs: readonly T[], i: number): T => xs[i % xs.length] as T;

/** One command as indices into the run's cast (resolved by {@link resolve}). */
const opTemplate = fc.oneof(
  fc.record({ op: fc.constantFrom('account' as const, 'secret' as const), u: fc.nat(), p: user }),
  { weight: 3, arbitrary: fc.record({ op: fc.constant('CRT' as const), u: fc.nat(), t: fc.nat() }) },
  { weight: 10, arbitrary: fc.record({ op: fc.constant('MSG' as const), u: fc.nat(), t: fc.nat(), text }) },
  { weight: 6, arbitrary: fc.record({ op: fc.constantFrom('EDT' as const, 'DLT' as const), u: fc.nat(), t: fc.nat(), n: fc.integer({ min: 1, max: 2 }), text }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('UPD' as const),
      u: fc.nat(),
      t: fc.nat(),
      f: fc.nat(),
      claims: fc.boolean(),
      bytes: fc.uint8Array({ maxLength: 64 }),
    }),
  },
  fc.record({ op: fc.constant('RMV' as const), u: fc.nat(), t: fc.nat() }),
  fc.constant({ op: 'restart' as const }),
);
type OpTemplate = typeof opTemplate extends fc.Arbitrary<infer T> ? T : never;

const resolve = (c: Cast, o: OpTemplate): Op => {
  switch (o.op) {
    case 'restart':
      return o;
    case 'account':
    case 'secret':
      return { op: o.op, user: pick(c.users, o.u), password: o.p };
    case 'CRT':
    case 'RMV':
      return { op: o.op, user: pick(c.users, o.u), title: pick(c.names, o.t) };
    case 'MSG':
      return { op: 'MSG', user: pick(c.users, o.u), title: pick(c.names, o.t), text: o.text };
    case 'EDT':
      return { op: 'EDT', user: pick(c.users, o.u), title: pick(c.names, o.t), n: o.n, text: o.text };
    case 'DLT':
      return { op: 'DLT', user: pick(c.users, o.u), title: pick(c.names, o.t), n: o.n };
    case 'UPD': {
      const uploader = pick(c.users, o.u);
      const title = pick(c.names, o.t);
      const filename = pick(c.names, o.f);
      // Some uploads read like a thread file whose upload lines claim the cast's names (`c` for `a-b-c` when this is `a-b`).
      const stored = uploadFileName(title, filename);
      const claim = (victim: string): string => (victim.startsWith(`${stored}-`) ? victim.slice(stored.length + 1) : victim);
      const bytes = o.claims ? lookalike(uploader, c.names.map(claim)) : o.bytes;
      return { op: 'UPD', user: uploader, title, filename, bytes };
    }
  }
};

// The test's own idea of what a line-based file in a plain directory cannot
// hold: the store may refuse an operation only if one of its strings has one of these.
const LONE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const badText = (s: string): boolean => LONE.test(s) || /[\n\r\u0000]/.test(s);
const badWord = (s: string): boolean => s === '' || /\s/.test(s) || badText(s);
const badName = (s: string): boolean =>
  badWord(s) || /[\u0000-\u001f\u007f/]/.test(s) || s.startsWith('.') || Buffer.byteLength(s) > 255 || s.toLowerCase() === 'credentials.txt';
const mayRefuse = (o: Op): boolean => {
  switch (o.op) {
    case 'account':
    case 'secret':
      return badWord(o.user) || badWord(o.password);
    case 'CRT':
      return badName(o.title) || badWord(o.user);
    case 'MSG':
    case 'EDT':
      return badWord(o.user) || badText(o.text);
    case 'UPD':
      return badWord(o.user) || badWord(o.filename) || badName(uploadFileName(o.title, o.filename));
    default:
      return false;
  }
};

type Outcome = E.Either<string, readonly string[]>;
const outcomeOf = (r: E.Either<CommandError, HandlerSuccess> | E.Either<unknown, unknown>): Outcome =>
  E.isLeft(r) ? E.left(JSON.stringify(r.left)) : E.right(typeof r.right === 'object' && r.right !== null && 'lines' in r.right ? (r.right as HandlerSuccess).lines : [JSON.stringify(r.right ?? null)]);

const apply = async (s: ForumStore, o: Exclude<Op, { op: 'restart' }>): Promise<Outcome> => {
  const session = { username: o.user, connectionKey: 'k' };
  switch (o.op) {
    case 'account':
      return outcomeOf(await s.createAccount({ username: o.user, password: o.password })());
    case 'secret':
      return outcomeOf(await s.replaceAccountSecret(o.user, o.password)());
    case 'CRT':
      return outcomeOf(await handlers.CRT(s, session, [o.title])());
    case 'MSG':
      return outcomeOf(await handlers.MSG(s, session, [o.title, o.text])());
    case 'EDT':
      return outcomeOf(await handlers.EDT(s, session, [o.title, String(o.n), o.text])());
    case 'DLT':
      return outcomeOf(await handlers.DLT(s, session, [o.title, String(o.n)])());
    case 'UPD':
      return outcomeOf(await upload(s, o.title, o.filename, o.user, o.bytes));
    case 'RMV':
      return outcomeOf(await handlers.RMV(s, session, [o.title])());
  }
};

const refusedAsUnstorable = (r: Outcome): boolean => E.isLeft(r) && r.left.includes(UNSTORABLE);

/** Compares everything the store holds with the oracle, through the store's API and on disk. */
const compare = async (dir: string, s: ForumStore, oracle: ForumStore, users: ReadonlySet<string>): Promise<void> => {
  const titles = await oracle.listThreads()();
  expect(await s.listThreads()()).toEqual(titles);
  if (E.isLeft(titles)) throw new Error('oracle list');
  const expectedFiles = new Map<string, Buffer>();
  for (const title of titles.right) {
    const want = await oracle.getThread(title)();
    expect(await s.getThread(title)()).toEqual(want);
    if (E.isLeft(want) || O.isNone(want.right)) throw new Error('oracle thread');
    const thread = want.right.value;
    expectedFiles.set(title, Buffer.from(formatThreadFile(thread), 'utf8'));
    for (const e of thread.entries) {
      if (e.kind !== 'upload') continue;
      const d = await oracle.openDownload(title, e.filename)();
      const got = await s.openDownload(title, e.filename)();
      if (E.isLeft(d) || E.isLeft(got)) throw new Error(`download ${title}/${e.filename}: ${JSON.stringify(got)}`);
      const bytes = await readAll(d.right.stream);
      expect(await readAll(got.right.stream)).toEqual(bytes);
      expectedFiles.set(uploadFileName(title, e.filename), bytes);
    }
  }
  const accounts = new Map<string, string>();
  for (const u of users) {
    const want = await oracle.getAccount(u)();
    expect(await s.getAccount(u)()).toEqual(want);
    if (E.isRight(want) && O.isSome(want.right)) accounts.set(u, want.right.value.password);
  }
  // On disk: exactly the spec's files, each thread file byte for byte the format of the oracle's thread.
  const names = readdirSync(dir).filter((n) => n !== 'credentials.txt').sort();
  expect(names).toEqual([...expectedFiles.keys()].sort());
  for (const [n, bytes] of expectedFiles) expect(readFileSync(join(dir, n)), `file ${JSON.stringify(n)}`).toEqual(bytes);
  const creds = accounts.size === 0 ? { accounts: [], warnings: [] } : parseCredentials(readFileSync(join(dir, 'credentials.txt'), 'utf8'));
  expect(creds.warnings).toEqual([]);
  expect(new Map(creds.accounts.map((a) => [a.username, a.password]))).toEqual(accounts);
};

describe('data-directory store against the in-memory oracle, across restarts', () => {
  it('random command sequences with hostile strings mean the same after every restart', async () => {
    let runs = 0;
    let refused = 0;
    let applied = 0;
    const stored = { account: 0, secret: 0, CRT: 0, MSG: 0, EDT: 0, DLT: 0, UPD: 0, RMV: 0 };
    await fc.assert(
      fc.asyncProperty(cast, fc.array(opTemplate, { minLength: 20, maxLength: 60, size: 'max' }), async (c, templates) => {
        const ops = templates.map((o) => resolve(c, o));
        runs++;
        const dir = mkdtempSync(join(tmpdir(), 'forum-restart-'));
        let store = await openStore(dir);
        const oracle = createMemoryStore();
        const users = new Set<string>();
        for (const o of [...ops, { op: 'restart' as const }]) {
          if (o.op === 'restart') {
            store = await openStore(dir);
            await compare(dir, store, oracle, users);
            continue;
          }
          users.add(o.user);
          const got = await apply(store, o);
          if (refusedAsUnstorable(got)) {
            // Refused, never stored changed; and only for a string no line-based file can hold.
            expect(mayRefuse(o), `refused ${JSON.stringify(o)}: ${JSON.stringify(got)}`).toBe(true);
            refused++;
            continue;
          }
          applied++;
          if (E.isRight(got)) stored[o.op]++;
          expect(got, JSON.stringify(o)).toEqual(await apply(oracle, o));
        }
      }),
      // A fixed seed (RESTART_SEED explores others): the coverage counts below depend on the draw, and EDT/DLT/RMV
      // succeed only 8–25 times in 100 sessions, so an unseeded run fails them now and then without any bug.
      // Shrinking a failure replays whole sessions on disk: bounded, so a failure is reported, not timed out.
      { seed: Number(process.env.RESTART_SEED ?? 20261202), numRuns: 100, interruptAfterTimeLimit: 120_000 },
    );
    // Both paths were exercised: hostile strings refused, others stored and compared.
    expect(runs).toBe(100);
    expect(refused).toBeGreaterThan(20);
    expect(applied).toBeGreaterThan(300);
    console.log(`restart property: ${runs} runs, ${applied} operations compared, ${refused} refused as unstorable; succeeded: ${JSON.stringify(stored)}`);
    for (const [k, n] of Object.entries(stored)) expect(n, `successful ${k}`).toBeGreaterThan(k === 'secret' ? 2 : 10);
  }, 180_000);

  it('an uploaded file that reads like a thread naming another thread as its upload hides nothing after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-restart-'));
    const s = await openStore(dir);
    await handlers.CRT(s, { username: 'victim', connectionKey: 'v' }, ['a-b-c'])();
    await handlers.MSG(s, { username: 'victim', connectionKey: 'v' }, ['a-b-c', 'mine'])();
    await handlers.CRT(s, { username: 'eve', connectionKey: 'e' }, ['a'])();
    // `a-b` on disk reads as a thread by eve whose upload `c` would be `a-b-c`.
    expect(E.isRight(await upload(s, 'a', 'b', 'eve', lookalike('eve', ['c'])))).toBe(true);
    const again = await openStore(dir);
    expect(await again.listThreads()()).toEqual(E.right(['a', 'a-b-c']));
    expect(await again.getThread('a-b-c')()).toEqual(E.right(O.some({ title: 'a-b-c', creator: 'victim', entries: [{ kind: 'message', author: 'victim', text: 'mine' }] })));
    expect(await handlers.CRT(again, { username: 'eve', connectionKey: 'e' }, ['a-b'])()).toEqual(E.left({ kind: 'threadExists', title: 'a-b' }));
  });

  it('messages by `bob:` stay bob:’s after a restart, and a message with U+2028 stays one message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-restart-'));
    const s = await openStore(dir);
    const bob = { username: 'bob', connectionKey: 'b' };
    const bobColon = { username: 'bob:', connectionKey: 'c' };
    await handlers.CRT(s, bob, ['t'])();
    await handlers.MSG(s, bobColon, ['t', 'by bob:'])();
    await handlers.MSG(s, bob, ['t', 'one\u2028two'])();
    await handlers.MSG(s, bobColon, ['t', 'third'])();
    const again = await openStore(dir);
    expect(E.map((r: HandlerSuccess) => r.lines)(await handlers.RDT(again, bob, ['t'])())).toEqual(E.right(['1 bob:: by bob:', '2 bob: one\u2028two', '3 bob:: third']));
    // bob cannot edit bob:'s message; DLT 3 by bob: deletes "third", not something else.
    expect(await handlers.EDT(again, bob, ['t', '1', 'mine now'])()).toEqual(E.left({ kind: 'notAuthor' }));
    expect(E.isRight(await handlers.DLT(again, bobColon, ['t', '3'])())).toBe(true);
    expect(readFileSync(join(dir, 't'), 'utf8')).toBe('bob\n1 bob:: by bob:\n2 bob: one\u2028two\n');
  });
});
