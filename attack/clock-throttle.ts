/**
 * Attack round 17, item 1: the login throttle's windows across a step of the wall clock.
 *
 *   npx tsx attack/clock-throttle.ts [stepSeconds=-3600] [waitSeconds=62] [server options…]
 *
 * The built forum-server runs with `clock-offset.mjs` preloaded, so its `Date.now` can be stepped without
 * touching the machine's clock. `victim` has an account (password `right`). A hostile client at 127.0.0.1
 * sends 5 wrong passwords for `victim` (the per-account limit: the throttle works as meant, `victim` is
 * refused for the window, 60 s). Then the server's clock is stepped by `stepSeconds` (negative: back), and
 * `victim` logs in with the right password from 127.0.0.2 at once and again after `waitSeconds` (past the
 * window). Prints each answer; an honest throttle lets `victim` in after the window whatever the step.
 * A second part does the same to a host: 20 wrong passwords from 127.0.0.3 spread over 4 accounts, the step,
 * then that host logs in to a fifth account with its right password.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rawConnection, startServer } from './forum-raw.js';

const stepMs = Number(process.argv[2] ?? -3600) * 1000;
const waitMs = Number(process.argv[3] ?? 62) * 1000;
const extra = process.argv.slice(4);
const dir = await mkdtemp(join(tmpdir(), 'a17-clock-'));
const clockFile = join(dir, 'clock-offset');
const data = join(dir, 'data');
await writeFile(clockFile, '0');
await mkdir(data);
const accounts = ['victim right', 'h1 right', 'h2 right', 'h3 right', 'h4 right', 'h5 right'];
await writeFile(join(data, 'credentials.txt'), accounts.map((a) => `${a}\n`).join(''));
const port = 20000 + Math.floor(Math.random() * 20000);
const server = await startServer(data, port, port + 1, extra, { nodeArgs: ['--import', new URL('./clock-offset.mjs', import.meta.url).pathname], env: { A17_CLOCK_FILE: clockFile } });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One login attempt on a fresh connection from `host`: the answer to the password, or to the username if refused there. */
const login = async (host: string, user: string, password: string): Promise<string> => {
  const { conn, request: ask } = await rawConnection(port, { localAddress: host });
  try {
    const u = await ask('username', [user]);
    if (u.status !== 'ok') return `username: ${u.lines.join('|')}`;
    const p = await ask('password', [password]);
    return p.lines.join('|');
  } finally {
    conn.destroy();
  }
};

const t0 = performance.now();
const at = (): string => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
try {
  for (let i = 0; i < 5; i++) console.log(`[${at()}] attacker, wrong password ${i + 1} for victim: ${await login('127.0.0.1', 'victim', `wrong${i}`)}`);
  for (let i = 0; i < 20; i++) {
    const r = await login('127.0.0.3', `h${(i % 4) + 1}`, `wrong${i}`);
    if (i === 19 || !r.startsWith('Invalid')) console.log(`[${at()}] host 127.0.0.3, wrong password ${i + 1}: ${r}`);
  }
  console.log(`[${at()}] before the step, victim from 127.0.0.2 (right password): ${await login('127.0.0.2', 'victim', 'right')}`);
  await writeFile(clockFile, String(stepMs));
  await sleep(300);
  console.log(`[${at()}] server clock stepped by ${stepMs / 1000} s`);
  console.log(`[${at()}] victim from 127.0.0.2 (right password): ${await login('127.0.0.2', 'victim', 'right')}`);
  console.log(`[${at()}] host 127.0.0.3, h5 (right password): ${await login('127.0.0.3', 'h5', 'right')}`);
  await sleep(waitMs);
  console.log(`[${at()}] after ${waitMs / 1000} s more, victim from 127.0.0.2 (right password): ${await login('127.0.0.2', 'victim', 'right')}`);
  console.log(`[${at()}] after ${waitMs / 1000} s more, host 127.0.0.3, h5 (right password): ${await login('127.0.0.3', 'h5', 'right')}`);
} finally {
  server.child.kill('SIGTERM');
  await server.exited;
  await rm(dir, { recursive: true, force: true });
}
