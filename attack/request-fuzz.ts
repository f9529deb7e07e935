/**
 * Attack round 17, item 5: hostile requests from logged-in accounts, well-formed and not, against the built server.
 *
 *   npx tsx attack/request-fuzz.ts [requests=6000] [seed=17] [accounts=4]   (half the commands with their own arity)
 *
 * `accounts` sessions (each from its own address, so each has its own pace) send seeded random requests, 8 in flight
 * each: every command (and login steps, unknown commands) with 0–4 arguments drawn from hostile strings (empty, spaces,
 * numbers written every way, `__proto__`, `constructor`, `.`/`..`, paths, look-alikes, 4,096-byte words, the names of
 * the threads and files that exist) and raw JSON that is no request (arguments of the wrong type, ids of every type,
 * `__proto__` keys, nested objects, lone surrogates). The accounts also create threads and post, so EDT/DLT/RMV/UPD/DWN
 * find something. Checked: every request answered (a refusal counts), the server alive and not logging `Internal
 * error`, the replies' texts by kind, and after a restart the same LST and RDT of every thread (nothing half-made),
 * message numbers 1..n in every thread.
 */
import { setMaxListeners } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeServerMessage, type Reply } from '../packages/forum-protocol/dist/index.js';
import { session, startServer, type Session } from './forum-raw.js';
import { mulberry32 } from './lib-random.js';

const total = Number(process.argv[2] ?? 6000);
const nAccounts = Number(process.argv[4] ?? 4);
const rnd = mulberry32(Number(process.argv[3] ?? 17));
const pick = <A>(xs: readonly A[]): A => xs[Math.floor(rnd() * xs.length)] as A;
const CMDS = ['CRT', 'MSG', 'DLT', 'EDT', 'LST', 'RDT', 'UPD', 'DWN', 'RMV', 'username', 'password', 'newPassword', 'FOO', 'crt', '', 'XIT '];
const STRINGS = [
  '', ' ', '  ', '0', '1', '2', '-1', '+1', '1.0', '1e3', '0x1', '01', '00000000000000000001', '99999999999999999999', 'NaN', 'Infinity', '٣', '１',
  '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype', 'valueOf', '.', '..', '...', 'a/b', '../x', '/etc/passwd', 'C:\\x', 'a\\b',
  'credentials.txt', 'CREDENTIALS.TXT', '.forum-journal', 't0', 'T0', 't0-f', 'f', 'F', 'x'.repeat(4096), 'y'.repeat(255), 'é'.repeat(128),
  'e\u0301', 'ß', 'SS', 'ﬀ', 'İ', 'ı', 'ſ', '\u200b', '\u202e', 'a b', 'a:b', 'a\tb', 'a\nb', '🙂', '日本', 'аlice', 'null', 'undefined', 'true',
];
const ARITY: Readonly<Record<string, number>> = { CRT: 1, MSG: 2, DLT: 2, EDT: 3, LST: 0, RDT: 1, UPD: 2, DWN: 2, RMV: 1, username: 1, password: 1, newPassword: 1 };
const word = (): string => (rnd() < 0.5 ? pick(STRINGS) : pick(['t0', 't1', 't2', 'T1', 'f', 'g.bin', '1', '2', '3']));
const rawJson = (id: string): string => {
  const r = rnd();
  if (r < 0.1) return JSON.stringify({ id, username: '', cmd: pick(CMDS), args: [1, null, {}, []].slice(0, 1 + Math.floor(rnd() * 4)) });
  if (r < 0.2) return JSON.stringify({ id: pick([1, null, {}, [], 'x'.repeat(200), '']), username: '', cmd: 'LST', args: [] });
  if (r < 0.3) return `{"id":"${id}","username":"","cmd":"CRT","args":["\\ud800${Math.floor(rnd() * 1e6)}"]}`;
  if (r < 0.4) return `{"id":"${id}","username":"","cmd":"MSG","args":["t0","\\udfff x"],"__proto__":{"admin":true}}`;
  if (r < 0.5) return `{"id":"${id}","username":"","cmd":"LST","args":[],"extra":${'['.repeat(200)}${']'.repeat(200)}}`;
  if (r < 0.6) return JSON.stringify({ id, username: pick(['root', 'b', '__proto__', 'x'.repeat(100)]), cmd: 'RMV', args: ['t0'] });
  if (r < 0.7) return JSON.stringify({ id, username: '', cmd: pick(CMDS), args: 'CRT' });
  if (r < 0.8) return `{"id":"${id}","username":"","cmd":"CRT","args":["a"],"id":"dup"}`;
  if (r < 0.9) return JSON.stringify([id, '', 'LST', []]);
  return JSON.stringify({ id, username: '', cmd: 'EDT', args: ['t0', String(Math.floor(rnd() * 10) - 2), 'z'.repeat(Math.floor(rnd() * 5000))] });
};

const dir = await mkdtemp(join(tmpdir(), 'a17-fuzz-'));
const port = 40_000 + Math.floor(Math.random() * 20_000);
const extra = ['--min-free-bytes', '0'];
let server = await startServer(dir, port, port + 1, extra);
const abort = new AbortController();
setMaxListeners(0, abort.signal);
const sessions = (await Promise.all(Array.from({ length: nAccounts }, (_, k) => session(port, `fz${k}`, abort.signal, `127.0.4.${k + 1}`)))) as Session[];
const closed = new Set<Session>();
for (const s of sessions) s.conn.on('close', () => closed.add(s));
for (const [k, s] of sessions.entries()) {
  await s.request('CRT', [`t${k}`]);
  await s.request('MSG', [`t${k}`, 'hello']);
}
// Raw sends on the session's connection, answered through its own 'message' listener.
const answers = new Map<string, number>();
let sent = 0;
let answered = 0;
let unanswered = 0;
const rawAsk = (s: Session, text: string, key: string): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(() => {
      unanswered++;
      s.conn.off('message', on);
      resolve();
    }, 10_000);
    const on = (bytes: Uint8Array): void => {
      const m = decodeServerMessage(bytes);
      if (m._tag !== 'Right' || m.right.type !== 'reply') return;
      if (m.right.id !== key && !(key === '?' && m.right.id !== undefined)) return;
      clearTimeout(timer);
      s.conn.off('message', on);
      answered++;
      const line = (m.right.lines[0] ?? `(${m.right.status}, no lines)`).replace(/[0-9]+/g, 'N').slice(0, 70);
      answers.set(line, (answers.get(line) ?? 0) + 1);
      resolve();
    };
    s.conn.on('message', on);
    void s.conn.send(Buffer.from(text, 'utf8')).catch(() => undefined);
  });
let next = 0;
const t0 = performance.now();
await Promise.all(
  sessions.flatMap((s, k) =>
    Array.from({ length: 8 }, async (_, lane) => {
      while (next < total && !closed.has(s)) {
        const n = next++;
        sent++;
        const id = `f${k}-${lane}-${n}`;
        if (rnd() < 0.3) {
          const text = rawJson(id);
          // A raw request whose id is not a string is answered with a guessed id: wait for any (bounded).
          await rawAsk(s, text, text.includes(`"id":"${id}"`) && !text.includes('"id":"dup"') ? id : '?');
        } else {
          const cmd = pick(CMDS);
          // Half of them with the command's own number of arguments, so that they get past the syntax check.
          const arity = ARITY[cmd];
          const args = Array.from({ length: arity !== undefined && rnd() < 0.5 ? arity : Math.floor(rnd() * 5) }, word);
          await rawAsk(s, JSON.stringify({ id, username: '', cmd, args }), id);
        }
      }
    }),
  ),
);
const secs = (performance.now() - t0) / 1000;
const alive = server.child.exitCode === null;
console.log(`${sent} requests in ${secs.toFixed(1)} s; answered ${answered}, unanswered after 10 s ${unanswered}; server alive: ${alive}; sessions closed: ${closed.size}`);
console.log(`answers (first line, by kind, top 25):`);
for (const [l, n] of [...answers].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${n}\t${l}`);
const internal = server.out.split('\n').filter((l) => /Internal error|Store error|TypeError|RangeError|at .*\.js:/.test(l));
console.log(`server log: ${server.out.split('\n').length} lines; internal/store errors: ${internal.length}${internal.length > 0 ? `\n  ${internal.slice(0, 5).join('\n  ')}` : ''}`);
// State before and after a restart.
const snapshot = async (s: Session): Promise<string> => {
  const lst = await s.request('LST', []);
  const parts = [lst.lines.join('|')];
  for (const t of lst.lines) {
    const r: Reply = await s.request('RDT', [t]);
    const nums = r.lines.map((l) => Number(/^([0-9]+) /.exec(l)?.[1] ?? 0)).filter((x) => x > 0);
    if (nums.some((x, i) => x !== i + 1)) console.log(`  thread ${JSON.stringify(t).slice(0, 40)}: numbers not 1..n: ${nums.slice(0, 10).join(',')}`);
    parts.push(r.lines.join('\n'));
  }
  return parts.join('\n--\n');
};
const live = sessions.find((s) => !closed.has(s)) ?? (await session(port, 'fz0', abort.signal, '127.0.4.99'));
const before = await snapshot(live);
abort.abort();
server.child.kill('SIGTERM');
await server.exited;
server = await startServer(dir, port, port + 1, extra);
const abort2 = new AbortController();
const again = await session(port, 'fz0', abort2.signal, '127.0.4.98');
const after = await snapshot(again);
const files = await readdir(dir);
console.log(`threads ${before.split('\n--\n')[0]?.split('|').length}; after a restart the same LST and RDTs: ${before === after}; dot files: ${files.filter((f) => f.startsWith('.')).join(', ')}`);
console.log(`restart log: ${server.out.split('\n').filter((l) => /undid|kept|warning|cannot/i.test(l)).slice(0, 5).join(' / ') || 'nothing recovered'}`);
abort2.abort();
server.child.kill('SIGTERM');
await server.exited;
await rm(dir, { recursive: true, force: true });
