/**
 * Attack round 8, angle 2: the all-threads byte limit (--max-thread-bytes) under concurrency from
 * several accounts: MSGs, growing EDTs and upload lines racing for the last bytes, then DLT/RMV
 * making room, filled again, a restart, filled again. The thread files together must never pass
 * the limit, and each fill must reach about the same total (the count must not drift).
 *
 *   npx tsx attack/thread-bytes-race.ts [limit=300000] [rounds=3]
 */
import { setMaxListeners } from 'node:events';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { session, startServer, upload, type Session } from './forum-raw.js';

const limit = Number(process.argv[2] ?? 300_000);
const rounds = Number(process.argv[3] ?? 3);
const dir = await mkdtemp(join(tmpdir(), 'a8-tbytes-'));
const port = 40_000 + Math.floor(Math.random() * 20_000);
const args = ['--max-thread-bytes', String(limit), '--request-rate', '0'];
let server = await startServer(dir, port, port + 1, args);
const users = ['u1', 'u2', 'u3', 'u4'];
let abort = new AbortController();
setMaxListeners(0, abort.signal);
const login = async (): Promise<Session[]> => Promise.all(users.map((u) => session(port, u, abort.signal)));
let sessions = await login();
const threadBytes = async (): Promise<number> => {
  let n = 0;
  for (const f of await readdir(dir)) if (/^t[0-9]$/.test(f)) n += (await stat(join(dir, f))).size;
  return n;
};
const problems: string[] = [];
for (const [i, s] of sessions.entries()) await s.request('CRT', [`t${i}`]);
let fileNo = 0;
/** Every account floods MSG (pipelined), growing EDTs of its own first message and upload lines until all are refused. */
const fill = async (label: string): Promise<number> => {
  let peak = 0;
  await Promise.all(
    sessions.map(async (s, i) => {
      let refusedInARow = 0;
      while (refusedInARow < 30) {
        const t = `t${(i + refusedInARow) % 4}`;
        const batch = [
          s.request('MSG', [t, `${'m'.repeat(500 + Math.floor(Math.random() * 2000))}`]),
          s.request('EDT', [`t${i}`, '1', 'e'.repeat(100 + Math.floor(Math.random() * 3000))]),
          s.request('MSG', [t, 'short']),
        ];
        const replies = await Promise.all(batch);
        const g = await s.request('UPD', [t, `f${++fileNo}-${'n'.repeat(80)}`]);
        const upOk = g.data.kind === 'transfer' ? await upload(s, g, Buffer.from('x'), abort.signal) : false;
        const ok = replies.filter((r) => r.lines[0]?.startsWith('Message posted') || r.lines[0] === 'The message has been edited').length + (upOk ? 1 : 0);
        refusedInARow = ok === 0 ? refusedInARow + 1 : 0;
        const now = await threadBytes();
        peak = Math.max(peak, now);
        if (now > limit) problems.push(`${label}: thread files hold ${now} bytes, over the limit ${limit}`);
      }
    }),
  );
  const total = await threadBytes();
  console.log(`${label}: filled to ${total} of ${limit} bytes (peak seen ${peak})`);
  return total;
};
const emptyOut = async (): Promise<void> => {
  // Every account removes its own thread and makes it again (its first message gone with it).
  for (const [i, s] of sessions.entries()) {
    await s.request('RMV', [`t${i}`]);
    await s.request('CRT', [`t${i}`]);
    await s.request('MSG', [`t${i}`, 'first']);
  }
};
for (const [i, s] of sessions.entries()) await s.request('MSG', [`t${i}`, 'first']);
const totals: number[] = [];
for (let r = 0; r < rounds; r++) {
  totals.push(await fill(`fill ${r + 1}`));
  await emptyOut();
  if (r === rounds - 2) {
    abort.abort();
    server.child.kill('SIGKILL');
    await server.exited;
    server = await startServer(dir, port, port + 1, args);
    abort = new AbortController();
    setMaxListeners(0, abort.signal);
    sessions = await login();
    console.log('(killed and restarted)');
  }
}
const spread = Math.max(...totals) - Math.min(...totals);
if (spread > 8_000) problems.push(`fills reached ${totals.join(', ')} bytes: the count drifted by ${spread}`);
console.log(problems.length === 0 ? 'HELD: no problem found' : `PROBLEMS:\n${[...new Set(problems)].slice(0, 20).join('\n')}`);
abort.abort();
server.child.kill('SIGTERM');
await server.exited;
await rm(dir, { recursive: true, force: true });
process.exit(0);
