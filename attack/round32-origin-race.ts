/**
 * Attack round 32, item 1: the origin bound (`--origin-shares`, store/origin-shares.ts) of the built server's data
 * directory, raced by the accounts of one origin. Eight accounts made from 127.0.0.9 (one origin) hold together at
 * most `--origin-shares 2` accounts' shares; each command below is sent by all eight at once, pipelined:
 *
 *   npx tsx attack/round32-origin-race.ts [cycles=4]
 *
 *   crt      3 CRTs each (24 at once) against the origin's 2 × 3 threads;
 *   msg      40 MSGs of 900 characters each (320 at once) against its 2 × 20,000 bytes of lines;
 *   edt      after DLT of every message, 20 short MSGs each, then all 160 EDTed at once to 900 characters;
 *   upd      3 uploads of 40,000 bytes each (24 at once) against its 2 × 100,000 bytes of uploads;
 *   churn    `cycles` times: DLT of half the messages, RMV of every thread (their uploads go), CRT again, and the
 *            MSGs, EDTs and uploads above raced again, so that every give-back (DLT, RMV, a shrinking EDT, a
 *            refused upload's reservation) runs under load;
 *   restart  the server stopped and started on the same directory (its counts read again), then the same fill.
 *
 * After each phase: what the origin holds by the threads' own account (RDT of every thread: each line by one of the
 * eight counted as its share counts it, numbered 1; uploads by the size DWN gives), against the bound, and what it
 * could still add (a fill of 1,000-byte uploads, then short MSGs (`z<i>.<k> `, 12 bytes a line), then CRTs, until refused). A count that
 * gave back more than it took shows as a holding past the bound; one that leaked, as refusals below it. Loopback
 * only; stops by itself.
 */
import { setMaxListeners } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { download, session, startServer, upload, type Server, type Session } from './forum-raw.js';

const cycles = Number(process.argv[2] ?? 4);
const SHARES = 2;
const USER_LINE_BYTES = 20_000;
const USER_UPLOAD_BYTES = 100_000;
const USER_THREADS = 3;
const ACCOUNTS = 8;
const hardStop = setTimeout(() => process.exit(2), 280_000);

const dir = await mkdtemp(join(tmpdir(), 'a32-origin-'));
const port = 40_000 + Math.floor(Math.random() * 20_000);
const flags = [
  '--min-free-bytes', '0',
  '--origin-shares', String(SHARES),
  '--max-thread-bytes-per-user', String(USER_LINE_BYTES),
  '--max-data-bytes-per-user', String(USER_UPLOAD_BYTES),
  '--max-threads-per-user', String(USER_THREADS),
];
let server: Server = await startServer(dir, port, port + 1, flags);
let abort = new AbortController();
setMaxListeners(0, abort.signal);
const names = Array.from({ length: ACCOUNTS }, (_, i) => `o${i}`);
let sessions: Session[] = [];
const login = async (): Promise<void> => {
  sessions = [];
  for (const n of names) sessions.push(await session(port, n, abort.signal, '127.0.0.9'));
};
await login();
let watcher = await session(port, 'watcher', abort.signal, '127.0.0.4');

const text = (n: number, tag: string): string => `${tag}${'m'.repeat(Math.max(0, n - tag.length))}`;
const threadsOf = new Map<string, string[]>(); // account -> its threads

/** What the origin holds, counted from the threads as its shares count them. */
const holding = async (): Promise<{ lines: number; lineBytes: number; uploads: number; threads: number }> => {
  const lst = await watcher.request('LST', []);
  let lines = 0;
  let lineBytes = 0;
  let uploads = 0;
  let threads = 0;
  for (const title of lst.lines) {
    if (/^t\d+-\d+/.test(title)) threads++;
    const rdt = await watcher.request('RDT', [title]);
    for (const l of rdt.lines) {
      const msg = /^\d+ (o\d+): (.*)$/.exec(l);
      if (msg !== null) {
        lines++;
        lineBytes += Buffer.byteLength(`1 ${msg[1]}: ${msg[2]}`) + 1;
        continue;
      }
      const up = /^(o\d+) uploaded (.+)$/.exec(l);
      if (up !== null) {
        lines++;
        lineBytes += Buffer.byteLength(l) + 1;
        const got = await download(watcher, await watcher.request('DWN', [title, up[2] as string]), abort.signal);
        if (typeof got !== 'string') uploads += got.length;
      }
    }
  }
  return { lines, lineBytes, uploads, threads };
};

const bounds = { lineBytes: SHARES * USER_LINE_BYTES, uploads: SHARES * USER_UPLOAD_BYTES, threads: SHARES * USER_THREADS };
const report = async (phase: string): Promise<void> => {
  const h = await holding();
  const over = h.lineBytes > bounds.lineBytes || h.uploads > bounds.uploads || h.threads > bounds.threads;
  console.log(`[${phase}] origin holds ${h.lineBytes}/${bounds.lineBytes} B of lines (${h.lines} lines), ${h.uploads}/${bounds.uploads} B of uploads, ${h.threads}/${bounds.threads} threads${over ? '  ** PAST THE BOUND **' : ''}`);
};

let threadSeq = 0;
const crtAll = async (each: number): Promise<number> => {
  const results = await Promise.all(
    sessions.flatMap((s, i) =>
      Array.from({ length: each }, async () => {
        const title = `t${i}-${threadSeq++}`;
        const r = await s.request('CRT', [title]);
        if (/^Thread .* created$/.test(r.lines[0] ?? '')) threadsOf.set(names[i] as string, [...(threadsOf.get(names[i] as string) ?? []), title]);
        return /^Thread .* created$/.test(r.lines[0] ?? '');
      }),
    ),
  );
  return results.filter(Boolean).length;
};
/** Each account posts `count` messages of `size` characters to its first thread (or a watcher's thread). */
const msgAll = async (count: number, size: number, tag: string): Promise<number> => {
  let taken = 0;
  // 8 in flight per account (64 at once in all): a session with many more waiting is closed by the server.
  for (let from = 0; from < count; from += 8) {
    const results = await Promise.all(
      sessions.flatMap((s, i) =>
        Array.from({ length: Math.min(8, count - from) }, async (_, k) => {
          const r = await s.request('MSG', ['shared', text(size, `${tag}${i}.${from + k} `)]);
          return /posted/i.test(r.lines[0] ?? '');
        }),
      ),
    );
    taken += results.filter(Boolean).length;
  }
  return taken;
};
let fileSeq = 0;
const updAll = async (each: number, size: number): Promise<{ ok: number; refused: Set<string> }> => {
  const refused = new Set<string>();
  const results = await Promise.all(
    sessions.flatMap((s) =>
      Array.from({ length: each }, async () => {
        const g = await s.request('UPD', ['shared', `f${fileSeq++}.bin`]);
        if (g.data.kind !== 'transfer') {
          refused.add((g.lines[0] ?? '').slice(0, 90));
          return false;
        }
        return upload(s, g, Buffer.alloc(size, 7), abort.signal, '127.0.0.9');
      }),
    ),
  );
  return { ok: results.filter(Boolean).length, refused };
};
/** Every message of the origin's accounts in `shared`, as (number, author, text), newest last. */
const ownMessages = async (): Promise<{ n: number; author: string }[]> => {
  const rdt = await watcher.request('RDT', ['shared']);
  return rdt.lines.flatMap((l) => {
    const m = /^(\d+) (o\d+): /.exec(l);
    return m === null ? [] : [{ n: Number(m[1]), author: m[2] as string }];
  });
};
/** DLT of a share of the origin's messages in `shared`, each by its author, all at once, highest numbers first. */
const dltShare = async (share: number): Promise<number> => {
  const own = await ownMessages();
  const chosen = own.filter((_, i) => i % Math.round(1 / share) === 0).sort((a, b) => b.n - a.n);
  // Sent at once: a DLT renumbers the later messages, so highest first keeps each number valid when they run in order.
  const r = await Promise.all(chosen.map((m) => (sessions[names.indexOf(m.author)] as Session).request('DLT', ['shared', String(m.n)])));
  return r.filter((x) => /deleted/i.test(x.lines[0] ?? '')).length;
};

/** Adds 1,000-byte uploads, then 1-character MSGs, then CRTs until refused: what is left of each bound. */
const fill = async (phase: string): Promise<void> => {
  let ups = 0;
  for (let round = 0; round < 60; round++) {
    const { ok } = await updAll(1, 1000);
    ups += ok;
    if (ok === 0) break;
  }
  let msgs = 0;
  for (let round = 0; round < 400; round++) {
    const ok = await msgAll(1, 1, 'z');
    msgs += ok;
    if (ok === 0) break;
  }
  const crts = await crtAll(USER_THREADS);
  console.log(`[${phase}] then took ${ups} uploads of 1,000 B, ${msgs} one-character MSGs, ${crts} CRTs before every one was refused`);
  await report(`${phase}, filled`);
};

const failed = (e: unknown): void => {
  console.log(`failed: ${e instanceof Error ? e.message : String(e)}; the server's last lines:\n${server.out.split('\n').slice(-8).join('\n')}`);
  server.child.kill('SIGKILL');
  process.exit(1);
};
process.on('unhandledRejection', failed).on('uncaughtException', failed);
const t0 = performance.now();
await watcher.request('CRT', ['shared']);
console.log(`crt: ${await crtAll(USER_THREADS)} of ${ACCOUNTS * USER_THREADS} CRTs at once taken (the origin's bound ${bounds.threads})`);
{
  const { ok, refused } = await updAll(3, 40_000);
  console.log(`upd: ${ok} of ${ACCOUNTS * 3} uploads of 40,000 B stored; refused at UPD: ${[...refused].join(' | ') || 'none'}`);
}
await report('upd');
console.log(`msg: ${await msgAll(40, 900, 'a')} of ${ACCOUNTS * 40} MSGs of 900 characters taken`);
await report('msg');
console.log(`dlt: ${await dltShare(1)} deleted`);
console.log(`edt: ${await msgAll(20, 10, 'e')} short MSGs taken`);
{
  const own = await ownMessages();
  const edits = await Promise.all(
    own.map((m) => {
      const s = sessions[names.indexOf(m.author)] as Session;
      return s.request('EDT', ['shared', String(m.n), text(900, `E${m.n} `)]).then((r) => /edited/i.test(r.lines[0] ?? ''));
    }),
  );
  console.log(`edt: ${edits.filter(Boolean).length} of ${edits.length} EDTs to 900 characters taken`);
}
await report('edt');

for (let c = 0; c < cycles; c++) {
  // DLT of half the messages at once with new MSGs of the same accounts: gives back racing takes.
  const [dlt, racing] = await Promise.all([dltShare(0.5), msgAll(8, 900, `r${c}`)]);
  console.log(`churn ${c}: DLT ${dlt} with ${racing} MSGs racing them`);
  await report(`churn ${c}, DLT`);
  // RMV of every thread the eight made (no uploads there: they went to `shared`), and of `shared` itself by the watcher.
  for (const [account, titles] of threadsOf) {
    const s = sessions[names.indexOf(account)] as Session;
    await Promise.all(titles.map((t) => s.request('RMV', [t])));
    threadsOf.set(account, []);
  }
  await watcher.request('RMV', ['shared']);
  await watcher.request('CRT', ['shared']);
  const [crt, msg, upd] = await Promise.all([crtAll(USER_THREADS), msgAll(30, 900, `c${c}`), updAll(2, 40_000)]);
  const own = await ownMessages();
  const shrink = await Promise.all(
    own.filter((_, i) => i % 3 === 0).map((m) => (sessions[names.indexOf(m.author)] as Session).request('EDT', ['shared', String(m.n), 'short'])),
  );
  const grow = await Promise.all(
    own.filter((_, i) => i % 3 === 1).map((m) => (sessions[names.indexOf(m.author)] as Session).request('EDT', ['shared', String(m.n), text(1800, `G${m.n} `)])),
  );
  console.log(`churn ${c}: CRT ${crt}, MSG ${msg}, uploads ${upd.ok}, EDT shorter ${shrink.length}, EDT longer ${grow.filter((r) => /edited/i.test(r.lines[0] ?? '')).length} of ${grow.length} taken`);
  await report(`churn ${c}`);
}
await fill('after churn');

abort.abort();
server.child.kill('SIGTERM');
await server.exited;
server = await startServer(dir, port, port + 1, flags);
abort = new AbortController();
setMaxListeners(0, abort.signal);
await login();
watcher = await session(port, 'watcher', abort.signal, '127.0.0.4');
const warned = server.out.split('\n').filter((l) => /--origin-shares/.test(l));
console.log(`restart: ${warned.length} lines of the start about origins${warned.length > 0 ? `: ${warned.join(' / ').slice(0, 300)}` : ''}`);
await report('restart');
console.log(`restart: DLT ${await dltShare(0.5)}`);
await report('restart, half deleted');
await fill('restart');
console.log(`in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
abort.abort();
server.child.kill('SIGTERM');
await server.exited;
await rm(dir, { recursive: true, force: true });
clearTimeout(hardStop);
