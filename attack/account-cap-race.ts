/**
 * Attack round 17, item 3e: new accounts racing for the last places under `--max-accounts`.
 *
 *   npx tsx attack/account-cap-race.ts [rounds=10] [racers=12]
 *
 * Each round a server starts on a data directory of `cap - 1` accounts (`--max-accounts cap`, cap = 3 + round), and
 * `racers` connections of as many addresses each create a different new account at the same instant. Exactly one may
 * be made; the others are told the forum is full. Then `credentials.txt` must hold `cap` accounts, also after a restart.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rawConnection, startServer } from './forum-raw.js';

const rounds = Number(process.argv[2] ?? 10);
const racers = Number(process.argv[3] ?? 12);
const create = async (port: number, host: string, user: string): Promise<string> => {
  const { conn, request } = await rawConnection(port, { localAddress: host });
  // Both steps at once: the creation races the others' from its first datagram.
  const u = request('username', [user]);
  const p = request('newPassword', [`pw-${user}`]);
  try {
    const ur = await u;
    return ur.status === 'ok' ? (await p).lines.join('|') : ur.lines.join('|');
  } catch (e) {
    return `no answer: ${e instanceof Error ? e.message : String(e)}`;
  } finally {
    conn.destroy();
  }
};
const made: number[] = [];
const answers = new Map<string, number>();
let wrongCount = 0;
for (let r = 0; r < rounds; r++) {
  const cap = 3 + r;
  const dir = await mkdtemp(join(tmpdir(), 'a17-cap-'));
  await writeFile(join(dir, 'credentials.txt'), Array.from({ length: cap - 1 }, (_, i) => `old${i} pw\n`).join(''));
  const port = 40_000 + Math.floor(Math.random() * 20_000);
  const opts = ['--max-accounts', String(cap), '--account-limit', '0', '--min-free-bytes', '0'];
  let server = await startServer(dir, port, port + 1, opts);
  const out = await Promise.all(Array.from({ length: racers }, (_, k) => create(port, `127.0.5.${k + 1}`, `new${r}x${k}`)));
  for (const o of out) answers.set(o.replace(/[0-9]+/g, 'N'), (answers.get(o.replace(/[0-9]+/g, 'N')) ?? 0) + 1);
  made.push(out.filter((o) => o === 'Welcome to the forum').length);
  server.child.kill('SIGTERM');
  await server.exited;
  const lines = (await readFile(join(dir, 'credentials.txt'), 'utf8')).split('\n').filter((l) => l.length > 0).length;
  server = await startServer(dir, port, port + 1, opts);
  const late = await create(port, '127.0.5.200', `late${r}`);
  if (lines !== cap || late.startsWith('Welcome')) wrongCount++;
  server.child.kill('SIGTERM');
  await server.exited;
  await rm(dir, { recursive: true, force: true });
}
console.log(`${rounds} rounds, ${racers} creations at once for the last place: made per round ${JSON.stringify(made)}; rounds with credentials.txt not at the cap or a creation after a restart: ${wrongCount}`);
console.log(`answers: ${JSON.stringify(Object.fromEntries(answers))}`);
