/**
 * The modes of the data directory's files. `credentials.txt` holds every
 * password (plain, the spec's format, unless --hash-passwords),
 * `.forum-account-origins` client addresses, the undo journal the bytes each
 * change replaced (credential lines among them): all were made 0644, readable
 * by any local user, and an atomic rewrite (a thread's, or the journal's
 * recovery putting credentials.txt back) reset any file to 0644. Now those are
 * made owner-only, a rewrite keeps the mode of the file it replaces, and the
 * forum's public content (threads, uploads) is made 0644 as before. New files'
 * modes are less the umask, measured here (not assumed 022). The kill case
 * runs the built store (dist/) in a child process: needs `pnpm build`.
 */
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as E from 'fp-ts/lib/Either.js';
import { afterAll, describe, expect, it } from 'vitest';
import { openFileStore, type FileStoreOptions, type ForumStore } from '../src/index.js';
import { ACCOUNT_ORIGINS_FILE } from '../src/file-store/account-origins.js';
import { encodeRecord, JOURNAL_FILE } from '../src/file-store/undo-journal.js';
import { run, upload } from './helpers.js';

const CHILD = fileURLToPath(new URL('./fixtures/store-crash-child.mjs', import.meta.url));
const ROOT = mkdtempSync(join(tmpdir(), 'forum-modes-'));
afterAll(() => rmSync(ROOT, { recursive: true, force: true }));

const freshDir = (): string => mkdtempSync(join(ROOT, 'dir-'));
const modeOf = (path: string): number => statSync(path).mode & 0o777;
const octal = (mode: number): string => mode.toString(8).padStart(4, '0');

/** `mode` less this process's umask: a file made 0666 shows which bits the umask takes away. */
const lessUmask = (mode: number): number => {
  const probe = join(ROOT, `probe-${process.pid}-${Math.random().toString(16).slice(2)}`);
  closeSync(openSync(probe, 'wx', 0o666));
  const allowed = modeOf(probe);
  rmSync(probe);
  return mode & allowed;
};

/**
 * A group this process may give its files other than its own (root: any; else a supplementary group of
 * its), or `undefined` if it has none.
 */
const otherGroup = ((): number | undefined => {
  if (process.getgid === undefined || process.getgroups === undefined) return undefined;
  const own = process.getgid();
  if (process.getuid?.() === 0) return own === 65534 ? 65533 : 65534;
  return process.getgroups().find((g) => g !== own);
})();

const open = async (dir: string, options: FileStoreOptions = {}): Promise<ForumStore> => {
  const s = await openFileStore(dir, options)();
  if (E.isLeft(s)) throw new Error(s.left.message);
  return s.right;
};

describe('data-directory file modes', () => {
  it('a new credentials.txt, .forum-account-origins and undo journal are owner-only; a new thread and upload 0644, each less the umask', async () => {
    const dir = freshDir();
    // Asked just before each change in place is written: the journal holds its record then.
    const journalModes: number[] = [];
    const owned = async (): Promise<boolean> => {
      try {
        journalModes.push(modeOf(join(dir, JOURNAL_FILE)));
      } catch {
        // No journal at this ask (a whole-file write's).
      }
      return true;
    };
    const s = await open(dir, { owned });
    expect(E.isRight(await s.createAccount({ username: 'ann', password: 'plain-secret', origin: '192.0.2.7' })())).toBe(true);
    // The second account appends through the journal.
    expect(E.isRight(await s.createAccount({ username: 'bob', password: 'other-secret', origin: '192.0.2.8' })())).toBe(true);
    await run(s, 'ann', 'CRT t');
    await run(s, 'ann', 'MSG t hello');
    expect(E.isRight(await upload(s, 't', 'f.bin', 'ann', Buffer.from([1, 2, 3])))).toBe(true);
    expect(octal(modeOf(join(dir, 'credentials.txt')))).toBe(octal(lessUmask(0o600)));
    expect(octal(modeOf(join(dir, ACCOUNT_ORIGINS_FILE)))).toBe(octal(lessUmask(0o600)));
    expect(journalModes.length, 'the journal was seen while it held a record').toBeGreaterThan(0);
    expect(journalModes.map(octal)).toEqual(journalModes.map(() => octal(lessUmask(0o600))));
    expect(octal(modeOf(join(dir, 't')))).toBe(octal(lessUmask(0o644)));
    expect(octal(modeOf(join(dir, 't-f.bin')))).toBe(octal(lessUmask(0o644)));
  });

  it('a thread rewritten whole keeps the mode it had (0640, 0600), whatever the umask', async () => {
    for (const mode of [0o640, 0o600]) {
      const dir = freshDir();
      // Written by hand (CRLF line ends, not as the store writes them): the next change rewrites the whole file.
      writeFileSync(join(dir, 't'), 'ann\r\n1 ann: hi\r\n');
      chmodSync(join(dir, 't'), mode);
      const s = await open(dir);
      await run(s, 'ann', 'MSG t more');
      expect(readFileSync(join(dir, 't'), 'utf8')).toBe('ann\n1 ann: hi\n2 ann: more\n');
      expect(octal(modeOf(join(dir, 't')))).toBe(octal(mode));
    }
  });

  it.runIf(otherGroup !== undefined)('a file rewritten keeps its group (0640 for a group tool): a thread, and credentials.txt put back by recovery', async () => {
    const group = otherGroup as number;
    const dir = freshDir();
    writeFileSync(join(dir, 't'), 'ann\r\n1 ann: hi\r\n');
    writeFileSync(join(dir, JOURNAL_FILE), encodeRecord({ t: 'begin', id: 1, file: 'credentials.txt', offset: 8 }, Buffer.alloc(0)));
    writeFileSync(join(dir, 'credentials.txt'), 'ann pw1\nbob p');
    for (const name of ['t', 'credentials.txt']) {
      chownSync(join(dir, name), statSync(join(dir, name)).uid, group);
      chmodSync(join(dir, name), 0o640);
    }
    const s = await open(dir);
    await run(s, 'ann', 'MSG t more');
    expect(readFileSync(join(dir, 'credentials.txt'), 'utf8')).toBe('ann pw1\n');
    expect(readFileSync(join(dir, 't'), 'utf8')).toBe('ann\n1 ann: hi\n2 ann: more\n');
    for (const name of ['t', 'credentials.txt']) {
      expect(statSync(join(dir, name)).gid, name).toBe(group);
      expect(octal(modeOf(join(dir, name))), name).toBe('0640');
    }
  });

  it('journal recovery puts credentials.txt back with its mode, not 0644', async () => {
    const dir = freshDir();
    const before = 'ann pw1\n';
    // As a process killed mid-append leaves it: the record of the change, the file half changed.
    writeFileSync(join(dir, JOURNAL_FILE), encodeRecord({ t: 'begin', id: 1, file: 'credentials.txt', offset: before.length }, Buffer.alloc(0)));
    writeFileSync(join(dir, 'credentials.txt'), `${before}bob p`);
    chmodSync(join(dir, 'credentials.txt'), 0o640);
    const s = await open(dir);
    expect(s.recovered?.join('\n')).toContain('credentials.txt');
    expect(readFileSync(join(dir, 'credentials.txt'), 'utf8')).toBe(before);
    expect(octal(modeOf(join(dir, 'credentials.txt')))).toBe('0640');
  });

  it('killed (SIGKILL) at each write and sync of an account appended to a 0640 credentials.txt: the journal is owner-only, and the reopened file 0640', async () => {
    const before = 'ann pw1\n';
    const ops = [{ op: 'account', user: 'bob', password: 'pw2' }];
    const opsFile = join(ROOT, 'ops.json');
    writeFileSync(opsFile, JSON.stringify(ops));
    let restored = 0;
    let journals = 0;
    for (let k = 1; ; k++) {
      const dir = freshDir();
      writeFileSync(join(dir, 'credentials.txt'), before);
      chmodSync(join(dir, 'credentials.txt'), 0o640);
      // Stopped at each file write (torn in half), sync and truncate (fixtures/store-crash-child.mjs); killed at the k-th.
      const child = spawn(process.execPath, [CHILD, dir, opsFile], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, STOP_AT_EVERY_CALL: '1' } });
      let err = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (x: string) => (err += x));
      const closed = new Promise<NodeJS.Signals | null>((resolve) => child.once('close', (_code, signal) => resolve(signal)));
      let killed = false;
      for await (const line of createInterface({ input: child.stdout })) {
        if (line === `stop ${k}`) {
          // The child is blocked mid-call: what is on disk now is what a kill at this instant leaves.
          const journal = statSync(join(dir, JOURNAL_FILE), { throwIfNoEntry: false });
          if (journal !== undefined) {
            expect(octal(journal.mode & 0o777), `journal at call ${k}`).toBe(octal(lessUmask(0o600)));
            journals++;
          }
          child.kill('SIGKILL');
          killed = true;
          break;
        }
        if (line.startsWith('stop ')) child.stdin.write('\n');
      }
      const signal = await closed;
      if (!killed) {
        // Past the last call: the child finished the op.
        expect(signal, err).toBeNull();
        expect(readFileSync(join(dir, 'credentials.txt'), 'utf8')).toBe(`${before}bob pw2\n`);
        expect(octal(modeOf(join(dir, 'credentials.txt')))).toBe('0640');
        break;
      }
      expect(signal).toBe('SIGKILL');
      const s = await open(dir);
      if ((s.recovered ?? []).some((r) => r.includes('credentials.txt'))) restored++;
      expect([before, `${before}bob pw2\n`], `killed at call ${k}`).toContain(readFileSync(join(dir, 'credentials.txt'), 'utf8'));
      expect(octal(modeOf(join(dir, 'credentials.txt'))), `killed at call ${k}`).toBe('0640');
    }
    expect(journals, 'kill points where the journal held the change').toBeGreaterThan(0);
    expect(restored, 'kill points whose reopening put credentials.txt back').toBeGreaterThan(0);
  }, 120_000);
});
