/**
 * Attack round 9, angle 4: the data directory on a full file system (a
 * 4 MiB tmpfs, mounted in a mount namespace of this script's own: root
 * only) at the moments the lock is renewed, re-created and taken.
 *
 *   npx tsx attack/lock-enospc.ts
 *
 * 1. A server on the tmpfs, a thread with a message; the tmpfs filled to
 *    the last byte; 7 s (past a renewal): still running? A MSG: its answer.
 * 2. Space freed: a MSG: its answer (a journal that failed stays failed?).
 * 3. Filled again, the lock deleted by hand: the holder cannot create it
 *    again (ENOSPC): how does it end, what is left?
 * 4. A second server started on the still-full directory: its refusal.
 * Then the thread file is checked: every confirmed message once.
 */
import { spawnSync } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { longSession, messageCounts, sleep, startServer } from './fence-lib.js';

if (process.env['A9_IN_NS'] === undefined) {
  // Again, in a mount namespace of its own, so the tmpfs is nobody else's.
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', process.execPath, '--import', 'tsx', new URL(import.meta.url).pathname], { stdio: 'inherit', env: { ...process.env, A9_IN_NS: '1' } });
  process.exit(r.status ?? 1);
}
const mnt = await mkdtemp(join(tmpdir(), 'a9-enospc-'));
const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt]);
if (mounted.status !== 0) {
  console.log(`cannot mount a tmpfs here: ${mounted.stderr.toString().trim()}`);
  process.exit(0);
}
const dir = join(mnt, 'data');
const fill = async (): Promise<void> => {
  // One big file, then small ones for the last blocks.
  await writeFile(join(mnt, 'filler'), Buffer.alloc(8 << 20)).catch(() => undefined);
  for (let i = 0; ; i++) {
    try {
      await writeFile(join(mnt, `f${i}`), Buffer.alloc(512));
    } catch {
      break;
    }
  }
};
const free = async (): Promise<void> => {
  spawnSync('sh', ['-c', `rm -f ${mnt}/filler ${mnt}/f*`]);
};
const port = 45_000 + Math.floor(Math.random() * 2000) * 4;
const a = await startServer(dir, port);
let exitedAt = 0;
void a.exited.then(() => (exitedAt = Date.now()));
const abort = new AbortController();
setMaxListeners(0, abort.signal);
const u = await longSession(port, 'u', abort.signal, 20_000);
const confirmed: string[] = [];
const msg = async (text: string): Promise<string> => {
  const r = await Promise.race([u.request('MSG', ['t', text]).then((x) => x.lines[0] ?? '', (e: unknown) => String(e)), sleep(8000).then(() => '(no answer in 8 s)')]);
  if (r.startsWith('Message posted')) confirmed.push(text);
  return r;
};
await u.request('CRT', ['t']);
console.log(`before: ${await msg('m0')}`);
await fill();
await sleep(7000);
console.log(`1. full, 7 s later: server ${a.child.exitCode === null ? 'running' : `exited ${a.child.exitCode}`}; MSG: ${await msg('m1')}`);
await free();
console.log(`2. space freed: MSG: ${await msg('m2')}`);
await fill();
const t0 = Date.now();
await unlink(join(dir, '.forum-server.lock'));
console.log(`3. full, lock deleted: MSG: ${await msg('m3')}`);
const code = await Promise.race([a.exited, sleep(40_000).then(() => 'running after 40 s' as const)]);
console.log(`   server ended: ${String(code)} after ${(exitedAt || Date.now()) - t0} ms; lock left: ${await readFile(join(dir, '.forum-server.lock'), 'utf8').then(() => 'yes', (e: { code?: string }) => e.code ?? '?')}`);
for (const l of a.out().split("\n").filter((x) => /lock|rror|Warning|stopped/.test(x))) console.log(`     ${l.slice(0, 220)}`);
abort.abort();
if (code !== 3 && a.child.exitCode === null) a.child.kill('SIGKILL');
const b = await startServer(dir, port + 2).then(
  async (s) => {
    s.child.kill('SIGTERM');
    await s.exited;
    return 'started';
  },
  (e: unknown) => `refused: ${String(e).split('\n').find((l) => l.includes('cannot open')) ?? String(e).slice(0, 200)}`,
);
console.log(`4. second server on the full directory: ${b}`);
await free();
const counts = messageCounts(await readFile(join(dir, 't'), 'utf8'));
const wrong = confirmed.filter((m) => counts.get(m) !== 1);
console.log(`confirmed ${confirmed.join(',')}; ${wrong.length === 0 ? 'each on disk once' : `WRONG: ${wrong.join(',')}`}`);
spawnSync('umount', [mnt]);
await rm(mnt, { recursive: true, force: true });
process.exit(0);
