/**
 * Attack round 18, item 2: two forum-servers on one PostgreSQL; server A is killed (SIGKILL) with an upload
 * half sent and another user's session idle on it. The users log in on server B: when they are let in and
 * what they read meanwhile (forum-client's lines for the first attempt), what became of the half upload and
 * its name, and the bytes it holds against `--max-data-bytes`.
 *
 *   npx tsx attack/pg-server-kill.ts [maxDataMiB=6] [uploadMiB=4]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { createRequire } from 'node:module';
import net from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Postgres from '../packages/forum-protocol/node_modules/postgres/types/index.js';
import { deriveTransferKeys, SecureTransferChannel, sessionExporter } from '../packages/forum-protocol/dist/index.js';
import { startEmbeddedPostgres } from '../scripts/embedded-postgres.mjs';
import { startServerProcess } from '../scripts/cluster.mjs';
import { rawConnection, session } from './forum-raw.js';
import { downloadBytes, sha, uploadAnswer } from './pg-fault-lib.js';

const postgres = createRequire(new URL('../packages/forum-protocol/package.json', import.meta.url))('postgres') as typeof Postgres;
const maxData = Number(process.argv[2] ?? 6) * 2 ** 20;
const size = Number(process.argv[3] ?? 4) * 2 ** 20;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const CLIENT_BIN = new URL('../packages/client/bin/forum-client.js', import.meta.url).pathname;

const pg = await startEmbeddedPostgres();
const sql = postgres(pg.url, { max: 2, onnotice: () => undefined });
const keyDir = await mkdtemp(join(tmpdir(), 'a18-kill-'));
const stop = new AbortController();
setMaxListeners(0, stop.signal);
const start = () =>
  startServerProcess({ port: 0, databaseUrl: pg.url, idleTimeoutSeconds: 600, cwd: keyDir, identityFile: join(keyDir, 'identity'), extraArgs: ['--account-limit', '0', '--max-data-bytes', String(maxData)] });
const a = await start();
const b = await start();
const mib = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;
const state = async (): Promise<string> => {
  const [row] = await sql<{ pending: number; bytes: string; slots: number; leases: number }[]>`
    SELECT (SELECT count(*)::int FROM uploads WHERE NOT committed) AS pending, (SELECT bytes FROM upload_bytes) AS bytes,
           (SELECT count(*)::int FROM upload_slots WHERE expires_at > now()) AS slots,
           (SELECT count(*)::int FROM session_leases WHERE expires_at > now()) AS leases`;
  return `pending uploads ${row?.pending}, upload bytes ${mib(Number(row?.bytes ?? 0))}, live upload places ${row?.slots}, live leases ${row?.leases}`;
};
try {
  const m = await session(a.port, 'mallory', stop.signal);
  await m.request('CRT', ['t']);
  const sam = await session(a.port, 'sam', stop.signal);
  await sam.request('MSG', ['t', 'sam was here']);
  const r = await m.request('UPD', ['t', 'half.bin']);
  if (r.data.kind !== 'transfer') throw new Error(r.lines.join('|'));
  const socket = net.connect({ host: '127.0.0.1', port: r.data.port });
  socket.on('error', () => undefined);
  socket.write(`${r.data.token}\n`);
  const ch = new SecureTransferChannel(socket, deriveTransferKeys(sessionExporter(m.conn), r.data.token), 'client');
  ch.on('error', () => undefined);
  ch.write(`${size}\n`);
  ch.write(randomBytes(size / 2));
  for (let i = 0; i < 200 && Number((await sql<{ b: string }[]>`SELECT bytes AS b FROM upload_bytes`)[0]?.b ?? 0) < size / 2; i++) await sleep(50);
  console.log(`before the kill: ${await state()}`);
  a.child.kill('SIGKILL');
  await a.exited;
  const t0 = performance.now();
  const since = (): string => ((performance.now() - t0) / 1000).toFixed(1);
  let closedAt = 'not closed';
  m.conn.once('close', () => (closedAt = `closed ${since()} s after the kill`));
  console.log(`right after: ${await state()}`);

  // forum-client on B at once: what the user reads.
  const fcOut = await new Promise<string>((resolve) => {
    const c = spawn(process.execPath, [CLIENT_BIN, String(b.port), '--known-hosts', join(keyDir, 'kh')], { cwd: keyDir });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (out += d.toString()));
    c.stdin.end('sam\npw-sam\nXIT\n');
    c.once('close', (code) => resolve(`${out.replace(/The server at[^\n]*\n|Its identity[^\n]*\n|Trusting[^\n]*\n/g, '').replace(/\n/g, ' | ')} (exit ${code})`));
  });
  console.log(`forum-client on B as sam at ${since()} s: ${fcOut}`);

  // Each account logs in on B, retried every 250 ms: the answers and when it got in.
  const tryIn = async (user: string): Promise<string> => {
    const answers = new Map<string, number>();
    for (;;) {
      const c = await rawConnection(b.port, { signal: stop.signal });
      const u = await c.request('username', [user]);
      const next = u.data.kind === 'auth' ? u.data.next : '';
      const w = next === 'password' || next === 'newPassword' ? await c.request(next, [`pw-${user}`]) : u;
      const line = w.lines[0] ?? '';
      c.conn.destroy();
      if (line === 'Welcome to the forum') return `${user} welcomed on B ${since()} s after the kill; before: ${[...answers].map(([k, n]) => `${n} x "${k}"`).join(', ')}`;
      answers.set(line, (answers.get(line) ?? 0) + 1);
      if (performance.now() - t0 > 120_000) return `${user} never let in: ${[...answers]}`;
      await sleep(250);
    }
  };
  console.log(await tryIn('sam'));
  console.log(await tryIn('mallory'));
  console.log(`then: ${await state()}; mallory's connection to the dead server: ${closedAt}`);
  const m2 = await session(b.port, 'mallory', stop.signal);
  console.log(`RDT t on B: ${(await m2.request('RDT', ['t'])).lines.join(' | ')}`);
  const again = randomBytes(size);
  const upd = await m2.request('UPD', ['t', 'half.bin']);
  const ans = upd.data.kind === 'transfer' ? await uploadAnswer(m2, upd, again) : `UPD: ${upd.lines.join('|')}`;
  console.log(`the same name uploaded again on B at ${since()} s (${mib(size)}, --max-data-bytes ${mib(maxData)}): ${ans}; ${await state()}`);
  if (ans !== 'OK') {
    // How long until it fits: every 5 s, up to 11 minutes (the stale-upload sweep is at 10 minutes, run as an upload begins).
    for (let i = 0; i < 132; i++) {
      await sleep(5000);
      const u = await m2.request('UPD', ['t', 'half.bin']);
      const a2 = u.data.kind === 'transfer' ? await uploadAnswer(m2, u, again) : `UPD: ${u.lines.join('|')}`;
      if (a2 === 'OK') {
        console.log(`  accepted ${since()} s after the kill; ${await state()}`);
        break;
      }
      if (i % 12 === 0) console.log(`  ${since()} s: ${a2}; ${await state()}`);
    }
  }
  const got = await downloadBytes(m2, await m2.request('DWN', ['t', 'half.bin']));
  console.log(`DWN half.bin: ${typeof got === 'string' ? got : sha(got) === sha(again) ? 'the new bytes' : 'OTHER bytes'}`);
} finally {
  stop.abort();
  await a.stop().catch(() => undefined);
  await b.stop().catch(() => undefined);
  await sql.end();
  await pg.stop();
  await rm(keyDir, { recursive: true, force: true });
}
