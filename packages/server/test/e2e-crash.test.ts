/**
 * Crash consistency (issue 7): the real server is killed (SIGKILL) at a seeded
 * moment while several users have writes in flight. After a restart on the
 * same data directory every file must parse, and each user's files must be
 * exactly what their acknowledged commands made, plus possibly some of the
 * commands that were sent but not yet acknowledged (never a part of one).
 */
import { decodeServerMessage, deriveTransferKeys, encodeRequest, SecureTransferChannel, sessionExporter, type Reply, type RequestCommand } from 'forum-protocol';
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { connect, type RudpConnection } from 'rudpx';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, isServerOwnFile, seededBytes, snapshotDir as snapshot, startServer, tempDir, type ServerProc } from './forum-processes.js';
import { rawClient, rawLogin } from './raw-client.js';
import { prng } from '../../forum-protocol/test/seeded-random.js';

type Entry =
  | { readonly kind: 'message'; readonly author: string; readonly text: string }
  | { readonly kind: 'upload'; readonly uploader: string; readonly filename: string };
interface ThreadModel {
  readonly creator: string;
  readonly entries: readonly Entry[];
}
/** One user's part of the data directory. */
interface UserState {
  readonly threads: ReadonlyMap<string, ThreadModel>;
  /** Stored upload name (`TITLE-FILENAME`) → bytes. */
  readonly uploads: ReadonlyMap<string, Buffer>;
}
const EMPTY: UserState = { threads: new Map(), uploads: new Map() };

const threadLines = (t: ThreadModel): string[] => {
  let n = 0;
  return t.entries.map((e) => (e.kind === 'message' ? `${++n} ${e.author}: ${e.text}` : `${e.uploader} uploaded ${e.filename}`));
};

/** The files `state` must be on disk as (forum-spec.md formats). */
const filesOf = (state: UserState): Map<string, Buffer> => {
  const out = new Map<string, Buffer>();
  for (const [title, t] of state.threads) out.set(title, Buffer.from([t.creator, ...threadLines(t)].map((l) => `${l}\n`).join('')));
  for (const [name, bytes] of state.uploads) out.set(name, bytes);
  return out;
};

/** One request of a scripted session, with the lines its reply must carry and, for UPD, the bytes to send. */
interface Step {
  readonly cmd: RequestCommand;
  readonly args: readonly string[];
  readonly lines: readonly string[];
  readonly upload?: Buffer;
}

/** A user's whole session: `states[k]` is what the data directory holds of theirs after `steps[0..k)`. */
interface Script {
  readonly user: string;
  readonly password: string;
  readonly steps: readonly Step[];
  readonly states: readonly UserState[];
}

const WORDS = ['alpha', 'beta', 'gamma', 'x: y', 'uploaded', '1', 'a  b', 'héllo', 'end'];

/** A seeded session for `user` on threads of their own (so each user's commands are totally ordered). */
const makeScript = (user: string, rand: () => number, length: number): Script => {
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const text = (): string => Array.from({ length: 1 + Math.floor(rand() * 5) }, () => pick(WORDS)).join(' ');
  const steps: Step[] = [];
  const states: UserState[] = [EMPTY];
  let state = EMPTY;
  let threadNo = 0;
  let fileNo = 0;
  const push = (step: Step, next: UserState): void => {
    steps.push(step);
    state = next;
    states.push(next);
  };
  const withThread = (title: string, t: ThreadModel, uploads = state.uploads): UserState => ({ threads: new Map(state.threads).set(title, t), uploads });
  while (steps.length < length) {
    const titles = [...state.threads.keys()];
    if (titles.length === 0 || rand() < 0.12) {
      const title = `${user}-t${++threadNo}`;
      push({ cmd: 'CRT', args: [title], lines: [`Thread ${title} created`] }, withThread(title, { creator: user, entries: [] }));
      continue;
    }
    const title = pick(titles);
    const t = state.threads.get(title) as ThreadModel;
    const messages = t.entries.flatMap((e, i) => (e.kind === 'message' ? [i] : []));
    const r = rand();
    if (r < 0.35 || (messages.length === 0 && r < 0.6)) {
      const m = text();
      push({ cmd: 'MSG', args: [title, m], lines: [`Message posted to ${title} thread`] }, withThread(title, { ...t, entries: [...t.entries, { kind: 'message', author: user, text: m }] }));
    } else if (r < 0.48 && messages.length > 0) {
      const n = 1 + Math.floor(rand() * messages.length);
      const at = messages[n - 1] as number;
      const m = text();
      const entries = t.entries.map((e, i) => (i === at ? { kind: 'message' as const, author: user, text: m } : e));
      push({ cmd: 'EDT', args: [title, String(n), m], lines: ['The message has been edited'] }, withThread(title, { ...t, entries }));
    } else if (r < 0.6 && messages.length > 0) {
      const n = 1 + Math.floor(rand() * messages.length);
      const at = messages[n - 1] as number;
      push({ cmd: 'DLT', args: [title, String(n)], lines: ['The message has been deleted'] }, withThread(title, { ...t, entries: t.entries.filter((_, i) => i !== at) }));
    } else if (r < 0.78) {
      // Some uploads are text that reads like a thread file: an orphan of one would show up as a thread.
      const looksLikeThread = rand() < 0.3;
      const filename = `f${++fileNo}.${looksLikeThread ? 'txt' : 'bin'}`;
      const bytes = looksLikeThread ? Buffer.from(`${user}\n1 ${user}: not a thread\n`) : seededBytes(1 + Math.floor(rand() * 400_000), Math.floor(rand() * 2 ** 31));
      const uploads = new Map(state.uploads).set(`${title}-${filename}`, bytes);
      push({ cmd: 'UPD', args: [title, filename], lines: [], upload: bytes }, withThread(title, { ...t, entries: [...t.entries, { kind: 'upload', uploader: user, filename }] }, uploads));
    } else if (r < 0.88) {
      const threads = new Map(state.threads);
      threads.delete(title);
      const uploads = new Map([...state.uploads].filter(([name]) => !t.entries.some((e) => e.kind === 'upload' && name === `${title}-${e.filename}`)));
      push({ cmd: 'RMV', args: [title], lines: [`Thread ${title} removed`] }, { threads, uploads });
    } else {
      const lines = threadLines(t);
      push({ cmd: 'RDT', args: [title], lines: lines.length === 0 ? [`Thread ${title} is empty`] : lines }, state);
    }
  }
  return { user, password: `pw-${user}`, steps, states };
};

/** How far a user's session got: steps sent and steps acknowledged (for UPD: the TCP `OK`). */
interface Progress {
  loginSent: boolean;
  loginAcked: boolean;
  sent: number;
  acked: number;
  /** A reply that contradicts the script: a server bug or a test bug, never a crash effect. */
  mismatch: string | undefined;
}

/** A rudp connection with any number of requests in flight, matched by id. */
const pipelinedLink = (conn: RudpConnection, signal: AbortSignal) => {
  const waiting = new Map<string, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  const failAll = (why: string): void => {
    for (const w of waiting.values()) w.reject(new Error(why));
    waiting.clear();
  };
  conn.on('message', (bytes) => {
    const m = decodeServerMessage(bytes);
    if (m._tag === 'Left' || m.right.type !== 'reply') return;
    const w = waiting.get(m.right.id);
    waiting.delete(m.right.id);
    w?.resolve(m.right);
  });
  conn.on('close', () => failAll('connection closed'));
  signal.addEventListener('abort', () => failAll('aborted'));
  return (cmd: RequestCommand, args: readonly string[]): Promise<Reply> => {
    if (signal.aborted) return Promise.reject(new Error('aborted'));
    const id = String(++nextId);
    const reply = new Promise<Reply>((resolve, reject) => waiting.set(id, { resolve, reject }));
    conn.send(encodeRequest({ id, username: '', cmd, args })).catch(() => undefined);
    return reply;
  };
};

/** The TCP half of UPD: token, then sealed size and bytes; resolves true when the server answered `OK`. */
const tcpUpload = (conn: RudpConnection, port: number, token: string, bytes: Buffer, signal: AbortSignal): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let answer = '';
    const stop = (): void => void socket.destroy();
    signal.addEventListener('abort', stop);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      signal.removeEventListener('abort', stop);
      resolve(answer === 'OK\n');
    });
    socket.write(`${token}\n`);
    const channel = new SecureTransferChannel(socket, deriveTransferKeys(sessionExporter(conn), token), 'client');
    channel.on('error', () => undefined);
    channel.on('data', (b: Buffer) => (answer += b.toString('utf8')));
    channel.write(`${bytes.length}\n`);
    channel.end(bytes);
  });

const same = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** What the drivers share with the code that kills the server. */
interface RunControl {
  /** Aborted once the server is dead: every pending request fails at once. */
  readonly signal: AbortSignal;
  /** True from the moment the server is sent SIGKILL. */
  readonly killed: () => boolean;
  /** Called on every acknowledgement (login or step). */
  readonly onAck: () => void;
}

/** Runs `script` against the server until it ends or the run is aborted; `progress` is updated as replies come. */
const drive = async (port: number, script: Script, rand: () => number, progress: Progress, control: RunControl): Promise<void> => {
  const { signal } = control;
  const conn = await connect({ port, idleTimeoutMs: 60_000 });
  const stop = (): void => conn.destroy();
  signal.addEventListener('abort', stop);
  try {
    const request = pipelinedLink(conn, signal);
    const first = await request('username', [script.user]);
    if (first.data.kind !== 'auth' || first.data.next !== 'newPassword') return void (progress.mismatch = `login: ${JSON.stringify(first)}`);
    progress.loginSent = true;
    const welcome = await request('newPassword', [script.password]);
    if (!same(welcome.lines, ['Welcome to the forum'])) return void (progress.mismatch = `login: ${JSON.stringify(welcome)}`);
    progress.loginAcked = true;
    control.onAck();
    let i = 0;
    while (i < script.steps.length) {
      const step = script.steps[i] as Step;
      if (step.upload !== undefined) {
        const reply = await request(step.cmd, step.args);
        if (reply.data.kind !== 'transfer') return void (progress.mismatch = `step ${i}: ${JSON.stringify(reply)}`);
        progress.sent = i + 1;
        if (!(await tcpUpload(conn, reply.data.port, reply.data.token, step.upload, signal))) {
          if (!control.killed()) progress.mismatch = `step ${i}: upload refused`;
          return;
        }
        progress.acked = i + 1;
        control.onAck();
        i++;
        continue;
      }
      // Up to four requests in flight at once: the server queues them and runs them in order.
      const batch: number[] = [];
      for (let j = i; j < script.steps.length && batch.length < 1 + Math.floor(rand() * 4) && script.steps[j]?.upload === undefined; j++) batch.push(j);
      const replies = batch.map((j) => request(script.steps[j]?.cmd ?? 'LST', script.steps[j]?.args ?? []));
      // Replies left unawaited when the session is cut off must not surface as unhandled rejections.
      replies.forEach((r) => r.catch(() => undefined));
      progress.sent = i + batch.length;
      for (const [n, j] of batch.entries()) {
        const reply = await (replies[n] as Promise<Reply>);
        const want = script.steps[j] as Step;
        if (!same(reply.lines, want.lines)) return void (progress.mismatch = `step ${j} ${want.cmd} ${want.args.join(' ')}: got ${JSON.stringify(reply.lines)}, want ${JSON.stringify(want.lines)}`);
        progress.acked = j + 1;
        control.onAck();
      }
      i += batch.length;
    }
    await request('XIT', []);
  } finally {
    signal.removeEventListener('abort', stop);
    conn.destroy();
  }
};

const CREDENTIAL_LINE = /^\S+ \S+$/;

/** A thread file in the forum-spec format: creator line, then `N user: text` (N = 1, 2, …) or `user uploaded file`. Undefined if fine. */
const threadFormatError = (text: string): string | undefined => {
  if (!text.endsWith('\n')) return 'no final newline';
  const lines = text.slice(0, -1).split('\n');
  if (!/^\S+$/.test(lines[0] ?? '')) return `bad creator line ${JSON.stringify(lines[0])}`;
  let n = 0;
  for (const line of lines.slice(1)) {
    const m = /^([0-9]+) \S+: /.exec(line);
    if (m !== null) {
      if (Number(m[1]) !== ++n) return `message numbered ${m[1]}, expected ${n}`;
    } else if (!/^\S+ uploaded \S+$/.test(line)) return `bad line ${JSON.stringify(line)}`;
  }
  return undefined;
};

/** The users of one seed's run: fresh names per seed (`a7`, `b7`, `c7`), as the data directory is shared. */
const usersOf = (seed: number): string[] => ['a', 'b', 'c'].map((l) => `${l}${seed}`);
const STEPS_PER_USER = 30;

interface CrashRun {
  readonly scripts: readonly Script[];
  readonly progress: readonly Progress[];
  /** The session had ended by itself before the kill. */
  readonly completed: boolean;
}

/**
 * Runs the users' sessions and kills the server at a seeded moment: right after
 * a seeded number of acknowledgements plus a seeded 0–9 ms, so that under any
 * machine load the kill lands inside the session (about one seed in ten lets it
 * finish first). Returns once every driver has stopped.
 */
const crashSession = async (server: ServerProc, seed: number): Promise<CrashRun> => {
  const scripts = usersOf(seed).map((u, i) => makeScript(u, prng(seed * 31 + i), STEPS_PER_USER));
  const progress = scripts.map((): Progress => ({ loginSent: false, loginAcked: false, sent: 0, acked: 0, mismatch: undefined }));
  const rand = prng(seed * 7919);
  const possibleAcks = scripts.reduce((n, sc) => n + sc.steps.length + 1, 0);
  const killAfterAcks = Math.floor(rand() * possibleAcks * 1.1);
  const extraDelayMs = Math.floor(rand() * 10);
  let acks = 0;
  let killed = false;
  let reached: () => void = () => undefined;
  const target = new Promise<void>((resolve) => (reached = resolve));
  const abort = new AbortController();
  const control: RunControl = {
    signal: abort.signal,
    killed: () => killed,
    onAck: () => {
      if (++acks >= killAfterAcks) reached();
    },
  };
  if (killAfterAcks === 0) reached();
  let ended = false;
  const allDone = Promise.all(scripts.map((sc, i) => drive(server.port, sc, prng(seed * 97 + i), progress[i] as Progress, control).catch(() => undefined))).then(() => {
    ended = true;
  });
  await Promise.race([allDone, target]);
  if (extraDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, extraDelayMs));
  const completed = ended;
  killed = true;
  server.child.kill('SIGKILL');
  await server.exited;
  // Replies already on their way still count; then every pending request is failed at once.
  abort.abort();
  await allDone;
  return { scripts, progress, completed };
};

/** Files and accounts of earlier seeds, as checked: later runs must leave them exactly so. */
interface Settled {
  readonly files: Map<string, Buffer>;
  readonly accounts: Map<string, string>;
}

/** One begin record of the data directory's undo journal (forum-protocol's undo-journal.ts frame: length, CRC-32, header length, JSON header), with no old bytes. */
const journalBegin = (header: object): Buffer => {
  const json = Buffer.from(JSON.stringify(header));
  const payload = Buffer.alloc(4 + json.length);
  payload.writeUInt32BE(json.length, 0);
  json.copy(payload, 4);
  const frame = Buffer.alloc(8);
  frame.writeUInt32BE(payload.length, 0);
  frame.writeUInt32BE(crc32(payload), 4);
  return Buffer.concat([frame, payload]);
};

/** `m` for `toEqual`: small files as text, larger ones by length and SHA-256 (every byte checked; the length alone before). */
const summary = (m: ReadonlyMap<string, Buffer>): Record<string, string> =>
  Object.fromEntries([...m].map(([n, b]) => [n, b.length < 300 ? b.toString('utf8') : `${b.length} bytes, SHA-256 ${createHash('sha256').update(b).digest('hex')}`]));

/** Checks the data directory after a restart against what the clients saw, then adds this run to `settled`. */
const checkDataDir = async (dir: string, run: CrashRun, settled: Settled): Promise<void> => {
  // The identity key and the lock are the server's own, not forum data (e2e-identity and e2e-data-dir-lock cover them).
  const names = (await readdir(dir)).filter((n) => !isServerOwnFile(n)).sort();
  expect(names.filter((n) => n.startsWith('.')), 'temporary files left after restart').toEqual([]);

  const credentials = await readFile(join(dir, 'credentials.txt'), 'utf8').catch(() => '');
  expect(credentials === '' || credentials.endsWith('\n'), 'credentials.txt ends with a newline').toBe(true);
  const accountLines = credentials.split('\n').slice(0, -1);
  for (const line of accountLines) expect(line, 'credentials.txt line').toMatch(CREDENTIAL_LINE);
  const accounts = new Map(accountLines.map((l) => l.split(' ') as [string, string]));
  expect(accounts.size, 'no repeated account').toBe(accountLines.length);
  for (const [user, password] of settled.accounts) expect(accounts.get(user), `earlier account ${user}`).toBe(password);

  const mineOf = (user: string): string[] => names.filter((n) => n.startsWith(`${user}-`));
  const earlier = new Map<string, Buffer>();
  for (const n of names) if (n !== 'credentials.txt' && !isServerOwnFile(n) && !run.scripts.some((sc) => n.startsWith(`${sc.user}-`))) earlier.set(n, await readFile(join(dir, n)));
  expect(summary(earlier), 'files of earlier runs, unchanged').toEqual(summary(settled.files));

  const disk = new Map<string, Map<string, Buffer>>();
  for (const script of run.scripts) {
    const onDisk = new Map<string, Buffer>();
    for (const n of mineOf(script.user)) onDisk.set(n, await readFile(join(dir, n)));
    disk.set(script.user, onDisk);
    // Later seeds compare against what is there, so one failure is reported once.
    for (const [n, b] of onDisk) settled.files.set(n, b);
    if (accounts.has(script.user)) settled.accounts.set(script.user, script.password);
  }
  for (const [i, script] of run.scripts.entries()) {
    const p = run.progress[i] as Progress;
    expect(p.mismatch, `${script.user}: reply contradicts the script`).toBeUndefined();
    if (p.loginAcked) expect(accounts.get(script.user), `${script.user}'s acknowledged account`).toBe(script.password);
    if (!p.loginSent) expect(accounts.has(script.user), `${script.user} never sent a password`).toBe(false);

    const onDisk = disk.get(script.user) ?? new Map<string, Buffer>();
    // Acknowledged steps are all there; of those sent after them, a prefix may be too; nothing in part.
    const match = script.states.slice(p.acked, p.sent + 1).find((st) => {
      const want = filesOf(st);
      return want.size === onDisk.size && [...want].every(([n, b]) => onDisk.get(n)?.equals(b) === true);
    });
    if (match === undefined) {
      expect(summary(onDisk), `${script.user}: files after steps ${p.acked}..${p.sent} (acked..sent)`).toEqual(summary(filesOf(script.states[p.acked] ?? EMPTY)));
    }
    for (const title of match?.threads.keys() ?? []) expect(threadFormatError((onDisk.get(title) as Buffer).toString('utf8')), `thread file ${title}`).toBeUndefined();
  }
};

const SEEDS = Array.from({ length: 20 }, (_, i) => i + 1);
/**
 * The seeds in two chains, run side by side (most of a seed is waiting: replies, the kill, the restart), each on a
 * data directory of its own: seed n's restart serves seed n + 2, and checks that the files of every earlier seed of its
 * chain survived it (9 at most, where one chain of 20 checked up to 19).
 */
const CHAINS = [SEEDS.filter((s) => s % 2 === 1), SEEDS.filter((s) => s % 2 === 0)];

// TCP on any free port, not the UDP port's number: a client TCP socket of an
// earlier run in TIME_WAIT on that number would make the listen fail (EADDRINUSE).
const SERVER_ARGS = ['--transfer-port', '0'];

// One data directory a chain, as a crash-looping server would have: each
// seed's restart serves the next seed, and earlier seeds' files must survive.
describe('server killed (SIGKILL) with writes in flight, then restarted on the same data directory', () => {
  for (const [c, seeds] of CHAINS.entries()) {
    // Concurrent: this chain beside the other; its seeds one after another (it.sequential), each on the last one's server.
    describe.concurrent(`chain ${c + 1} of ${CHAINS.length} (seeds ${seeds.join(', ')})`, () => {
      let dir = '';
      let server: ServerProc | undefined;
      const settled: Settled = { files: new Map(), accounts: new Map() };
      const tally = { seeds: 0, midSession: 0, acked: 0, inFlight: 0 };
      beforeAll(async () => {
        dir = await tempDir('crash');
        server = await startServer(dir, SERVER_ARGS);
      });
      afterAll(async () => {
        await server?.stop();
        await cleanup(dir);
        console.log(`crash runs, chain ${c + 1}: ${tally.seeds} seeds, ${tally.midSession} killed mid-session, ${tally.acked} acknowledged commands checked, ${tally.inFlight} in flight at the kill`);
      });

      it.sequential.each(seeds)('seed %i: every file parses and every acknowledged command is on disk', async (seed) => {
        expect(server, 'a server from the previous run').toBeDefined();
        const run = await crashSession(server as ServerProc, seed);
        tally.seeds++;
        if (!run.completed) tally.midSession++;
        for (const p of run.progress) {
          tally.acked += p.acked + (p.loginAcked ? 1 : 0);
          tally.inFlight += p.sent - p.acked + (p.loginSent && !p.loginAcked ? 1 : 0);
        }
        server = undefined;
        const again = await startServer(dir, SERVER_ARGS);
        server = again;
        expect(again.stderr.text, 'warnings when reopening the data directory').not.toMatch(/Warning/);
        await checkDataDir(dir, run, settled);

        // The restarted server reads what it left: an acknowledged user logs in and sees every thread on disk.
        const index = run.progress.findIndex((p) => p.loginAcked);
        const script = run.scripts[index];
        if (script === undefined) return;
        const client = await rawClient(again.port);
        try {
          expect((await rawLogin(client, script.user, script.password)).lines).toEqual(['Welcome to the forum']);
          const threads = (await readdir(dir)).filter((n) => /^[a-z][0-9]+-t[0-9]+$/.test(n)).sort();
          const listed = await client.request('lst', 'LST', []);
          expect(listed.lines).toEqual(threads.length === 0 ? ['No threads to list'] : ['The list of active threads:', ...threads]);
          await client.request('xit', 'XIT', []);
        } finally {
          await client.close();
        }
      });
    });
  }
});

// Regression cases for what the seeds above found in the store (an UPD commit
// killed between placing the bytes and writing the thread line left an upload
// file with no thread line, read back as a thread when its text looked like
// one; an RMV killed part way left a thread listing uploads already deleted).
// Each directory below is what a kill at one such instant leaves now, intent
// record included; a restart must finish or undo every one of them.
describe('a restart finishes or undoes an UPD commit or RMV cut short', () => {
  let dir = '';
  let server: ServerProc | undefined;
  afterAll(async () => {
    await server?.stop();
    await cleanup(dir);
  });

  it('undoes an upload without its thread line, keeps one with it, finishes a removal; nothing else changes', async () => {
    dir = await tempDir('crash-intents');
    const intent = (name: string, record: object): Promise<void> => writeFile(join(dir, `.forum-intent-${name}`), JSON.stringify(record));
    const lookalike = 'ana\n1 ana: not a thread\n';
    const kept = seededBytes(5000, 3);
    await writeFile(join(dir, 'credentials.txt'), 'ana pw\n');
    // UPD killed after the bytes were renamed into place, before the thread line.
    await writeFile(join(dir, 'up'), 'ana\n');
    await writeFile(join(dir, 'up-f.txt'), lookalike);
    await intent('01', { op: 'upload', thread: 'up', filename: 'f.txt', temp: '.forum-tmp-01' });
    // UPD killed after the thread line, before the intent record was deleted.
    await writeFile(join(dir, 'done'), 'ana\nana uploaded g.bin\n');
    await writeFile(join(dir, 'done-g.bin'), kept);
    await intent('02', { op: 'upload', thread: 'done', filename: 'g.bin', temp: '.forum-tmp-02' });
    // UPD killed before the rename: the bytes are still in the temporary file, and an unrelated file has the name.
    await writeFile(join(dir, 'early'), 'ana\n');
    await writeFile(join(dir, '.forum-tmp-03'), 'partial');
    await writeFile(join(dir, 'early-h.bin'), 'not ours');
    await intent('03', { op: 'upload', thread: 'early', filename: 'h.bin', temp: '.forum-tmp-03' });
    // RMV killed after the thread file went, one of its two uploads still there.
    await writeFile(join(dir, 'gone-a.txt'), lookalike);
    await intent('04', { op: 'remove', thread: 'gone', filenames: ['a.txt', 'b.bin'] });
    // RMV killed right after writing its intent record.
    await writeFile(join(dir, 'rm'), 'ana\nana uploaded c.bin\n');
    await writeFile(join(dir, 'rm-c.bin'), kept);
    await intent('05', { op: 'remove', thread: 'rm', filenames: ['c.bin'] });
    // Not a record this server wrote: deleted, with a warning, and nothing acted on.
    await writeFile(join(dir, '.forum-intent-06'), JSON.stringify({ op: 'remove', thread: '../escape', filenames: [] }));

    // A change cut short in credentials.txt: the journal holds its old tail (from offset 7), the file a torn append.
    await writeFile(join(dir, 'credentials.txt'), 'ana pw\nbo');
    await writeFile(join(dir, '.forum-journal'), journalBegin({ t: 'begin', id: 1, file: 'credentials.txt', offset: 7 }));

    server = await startServer(dir, SERVER_ARGS);
    expect(server.stderr.text).toContain('Warning: .forum-intent-06 is not a valid intent record and was deleted\n');
    // early-h.bin is someone else's file with an upload's name: kept, and said.
    expect(server.stderr.text).toContain('Warning: early-h.bin is neither a thread file (not in the thread format) nor an upload of one: not served, left as it is, its name taken\n');
    // The start says what it put right (it said nothing).
    expect(server.lines().filter((l) => l.startsWith('Recovery: ')).sort()).toEqual([
      'Recovery: deleted .forum-tmp-03, the temporary file of a write cut short by a crash',
      'Recovery: finished the removal of thread gone, cut short by a crash',
      'Recovery: finished the removal of thread rm, cut short by a crash',
      'Recovery: kept the upload of g.bin to done: it was whole when a crash came',
      'Recovery: undid a change to credentials.txt cut short by a crash',
      'Recovery: undid the upload of f.txt to up, cut short by a crash before its thread line',
      'Recovery: undid the upload of h.bin to early, cut short by a crash before its file was in place',
    ]);
    expect(summary(await snapshot(dir))).toEqual(
      summary(
        new Map([
          ['credentials.txt', Buffer.from('ana pw\n')],
          ['done', Buffer.from('ana\nana uploaded g.bin\n')],
          ['done-g.bin', kept],
          ['early', Buffer.from('ana\n')],
          ['early-h.bin', Buffer.from('not ours')],
          ['up', Buffer.from('ana\n')],
        ]),
      ),
    );
    const client = await rawClient(server.port);
    try {
      expect((await rawLogin(client, 'ana', 'pw')).lines).toEqual(['Welcome to the forum']);
      expect((await client.request('1', 'LST', [])).lines).toEqual(['The list of active threads:', 'done', 'early', 'up']);
      expect((await client.request('2', 'RDT', ['done'])).lines).toEqual(['ana uploaded g.bin']);
    } finally {
      await client.close();
    }
  });
});
