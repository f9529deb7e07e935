/**
 * The data-directory store killed (SIGKILL) in the middle of its writes: a
 * child process (the built store, dist/) runs a seeded list of appends, edits,
 * deletions and new accounts, and is killed at a seeded moment. Reopening the
 * directory must undo the change that was under way, if any (the undo
 * journal), and give exactly the state after the acknowledged operations or
 * after the one more that was in flight; the directory holds only the spec's
 * files, each in its exact format. Needs `pnpm build` (like the server e2e tests).
 */
import { spawn } from 'node:child_process';
import * as E from 'fp-ts/lib/Either.js';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatThreadFile, openFileStore, type Thread, type ThreadEntry } from '../src/index.js';
import { prng } from './seeded-random.js';

const CHILD = fileURLToPath(new URL('./fixtures/store-crash-child.mjs', import.meta.url));

type Op =
  | { readonly op: 'msg'; readonly user: string; readonly text: string }
  | { readonly op: 'edt'; readonly n: number; readonly text: string }
  | { readonly op: 'dlt'; readonly n: number }
  | { readonly op: 'account'; readonly user: string; readonly password: string }
  | { readonly op: 'secret'; readonly user: string; readonly password: string };

interface State {
  readonly entries: readonly ThreadEntry[];
  readonly accounts: readonly string[];
}

/** A seeded script; `states[k]` is what the directory holds after ops `0..k)`. */
const script = (seed: number, length: number): { ops: Op[]; states: State[] } => {
  const rand = prng(seed);
  const ops: Op[] = [];
  const states: State[] = [{ entries: [], accounts: [] }];
  // Texts up to 40 KB: an edit of an early message rewrites many pages, so a kill can land inside it.
  const text = (): string => `${'x\u2028é'.repeat(Math.floor(rand() * (rand() < 0.2 ? 13_000 : 30)))}${Math.floor(rand() * 1000)}`;
  for (let i = 0; i < length; i++) {
    const st = states[states.length - 1] as State;
    const count = st.entries.length;
    const r = rand();
    let op: Op;
    let next: State;
    if (count > 0 && r < 0.2) {
      const n = 1 + Math.floor(rand() * count);
      op = { op: 'edt', n, text: text() };
      next = { ...st, entries: st.entries.map((e, j) => (j === n - 1 && e.kind === 'message' ? { ...e, text: op.op === 'edt' ? op.text : '' } : e)) };
    } else if (count > 0 && r < 0.35) {
      const n = 1 + Math.floor(rand() * count);
      op = { op: 'dlt', n };
      next = { ...st, entries: st.entries.filter((_, j) => j !== n - 1) };
    } else if (r < 0.5) {
      const user = `user${seed}x${i}`;
      op = { op: 'account', user, password: `pw${i}` };
      next = { ...st, accounts: [...st.accounts, `${user} pw${i}`] };
    } else {
      const user = rand() < 0.5 ? 'bob:' : 'ann';
      const t = text();
      op = { op: 'msg', user, text: t };
      next = { ...st, entries: [...st.entries, { kind: 'message', author: user, text: t }] };
    }
    ops.push(op);
    states.push(next);
  }
  return { ops, states };
};

/** Runs the child; once it has acknowledged `killAfter` ops (if given), waits `delayMs` and kills it. Resolves with the acks seen and the `io` count it printed (if it finished). */
const runChild = (dir: string, ops: readonly Op[], kill: { readonly after: number; readonly delayMs: number } | undefined, crashAt = 0): Promise<{ acked: number; io: number | undefined }> =>
  new Promise((resolve, reject) => {
    // The script goes in a file beside (not in) the data directory: it is too big for argv.
    const opsFile = join(mkdtempSync(join(tmpdir(), 'forum-store-crash-ops-')), 'ops.json');
    writeFileSync(opsFile, JSON.stringify(ops));
    const child = spawn(process.execPath, [CHILD, dir, opsFile], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CRASH_AT: String(crashAt) } });
    let out = '';
    let err = '';
    let killing = false;
    const acks = (): number => out.split('\n').filter((l) => l.startsWith('ack ')).length;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (x: string) => (err += x));
    child.stdout.on('data', (x: string) => {
      out += x;
      if (kill !== undefined && !killing && acks() >= kill.after) {
        killing = true;
        setTimeout(() => child.kill('SIGKILL'), kill.delayMs);
      }
    });
    child.on('exit', (code, signal) => {
      // Acks written before the kill still count.
      const io = /^io ([0-9]+)$/m.exec(out);
      if (signal === 'SIGKILL' || code === 0) resolve({ acked: acks(), io: io === null ? undefined : Number(io[1]) });
      else reject(new Error(`child exited ${code}: ${err}`));
    });
  });

/** A directory with thread `t` by ann, as the child starts from. */
const startDir = async (): Promise<string> => {
  const dir = mkdtempSync(join(tmpdir(), 'forum-store-crash-'));
  const opened = await openFileStore(dir)();
  if (E.isLeft(opened)) throw new Error(opened.left.message);
  expect(E.isRight(await opened.right.createThread('t', 'ann')())).toBe(true);
  return dir;
};

/** Reopens `dir` and checks it holds `states[acked]` or `states[acked + 1]`, in the exact format, and nothing else. Returns which. */
const checkReopened = async (dir: string, states: readonly State[], acked: number, what: string): Promise<number> => {
  const again = await openFileStore(dir)();
  if (E.isLeft(again)) throw new Error(again.left.message);
  expect(again.right.warnings, what).toEqual([]);
  expect(readdirSync(dir).filter((n) => n !== 't' && n !== 'credentials.txt'), what).toEqual([]);
  const thread = await again.right.getThread('t')();
  if (E.isLeft(thread) || thread.right._tag === 'None') throw new Error(`${what}: thread t is gone`);
  const got: Thread = thread.right.value;
  const credentials = readdirSync(dir).includes('credentials.txt') ? readFileSync(join(dir, 'credentials.txt'), 'utf8') : '';
  // One op at a time: the acknowledged ones are all there, and at most the one in flight besides.
  const match = [acked, acked + 1].find((k) => {
    const want = states[k];
    return want !== undefined && JSON.stringify(got.entries) === JSON.stringify(want.entries) && credentials === want.accounts.map((l) => `${l}\n`).join('');
  });
  expect(match, `${what}: state after reopening matches neither ${acked} nor ${acked + 1} ops`).toBeDefined();
  expect(readFileSync(join(dir, 't'), 'utf8'), what).toBe(formatThreadFile(got));
  return match as number;
};

/**
 * Runs `killedAt(k)` for every kill point k from 1 to `calls`. Each is a case of its own: a child on a directory
 * of its own, checked as it ends. They run 8 at a time (a child mostly waits on its fsyncs, at 28-43% of a core
 * one after another): 28 s instead of 85 s alone at load 14 (4 at a time: 47 s).
 */
const atEveryKillPoint = async (calls: number, killedAt: (k: number) => Promise<void>): Promise<void> => {
  let nextK = 1;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (nextK <= calls) await killedAt(nextK++);
    }),
  );
};

describe('data-directory store killed (SIGKILL) mid-write, then reopened', () => {
  it('killed at every file write (torn in half), sync and truncate of a session: never a partial change', async () => {
    // Appends, an edit of the first message that rewrites 40 KB after it, a deletion, accounts.
    const big = 'é\u2028'.repeat(10_000);
    const ops: Op[] = [
      { op: 'msg', user: 'ann', text: 'first' },
      { op: 'msg', user: 'bob:', text: big },
      { op: 'account', user: 'ann', password: 'pw1' },
      { op: 'edt', n: 1, text: 'first, edited and longer' },
      { op: 'dlt', n: 1 },
      { op: 'account', user: 'bob:', password: 'pw2' },
      { op: 'msg', user: 'ann', text: 'last' },
    ];
    const states: State[] = [{ entries: [], accounts: [] }];
    const m = (author: string, text: string): ThreadEntry => ({ kind: 'message', author, text });
    states.push({ entries: [m('ann', 'first')], accounts: [] });
    states.push({ entries: [m('ann', 'first'), m('bob:', big)], accounts: [] });
    states.push({ entries: [m('ann', 'first'), m('bob:', big)], accounts: ['ann pw1'] });
    states.push({ entries: [m('ann', 'first, edited and longer'), m('bob:', big)], accounts: ['ann pw1'] });
    states.push({ entries: [m('bob:', big)], accounts: ['ann pw1'] });
    states.push({ entries: [m('bob:', big)], accounts: ['ann pw1', 'bob: pw2'] });
    states.push({ entries: [m('bob:', big), m('ann', 'last')], accounts: ['ann pw1', 'bob: pw2'] });

    const clean = await runChild(await startDir(), ops, undefined);
    expect(clean.acked).toBe(ops.length);
    const calls = clean.io ?? 0;
    expect(calls).toBeGreaterThan(ops.length * 3);
    let inFlightKept = 0;
    let inFlightUndone = 0;
    const killedAt = async (k: number): Promise<void> => {
      const dir = await startDir();
      const { acked, io } = await runChild(dir, ops, undefined, k);
      expect(io, `crash at call ${k} happened`).toBeUndefined();
      const match = await checkReopened(dir, states, acked, `killed at call ${k} of ${calls} after ${acked} acks`);
      if (match > acked) inFlightKept++;
      else inFlightUndone++;
    };
    await atEveryKillPoint(calls, killedAt);
    expect(inFlightKept + inFlightUndone).toBe(calls);
    console.log(`store kill points: ${calls} (each write torn in half), in-flight op kept ${inFlightKept} times, undone ${inFlightUndone} times`);
    expect(inFlightUndone).toBeGreaterThan(ops.length);
    // One child process a kill point, one after another, took 49 s alone at load 7, and past the suite's 60 s in a
    // full run at load 18 (session 36). Its own limit, not a shorter test: every kill point is a case.
  }, 180_000);

  it("killed at every file write, sync and truncate of new accounts and secret changes in a hand-written credentials file: its bytes are the acknowledged ones or the next op's, every other line's kept", async () => {
    // A byte order mark, CRLF lines, a malformed line of invalid UTF-8, a Latin-1 name (ren\xe9) and no final newline.
    const latin = Buffer.from([0x72, 0x65, 0x6e, 0xe9]);
    const invalid = Buffer.from([0xff, 0xfe, 0x20, 0x20, 0x41]);
    const creds = (ann: string, ren: string, bob: string, more: string): Buffer =>
      Buffer.concat([Buffer.from(`\uFEFFann ${ann}\r\n`), invalid, Buffer.from('\n'), latin, Buffer.from(` ${ren}\r\nbob ${bob}${more}`)]);
    const ops: Op[] = [
      { op: 'account', user: 'cy', password: 'pw3' },
      { op: 'secret', user: 'ann', password: 'a-longer-secret-than-before' },
      { op: 'secret', user: 'ren\ufffd', password: 'r2' },
      { op: 'secret', user: 'bob', password: 'b' },
      { op: 'account', user: 'dee', password: 'pw5' },
      { op: 'secret', user: 'ann', password: 'a' },
    ];
    const states = [
      creds('pw1', 'pw4', 'pw2', ''),
      creds('pw1', 'pw4', 'pw2', '\ncy pw3\n'),
      creds('a-longer-secret-than-before', 'pw4', 'pw2', '\ncy pw3\n'),
      creds('a-longer-secret-than-before', 'r2', 'pw2', '\ncy pw3\n'),
      creds('a-longer-secret-than-before', 'r2', 'b', '\ncy pw3\n'),
      creds('a-longer-secret-than-before', 'r2', 'b', '\ncy pw3\ndee pw5\n'),
      creds('a', 'r2', 'b', '\ncy pw3\ndee pw5\n'),
    ];
    const startCreds = async (): Promise<string> => {
      const dir = await startDir();
      writeFileSync(join(dir, 'credentials.txt'), states[0] as Buffer);
      return dir;
    };
    const clean = await runChild(await startCreds(), ops, undefined);
    expect(clean.acked).toBe(ops.length);
    const calls = clean.io ?? 0;
    expect(calls).toBeGreaterThan(ops.length * 3);
    let undone = 0;
    const killedAt = async (k: number): Promise<void> => {
      const dir = await startCreds();
      const { acked, io } = await runChild(dir, ops, undefined, k);
      const what = `killed at call ${k} of ${calls} after ${acked} acks`;
      expect(io, what).toBeUndefined();
      const again = await openFileStore(dir)();
      if (E.isLeft(again)) throw new Error(again.left.message);
      expect(readdirSync(dir).filter((n) => n !== 't' && n !== 'credentials.txt'), what).toEqual([]);
      const bytes = readFileSync(join(dir, 'credentials.txt'));
      const match = [acked, acked + 1].find((n) => states[n]?.equals(bytes) === true);
      expect(match, `${what}: ${JSON.stringify(bytes.toString('latin1'))}`).toBeDefined();
      if (match === acked) undone++;
    };
    await atEveryKillPoint(calls, killedAt);
    console.log(`credentials kill points: ${calls}, in-flight op undone ${undone} times`);
    expect(undone).toBeGreaterThanOrEqual(ops.length);
  }, 180_000);

  const SEEDS = Array.from({ length: 8 }, (_, i) => i + 1);
  const tally = { killedMidOp: 0, journalLeft: 0 };

  it.each(SEEDS)('seed %i, killed from outside at a seeded moment: the acknowledged state or the one after the op in flight, in the exact format', async (seed) => {
    const dir = await startDir();
    const { ops, states } = script(seed, 40);
    const rand = prng(seed * 7919);
    const { acked } = await runChild(dir, ops, { after: Math.floor(rand() * ops.length), delayMs: Math.floor(rand() * 8) });
    if (readdirSync(dir).includes('.forum-journal')) tally.journalLeft++;
    if (acked < ops.length) tally.killedMidOp++;
    await checkReopened(dir, states, acked, `seed ${seed}`);
  });

  it('the seeded kills landed inside the sessions', () => {
    console.log(`store crash runs: ${SEEDS.length} seeds, ${tally.killedMidOp} killed before the end, ${tally.journalLeft} left a journal for the reopen to undo`);
    expect(tally.killedMidOp).toBeGreaterThan(SEEDS.length / 2);
  });
});
