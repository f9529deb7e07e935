/**
 * Attack round 28: the data directory's per-account upload share (forum-protocol file-store/upload-shares.ts,
 * `--max-data-bytes-per-user`) under churn: uploads at once to threads of its own and of another user, the
 * sender cut mid-way (its connection reset), a size line and no byte after, the thread removed mid-upload by
 * its creator (either account), and the server killed (SIGKILL) with uploads under way and started again.
 * After each round the share's room as the server tells it (the size line of a file larger than the share is
 * refused saying `F are left to you`) is compared with the share less the bytes of the account's upload files
 * its threads list on disk (once less than 1.5 MiB is left, both accounts remove their threads): more left than that, the share was counted short (the account may pass it); less,
 * some of it is held by nothing (an honest user's share shrinking for good); both asked again 2 s later when
 * they differ (a reset sender's upload is let go once the server reads the reset). The built server, loopback only.
 *
 *   npx tsx attack/upload-share-churn.ts [rounds=12] [shareKiB=4096] [store=dir|pg]
 *
 * With `pg`: an embedded PostgreSQL and two built servers (`lib-pg-cluster.ts`, `--store`); the accounts are
 * logged in on server 0, and every other upload's token is redeemed on server 1's transfer port (a token is
 * good on any server), so that one account's uploads run on both at once; server 1 is the one killed, and a
 * new one started in its place. A killed server's pending uploads count until their lease lapses (15 s), so
 * there the second look comes after 16 s. The listed bytes are the account's committed uploads' sizes.
 */
import { setMaxListeners } from 'node:events';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deriveTransferKeys, SecureTransferChannel, sessionExporter, type Reply } from '../packages/forum-protocol/dist/index.js';
import { session, startServer, type Server, type Session } from './forum-raw.js';
import { openPgCluster, type ClusterServer } from './lib-pg-cluster.js';

const rounds = Number(process.argv[2] ?? 12);
const share = Number(process.argv[3] ?? 4096) * 1024;
const store = process.argv[4] ?? 'dir';
const dir = await mkdtemp(join(tmpdir(), 'a28-ushare-'));
const port = 40_000 + Math.floor(Math.random() * 20_000);
const args = ['--max-data-bytes', String(share * 16), '--max-data-bytes-per-user', String(share), '--min-free-bytes', '0', '--request-rate', '0'];
const abort = new AbortController();
setMaxListeners(0, abort.signal);

/** What happens to one upload (`silent`: its size line, then nothing until the reset). */
type Fate = 'complete' | 'cut' | 'silent' | 'rmv-own' | 'rmv-other';
const FATES: readonly Fate[] = ['complete', 'complete', 'cut', 'silent', 'rmv-own', 'rmv-other'];

/** How one upload is sent: cut (reset) after `cutAt` bytes; `midway` awaited a third of the way in; to transfer port `port`. */
interface Sending {
  readonly cutAt?: number;
  readonly midway?: () => Promise<unknown>;
  readonly port?: number;
}

/** An upload of `size` bytes over a grant, sent as `how` says; the server's answer or why none. */
const put = (s: Session, reply: Reply, size: number, how: Sending, signal: AbortSignal): Promise<string> =>
  new Promise((resolve) => {
    if (reply.data.kind !== 'transfer') return resolve(`UPD: ${reply.lines.join('|')}`);
    const { token } = reply.data;
    const socket = net.connect({ host: '127.0.0.1', port: how.port ?? reply.data.port });
    let answer = '';
    const stop = (): void => void socket.destroy();
    signal.addEventListener('abort', stop, { once: true });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(answer.trim() || '(closed)'));
    socket.write(`${token}\n`);
    const ch = new SecureTransferChannel(socket, deriveTransferKeys(sessionExporter(s.conn), token), 'client');
    ch.on('error', () => undefined);
    ch.on('data', (b: Buffer) => (answer += b.toString()));
    ch.write(`${size}\n`);
    const body = Buffer.alloc(size, 7);
    if (how.cutAt !== undefined) {
      ch.write(body.subarray(0, how.cutAt));
      return void setTimeout(() => socket.resetAndDestroy(), 150);
    }
    if (how.midway === undefined) return void ch.end(body);
    const third = Math.floor(size / 3);
    ch.write(body.subarray(0, third));
    void how.midway().catch(() => undefined).then(() => setTimeout(() => ch.end(body.subarray(third)), 100));
  });

/** The files {@link listedBytes} found last, with their sizes. */
const listedFiles: string[] = [];

/** Bytes of `user`'s upload files listed by the thread files on disk (a thread's line `user uploaded F`, its file `title-F`). */
const listedBytes = async (user: string): Promise<number> => {
  let sum = 0;
  listedFiles.length = 0;
  const names = new Set(await readdir(dir));
  for (const name of names) {
    if (name.startsWith('.') || name.includes('-') || name === 'credentials.txt') continue;
    const text = await readFile(join(dir, name), 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const m = /^(\S+) uploaded (.+)$/.exec(line);
      if (m?.[1] !== user || !names.has(`${name}-${m[2]}`)) continue;
      const bytes = (await stat(join(dir, `${name}-${m[2]}`))).size;
      listedFiles.push(`${name}-${m[2]} ${bytes}`);
      sum += bytes;
    }
  }
  return sum;
};

/** The same on PostgreSQL: `user`'s committed uploads. */
const listedRows = async (sql: Awaited<ReturnType<typeof openPgCluster>>['sql'], user: string): Promise<number> =>
  Number((await sql<{ b: string }[]>`SELECT COALESCE(sum(size), 0) AS b FROM uploads WHERE uploader = ${user} AND committed`)[0]?.b ?? 0);

/** What the server says is left of `s`'s share: a size line past any share is refused naming it. */
const leftOf = async (s: Session, thread: string): Promise<number | string> => {
  const g = await s.request('UPD', [thread, `probe${Date.now()}`]);
  if (g.data.kind !== 'transfer') return `UPD: ${g.lines.join('|')}`;
  const { port: tcp, token } = g.data;
  const answer = await new Promise<string>((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port: tcp });
    let text = '';
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(text));
    socket.write(`${token}\n`);
    const ch = new SecureTransferChannel(socket, deriveTransferKeys(sessionExporter(s.conn), token), 'client');
    ch.on('error', () => undefined);
    ch.on('data', (b: Buffer) => (text += b.toString()));
    ch.write(`${share + 1}\n`);
  });
  const m = /, ([0-9]+) are left to you/.exec(answer);
  return m === null ? answer.trim() : Number(m[1]);
};

/** One upload of round `r` by worker `w`: its fate, its size, the transfer port to send it to; the answer without its figures. */
const job = async (r: number, w: number, fate: Fate, size: number, port: number | undefined, signal: AbortSignal): Promise<string> => {
  // A thread removed mid-upload is the upload's own, made for it: the other uploads of the round go on.
  const thread = fate === 'rmv-own' ? `m${r}w${w}` : fate === 'rmv-other' ? `a${r}w${w}` : w % 2 === 0 ? `a${r}` : 'm';
  const remover = fate === 'rmv-own' ? mallory : alice;
  if (fate === 'rmv-own' || fate === 'rmv-other') await remover.request('CRT', [thread]);
  const g = await mallory.request('UPD', [thread, `f${r}-${w}.bin`]);
  let rmvAnswer = '';
  const how: Sending = {
    ...(fate === 'cut' ? { cutAt: Math.floor(size / 3) } : fate === 'silent' ? { cutAt: 0 } : {}),
    ...(fate === 'rmv-own' || fate === 'rmv-other' ? { midway: async () => (rmvAnswer = (await remover.request('RMV', [thread])).lines.join('|')) } : {}),
    ...(port === undefined ? {} : { port }),
  };
  const answer = await put(mallory, g, size, how, signal);
  // Its figures taken out: which answer, not its numbers.
  const rmv = rmvAnswer === '' ? '' : ` (RMV: ${rmvAnswer.replace(/\d+/g, 'N')})`;
  return `${fate}:${answer.replace(/\d+/g, 'N').slice(0, 60)}${rmv}`;
};

/** The forum under test: where its accounts log in, the second transfer port (PostgreSQL), the listed bytes, the kill and restart. */
interface Forum {
  readonly port: number;
  readonly otherTcp: () => number | undefined;
  readonly listed: (user: string) => Promise<number>;
  /** Kills a server mid-round; `true` if the accounts' sessions went with it. */
  readonly kill: () => Promise<boolean>;
  readonly restart: () => Promise<void>;
  readonly settleMs: number;
  readonly close: () => Promise<void>;
}

const dirForum = async (): Promise<Forum> => {
  let server: Server = await startServer(dir, port, port + 1, args);
  return {
    port,
    otherTcp: () => undefined,
    listed: listedBytes,
    kill: async () => {
      server.child.kill('SIGKILL');
      await server.exited;
      return true;
    },
    restart: async () => {
      server = await startServer(dir, port, port + 1, args);
    },
    settleMs: 2000,
    close: async () => {
      server.child.kill('SIGTERM');
      await server.exited;
    },
  };
};

const pgForum = async (): Promise<Forum> => {
  const cluster = await openPgCluster('a28-ushare-');
  // --min-free-bytes is the data directory's.
  const pgArgs = args.filter((_, i) => i < 4 || i > 5);
  const s0 = await cluster.start(pgArgs);
  let s1: ClusterServer = await cluster.start(pgArgs);
  return {
    port: s0.port,
    otherTcp: () => s1.tcpPort,
    listed: (user) => listedRows(cluster.sql, user),
    kill: async () => {
      s1.child.kill('SIGKILL');
      await s1.exited;
      return false;
    },
    restart: async () => {
      s1 = await cluster.start(pgArgs);
    },
    settleMs: 16_000,
    close: () => cluster.close(),
  };
};

const forum = store === 'pg' ? await pgForum() : await dirForum();
const login = async (): Promise<readonly [Session, Session]> => [await session(forum.port, 'mallory', abort.signal), await session(forum.port, 'alice', abort.signal)];
let [mallory, alice] = await login();
let seed = 28;
const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const mismatches: string[] = [];
try {
  await mallory.request('CRT', ['m']);
  for (let r = 0; r < rounds; r++) {
    const round = new AbortController();
    await alice.request('CRT', [`a${r}`]);
    const kill = r % 4 === 3;
    const jobs = [0, 1, 2, 3].map(async (w) => {
      const fate = FATES[Math.floor(rand() * FATES.length)] ?? 'complete';
      const size = 64 * 1024 + Math.floor(rand() * 700 * 1024);
      // A request the killed server never answered: the upload never began.
      return job(r, w, fate, size, w % 2 === 1 ? forum.otherTcp() : undefined, round.signal).catch(() => `${fate}:(server gone)`);
    });
    let relogin = false;
    if (kill) {
      await new Promise((res) => setTimeout(res, 40 + rand() * 120));
      relogin = await forum.kill();
      if (relogin) round.abort();
    }
    const answers = await Promise.all(jobs);
    if (kill) {
      await forum.restart();
      if (relogin) [mallory, alice] = await login();
    }
    let listed = await forum.listed('mallory');
    let expected = Math.max(0, share - listed);
    let left = await leftOf(mallory, 'm');
    // An upload whose sender reset is let go once the server reads the reset, a killed server's once its lease
    // lapses: asked again after that, a difference that stays is the share's own.
    const first = left;
    if (left !== expected) {
      await new Promise((res) => setTimeout(res, forum.settleMs));
      listed = await forum.listed('mallory');
      expected = Math.max(0, share - listed);
      left = await leftOf(mallory, 'm');
    }
    const ok = left === expected;
    if (!ok) mismatches.push(`round ${r}: left ${String(left)}, share less listed ${expected}; listed: ${listedFiles.join(', ')}`);
    const was = first === left ? '' : ` (${String(first)} at once)`;
    // Room made again once little is left, so that later rounds still upload: both accounts remove their threads.
    if (typeof left === 'number' && left < 1536 * 1024) {
      await mallory.request('RMV', ['m']);
      await mallory.request('CRT', ['m']);
      for (let a = 0; a <= r; a++) await alice.request('RMV', [`a${a}`]);
    }
    console.log(`round ${r}${kill ? ' (server killed, restarted)' : ''}: listed ${listed} B, server says ${String(left)} left${was}, expected ${expected} ${ok ? 'ok' : 'MISMATCH'}; ${answers.join('; ')}`);
  }
  const temps = store === 'pg' ? [] : (await readdir(dir)).filter((n) => n.startsWith('.') && n.includes('tmp'));
  console.log(`${rounds} rounds: ${mismatches.length} mismatches; temporary files left: ${temps.length}`);
  for (const m of mismatches) console.log(`  ${m}`);
} finally {
  abort.abort();
  await forum.close();
  await rm(dir, { recursive: true, force: true });
}
