/**
 * Attack round 9, angle 2: the lock file of a running forum-server tampered
 * with by hand: filled with garbage, emptied, replaced by a directory, by a
 * symlink to a copy of its own record, by a symlink to another server's
 * record, made mode 000. For each: does the server write after it (a MSG
 * sent after the tampering, a second MSG 6 s later past a renewal), how does
 * it end (status, time), what is left, and what does a server starting next
 * on the directory say?
 *
 *   npx tsx attack/lock-tamper.ts [case…]   (default: all)
 */
import { setMaxListeners } from 'node:events';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { longSession, sleep, startServer } from './fence-lib.js';

const LOCK = '.forum-server.lock';
const other = `${JSON.stringify({ pid: 4242, host: 'elsewhere.example', boot: null, pidns: null, token: 'x' })}\n`;
const cases: Record<string, (dir: string, aside: string) => Promise<void>> = {
  garbage: (dir) => writeFile(join(dir, LOCK), 'garbage, not a record\n'),
  empty: (dir) => writeFile(join(dir, LOCK), ''),
  directory: async (dir) => {
    await unlink(join(dir, LOCK));
    await mkdir(join(dir, LOCK));
  },
  'symlink-own': async (dir, aside) => {
    await copyFile(join(dir, LOCK), join(aside, 'own'));
    await unlink(join(dir, LOCK));
    await symlink(join(aside, 'own'), join(dir, LOCK));
  },
  'symlink-other': async (dir, aside) => {
    await writeFile(join(aside, 'other'), other);
    await unlink(join(dir, LOCK));
    await symlink(join(aside, 'other'), join(dir, LOCK));
  },
  'mode-000': (dir) => chmod(join(dir, LOCK), 0),
};
const chosen = process.argv.length > 2 ? process.argv.slice(2) : Object.keys(cases);
let port = 43_000 + Math.floor(Math.random() * 4000) * 2;

for (const name of chosen) {
  const tamper = cases[name];
  if (tamper === undefined) throw new Error(`no case ${name}`);
  const dir = await mkdtemp(join(tmpdir(), 'a9-tamper-'));
  const aside = await mkdtemp(join(tmpdir(), 'a9-aside-'));
  port += 8;
  const s = await startServer(dir, port);
  let exitedAt = 0;
  void s.exited.then(() => (exitedAt = Date.now()));
  const abort = new AbortController();
  setMaxListeners(0, abort.signal);
  const u = await longSession(port, 'u', abort.signal, 20_000);
  await u.request('CRT', ['t']);
  await u.request('MSG', ['t', 'before']);
  const before = await readFile(join(dir, 't'), 'utf8');
  await tamper(dir, aside);
  const t0 = Date.now();
  const first = await Promise.race([u.request('MSG', ['t', 'after']).then((r) => r.lines[0] ?? '', (e: unknown) => String(e)), sleep(8000).then(() => '(no answer in 8 s)')]);
  await sleep(6000);
  const second = await Promise.race([u.request('MSG', ['t', 'after a renewal']).then((r) => r.lines[0] ?? '', (e: unknown) => String(e)), sleep(8000).then(() => '(no answer in 8 s)')]);
  const code = await Promise.race([s.exited, sleep(40_000).then(() => 'running after 40 s more' as const)]);
  const ended = (exitedAt || Date.now()) - t0;
  abort.abort();
  if (code === 'running after 40 s more') {
    s.child.kill('SIGTERM');
    await s.exited;
  }
  const after = await readFile(join(dir, 't'), 'utf8');
  const lockNow = await readFile(join(dir, LOCK), 'utf8').then((t) => JSON.stringify(t.slice(0, 60)), (e: { code?: string }) => e.code ?? String(e));
  const lastLines = s.out().split('\n').filter((l) => /lock|stopped|Error|Warning/.test(l)).map((l) => `    ${l}`).join('\n');
  // The next server on the directory (the tampered lock restored to a plain file first where it is a symlink to another's record: that one stands for a live server elsewhere).
  const next = await startServer(dir, port + 4, { waitMs: 45_000 }).then(
    async (n) => {
      n.child.kill('SIGTERM');
      await n.exited;
      return `started${/Took over/.test(n.out()) ? ` (${n.out().split('\n').find((l) => /Took over/.test(l)) ?? ''})` : ''}`;
    },
    (e: unknown) => `refused: ${String(e).split('\n').find((l) => l.includes('cannot open')) ?? String(e).slice(0, 200)}`,
  );
  console.log(`${name}: MSG right after: ${first}; MSG 6 s later: ${second}; server ended: ${String(code)} after ${ended} ms; thread ${after === before ? 'unchanged' : `CHANGED (${before.length} -> ${after.length} bytes)`}; lock left: ${lockNow}\n  next start: ${next}\n${lastLines}`);
  await rm(dir, { recursive: true, force: true });
  await rm(aside, { recursive: true, force: true });
}
process.exit(0);
