/**
 * Attack round 17, item 4: what a client that never logs in learns about other users, and how fast.
 *
 *   npx tsx attack/user-probe.ts [accounts=1000] [online=10] [probes=3000]
 *
 * The data directory holds `accounts` accounts (`user<i>`, some with capitals: `User<i>` for every 7th); `online` of
 * them are logged in by honest sessions. The attacker, one connection from 127.0.0.1, sends the username step only
 * (never a password: no check is counted), pipelined, for `probes` names: existing ones, absent ones (`nobody<i>`),
 * the online ones, and the lower-case spelling of the capitalised ones. Prints, per kind of name, the answers (the
 * text tells the kind apart or not), the round trip's p50 and p99 (timing as a side channel), the probes answered a
 * second, and the server's log lines per probe.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rawConnection, session, startServer } from './forum-raw.js';

const accounts = Number(process.argv[2] ?? 1000);
const online = Number(process.argv[3] ?? 10);
const probes = Number(process.argv[4] ?? 3000);
const dir = await mkdtemp(join(tmpdir(), 'a17-probe-'));
const data = join(dir, 'd');
await mkdir(data);
const nameOf = (i: number): string => (i % 7 === 0 ? `User${i}` : `user${i}`);
await writeFile(join(data, 'credentials.txt'), Array.from({ length: accounts }, (_, i) => `${nameOf(i)} pw-${nameOf(i)}\n`).join(''));
const port = 40_000 + Math.floor(Math.random() * 20_000);
const server = await startServer(data, port, port + 1, ['--min-free-bytes', '0']);
const abort = new AbortController();
const onlineNames = Array.from({ length: online }, (_, i) => nameOf(i * 3 + 1));
for (const [k, u] of onlineNames.entries()) await session(port, u, abort.signal, `127.0.2.${k + 1}`);

const { conn, request } = await rawConnection(port, { localAddress: '127.0.0.1' });
const probe = async (name: string): Promise<{ readonly answer: string; readonly ms: number }> => {
  const t = performance.now();
  const r = await request('username', [name]);
  const answer = r.status === 'ok' && r.data.kind === 'auth' ? `ok, next ${r.data.next}` : r.lines.join('|').replace(new RegExp(name, 'g'), 'NAME').replace(/user[0-9]+|User[0-9]+/g, 'OTHER');
  return { answer, ms: performance.now() - t };
};
const kinds: Record<string, (i: number) => string> = {
  existing: (i) => nameOf((i * 3 + 2) % accounts),
  absent: (i) => `nobody${i}`,
  online: (i) => onlineNames[i % onlineNames.length] as string,
  'other spelling': (i) => `user${(i * 7) % accounts}`,
};
const stats = new Map<string, { answers: Map<string, number>; ms: number[] }>();
const logBefore = server.out.length;
const t0 = performance.now();
let done = 0;
// 16 in flight: pipelined, within the per-connection queue.
const order = Array.from({ length: probes }, (_, i) => i);
await Promise.all(
  Array.from({ length: 16 }, async () => {
    for (let i = order.shift(); i !== undefined; i = order.shift()) {
      const kind = Object.keys(kinds)[i % 4] as string;
      const r = await probe((kinds[kind] as (i: number) => string)(Math.floor(i / 4)));
      const s = stats.get(kind) ?? { answers: new Map<string, number>(), ms: [] };
      stats.set(kind, s);
      s.answers.set(r.answer, (s.answers.get(r.answer) ?? 0) + 1);
      s.ms.push(r.ms);
      done++;
    }
  }),
);
const seconds = (performance.now() - t0) / 1000;
const q = (xs: number[], p: number): string => ([...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? 0).toFixed(2);
console.log(`${done} username probes from one connection in ${seconds.toFixed(1)} s: ${(done / seconds).toFixed(0)} a second`);
for (const [kind, s] of stats) console.log(`  ${kind}: ${JSON.stringify(Object.fromEntries(s.answers))}; round trip p50 ${q(s.ms, 0.5)} ms, p99 ${q(s.ms, 0.99)} ms`);
const logLines = server.out.slice(logBefore).split('\n').filter((l) => l.length > 0);
const kindsOfLines = new Map<string, number>();
for (const l of logLines) kindsOfLines.set(l.replace(/[0-9]+/g, 'N').slice(0, 60), (kindsOfLines.get(l.replace(/[0-9]+/g, 'N').slice(0, 60)) ?? 0) + 1);
console.log(`server log: ${logLines.length} lines (${JSON.stringify(Object.fromEntries([...kindsOfLines].slice(0, 5)))})`);
abort.abort();
conn.destroy();
server.child.kill('SIGTERM');
await server.exited;
await rm(dir, { recursive: true, force: true });
