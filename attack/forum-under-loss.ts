/**
 * Round 23: the forum's large replies through lib-path.ts's impairing relay, beside the bare transport.
 * The built forum-server and forum-client (each a process of its own); the client logs in through the
 * relay on a clean path, then the loss is set and it reads a 3.9 MiB thread (RDT) and downloads a file
 * (DWN: the request and its grant over the relay, the bytes over TCP, which the relay does not carry).
 *
 *   npx tsx attack/forum-under-loss.ts <case[,case…]> [rounds=3] [what=rdt,dwn,bare]   # also `msg`: 20 MSGs of 4 KB
 *
 * Cases: `clean`, `data30`, `data50` (that share of server → client datagrams lost), `ack50` (client →
 * server), `both30`. Each round runs every case once, in order (rounds interleave the cases), and each
 * case's `what` in order: `rdt` and `dwn` on one fresh server and client, `bare` one plain rudpx
 * transfer of the RDT reply's bytes through the same relay (`sim-vs-real.ts real`, a process of its own).
 * Prints each figure as it comes, then per case the runs, the median and the load average.
 * `$FILE_MIB` sets the downloaded file's size (default 4). `$FORUM_PRELOAD=attack/forum-trace.mjs` (a path
 * from a build's root) is passed as `--import` to both forum processes: each RDT then also prints where its
 * time went. `$FORUM_BUILDS=new=/this/tree,old=/an/older/built/tree` compares builds, case by case in turn.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { largeThreadFile } from '../packages/server/test/large-thread.js';
import { startPathRelay, waitFor, type PathRelay, LOSS_CASES } from './lib-path.js';

const ROOT = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
/**
 * `$FORUM_BUILDS=name=/a/worktree,name2=/another`: built trees to compare, each case of each round run on
 * each in turn (their `attack/sim-vs-real.ts` for `bare`, their `attack/forum-trace.mjs` for the preload);
 * default this one.
 */
const BUILDS: readonly { readonly name: string; readonly root: string }[] = (process.env.FORUM_BUILDS ?? `this=${ROOT}`).split(',').map((b) => {
  const [name = '', root = ''] = b.split('=');
  return { name, root };
});
const serverBin = (root: string): string => join(root, 'packages/server/bin/forum-server.js');
const clientBin = (root: string): string => join(root, 'packages/client/bin/forum-client.js');
const BIG_MESSAGES = Math.floor((3.9 * 1024 * 1024) / 4012);
const FILE_BYTES = Number(process.env.FILE_MIB ?? 4) * 2 ** 20;
/** `$FORUM_PRELOAD`: a preload's path relative to a build's root (each build loads its own copy, bound to its rudpx). */
const PRELOAD = process.env.FORUM_PRELOAD;

const CASES = LOSS_CASES;

/** The RDT reply's JSON bytes, about: each line, its quotes and comma (the reply's head is some tens of bytes). */
const RDT_REPLY_BYTES = largeThreadFile('bob', BIG_MESSAGES)
  .split('\n')
  .slice(1, -1)
  .reduce((n, l) => n + Buffer.byteLength(l) + 3, 0);

interface Proc {
  readonly child: ChildProcess;
  text(): string;
  write(s: string): void;
  readonly exited: Promise<number | null>;
}

const proc = (args: readonly string[], cwd?: string, env?: NodeJS.ProcessEnv, root?: string): Proc => {
  const pre = PRELOAD === undefined || root === undefined ? [] : ['--import', join(root, PRELOAD)];
  const child = spawn(process.execPath, [...pre, ...args], { stdio: ['pipe', 'pipe', 'pipe'], cwd, env: { ...process.env, ...env } });
  // Kept as chunks: 4 MB of RDT output appended to one string is quadratic.
  const chunks: string[] = [];
  let joined = '';
  let dirty = false;
  const take = (d: Buffer): void => {
    chunks.push(d.toString());
    dirty = true;
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  child.stdin?.on('error', () => undefined);
  return {
    child,
    text: () => {
      if (dirty) {
        joined = chunks.join('');
        chunks.length = 0;
        chunks.push(joined);
        dirty = false;
      }
      return joined;
    },
    write: (s) => void child.stdin?.write(s),
    // 'exit', not 'close': `bare` runs sim-vs-real.ts, whose fork()ed children inherit these pipes, and one left
    // running by a failed run would hold them open for ever (its result line is the parent's own, written before it ends).
    exited: new Promise((r) => child.once('exit', (c) => r(c))),
  };
};

/** The text written since offset `from` (a mark taken before a command). */
const since = (p: Proc, from: number): string => p.text().slice(from);

interface World {
  readonly dir: string;
  readonly cwd: string;
  readonly server: Proc;
  readonly relay: PathRelay;
  readonly client: Proc;
}

const startWorld = async (label: string, root: string): Promise<World> => {
  const dir = await mkdtemp(join(tmpdir(), 'a23-'));
  await writeFile(join(dir, 'credentials.txt'), 'alice pw\nbob pw\n');
  await writeFile(join(dir, 'big'), largeThreadFile('bob', BIG_MESSAGES));
  // A thread with one upload line and its file, as an UPD leaves them.
  await writeFile(join(dir, 'files'), 'bob\nbob uploaded f.bin\n');
  await writeFile(join(dir, 'files-f.bin'), Buffer.alloc(FILE_BYTES, 7));
  const server = proc([serverBin(root), '0', '--data-dir', dir, '--transfer-port', '0'], undefined, { FORUM_TRACE_LABEL: `${label}.server` }, root);
  if (!(await waitFor(() => /UDP [^ ]+:([0-9]+)/.test(server.text()), 30_000))) throw new Error(`no server: ${server.text()}`);
  const port = Number(/UDP [^ ]+:([0-9]+)/.exec(server.text())?.[1]);
  const relay = await startPathRelay(port);
  const cwd = join(dir, 'client');
  await mkdir(cwd);
  const client = proc([clientBin(root), String(relay.port), '--known-hosts', join(dir, 'kh')], cwd, { FORUM_TRACE_LABEL: `${label}.client` }, root);
  client.write('alice\npw\n');
  if (!(await waitFor(() => client.text().includes('Welcome') || client.child.exitCode !== null, 20_000)) || !client.text().includes('Welcome')) {
    throw new Error(`no login: ${client.text().slice(-500)}`);
  }
  return { dir, cwd, server, relay, client };
};

const stopWorld = async (w: World): Promise<void> => {
  if (w.client.child.exitCode === null) w.client.write('XIT\n');
  await Promise.race([w.client.exited, new Promise((r) => setTimeout(r, 5_000))]);
  w.client.child.kill('SIGKILL');
  w.relay.close();
  w.server.child.kill('SIGTERM');
  await Promise.race([w.server.exited, new Promise((r) => setTimeout(r, 5_000))]);
  w.server.child.kill('SIGKILL');
  await rm(w.dir, { recursive: true, force: true });
};

const LAST_LINE = `${BIG_MESSAGES} bob: lorem`;
const TIMEOUT_MS = 180_000;

const wall = (): number => performance.timeOrigin + performance.now();
/** This process's main thread: CPU time and run-queue wait so far, ms (the relay runs here). */
const relaySchedNow = (): readonly number[] => readFileSync('/proc/self/schedstat', 'utf8').split(' ').slice(0, 2).map((n) => Number(n) / 1e6);
const relaySched = (a: readonly number[], b: readonly number[]): string =>
  `cpu ${((b[0] ?? 0) - (a[0] ?? 0)).toFixed(0)} ms, waited for a core ${((b[1] ?? 0) - (a[1] ?? 0)).toFixed(0)} ms`;
const traceLines = (text: string): string[] => text.split('\n').filter((l) => l.startsWith('TRACE '));
const traceAt = (l: string | undefined): number => Number(/ at ([0-9.]+)/.exec(l ?? '')?.[1] ?? Number.NaN);

/**
 * With forum-trace.mjs preloaded: where the RDT's time went, from the parent's write to the client's
 * request, to the server's reply handed to rudpx, to the reply whole at the client, to the last line.
 */
const breakdown = async (w: World, serverMark: number, clientMark: number, tWrite: number, tDone: number, relayAtWrite: readonly number[]): Promise<string | undefined> => {
  if (PRELOAD === undefined) return undefined;
  const big = (l: string): boolean => Number(/ (send|whole) ([0-9]+) B/.exec(l)?.[2] ?? 0) >= 2 ** 20;
  await waitFor(() => traceLines(since(w.server, serverMark)).some((l) => l.includes(' acked after ')), 5_000);
  const sl = traceLines(since(w.server, serverMark));
  const cl = traceLines(since(w.client, clientMark));
  const request = cl.find((l) => l.includes(' send ') && !big(l));
  const handed = sl.find((l) => l.includes(' send ') && big(l));
  const whole = cl.find((l) => l.includes(' whole '));
  const acked = sl.find((l) => l.includes(' acked after '));
  const ms = (a: number, b: number): string => (b - a).toFixed(0);
  // CPU and run-queue wait of a process's main thread between two of its trace lines (forum-trace.mjs).
  const sch = (l: string | undefined): readonly number[] => (/cpu ([0-9.]+) runq ([0-9.]+)/.exec(l ?? '')?.slice(1) ?? []).map(Number);
  const spent = (a: string | undefined, b: string | undefined): string => {
    const [ca = Number.NaN, wa = Number.NaN] = sch(a);
    const [cb = Number.NaN, wb = Number.NaN] = sch(b);
    return `cpu ${(cb - ca).toFixed(0)} ms, waited for a core ${(wb - wa).toFixed(0)} ms`;
  };
  return (
    `    server from reply handed to acked: ${spent(handed, acked)}; client from request to whole: ${spent(request, whole)}; relay (this process) over the RDT: ${relaySched(relayAtWrite, relaySchedNow())}\n` +
    `    write→request ${ms(tWrite, traceAt(request))} ms, request→reply handed ${ms(traceAt(request), traceAt(handed))} ms, ` +
    `handed→whole at client ${ms(traceAt(handed), traceAt(whole))} ms, whole→last line ${ms(traceAt(whole), tDone)} ms\n` +
    `    server: ${acked?.replace(/^TRACE \S+ /, '') ?? '(no ack line)'}\n    client: ${whole?.replace(/^TRACE \S+ /, '') ?? '(no whole line)'}`
  );
};

/** One RDT of `big`: seconds from the command to its last line, or a string saying how it failed. */
const rdt = async (w: World): Promise<number | string> => {
  const mark = w.client.text().length;
  const serverMark = w.server.text().length;
  const tWrite = wall();
  const relayAtWrite = relaySchedNow();
  const t0 = performance.now();
  w.client.write('RDT big\n');
  const done = (): boolean => since(w.client, mark).includes(LAST_LINE);
  const failed = (): boolean => w.client.child.exitCode !== null || /unreachable|Server busy|error/i.test(since(w.client, mark).slice(0, 2000));
  await waitFor(() => done() || failed(), TIMEOUT_MS);
  if (!done()) return `failed: ${JSON.stringify(since(w.client, mark).slice(0, 300))}`;
  const took = (performance.now() - t0) / 1000;
  const b = await breakdown(w, serverMark, mark, tWrite, wall(), relayAtWrite);
  if (b !== undefined) console.log(b);
  return took;
};

/** One DWN of `f.bin`: seconds from the command to `f.bin successfully downloaded`, or how it failed. */
const dwn = async (w: World): Promise<number | string> => {
  await rm(join(w.cwd, 'f.bin'), { force: true });
  const mark = w.client.text().length;
  const t0 = performance.now();
  w.client.write('DWN files f.bin\n');
  const done = (): boolean => since(w.client, mark).includes('f.bin successfully downloaded');
  const failed = (): boolean => w.client.child.exitCode !== null || /unreachable|failed|busy|does not exist/i.test(since(w.client, mark));
  await waitFor(() => done() || failed(), TIMEOUT_MS);
  if (done()) return (performance.now() - t0) / 1000;
  return `failed: ${JSON.stringify(since(w.client, mark).slice(0, 300))}`;
};

/** 20 MSGs of 4 KB, written at once (the client sends them one at a time): seconds until the 20th is acknowledged. */
const msgs = async (w: World): Promise<number | string> => {
  const mark = w.client.text().length;
  const t0 = performance.now();
  const text = 'x'.repeat(4000);
  w.client.write(Array.from({ length: 20 }, (_, i) => `MSG files m${i} ${text}\n`).join(''));
  const posted = (): number => (since(w.client, mark).match(/Message posted to files thread/g) ?? []).length;
  const failed = (): boolean => w.client.child.exitCode !== null || /unreachable|busy|may or may not/i.test(since(w.client, mark));
  await waitFor(() => posted() >= 20 || failed(), TIMEOUT_MS);
  return posted() >= 20 ? (performance.now() - t0) / 1000 : `failed after ${posted()}: ${JSON.stringify(since(w.client, mark).slice(-300))}`;
};

/** The bare transport: one message of the RDT reply's bytes through the same relay, in `sim-vs-real.ts real`. */
const bare = async (kase: string, root: string): Promise<number | string> => {
  const p = proc([...process.execArgv, join(root, 'attack/sim-vs-real.ts'), 'real', kase, '1'], undefined, { SIZE: String(RDT_REPLY_BYTES) });
  await p.exited;
  const m = new RegExp(`real ${kase}: ([0-9.]+) s`).exec(p.text());
  return m === null ? `failed: ${JSON.stringify(p.text().slice(-300))}` : Number(m[1]);
};

const [casesArg = 'data50', roundsArg = '3', whatArg = 'rdt,dwn,bare'] = process.argv.slice(2);
const cases = casesArg.split(',');
for (const c of cases) if (CASES[c] === undefined) throw new Error(`unknown case ${c}; one of ${Object.keys(CASES).join(', ')}`);
const what = whatArg.split(',');
const results = new Map<string, (number | string)[]>();
const add = (key: string, v: number | string): void => void results.set(key, [...(results.get(key) ?? []), v]);
const loads: number[] = [];
const show = (v: number | string): string => (typeof v === 'number' ? v.toFixed(2) : v);

console.log(`RDT reply about ${RDT_REPLY_BYTES} B (${BIG_MESSAGES} lines); file ${FILE_BYTES} B; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
for (let round = 1; round <= Number(roundsArg); round++) {
  for (const kase of cases) {
    // Builds in turn, and in the other order every other round: neither always runs first after a case change.
    for (const { name, root } of round % 2 === 1 ? BUILDS : [...BUILDS].reverse()) {
      const loss = CASES[kase] as { readonly down: number; readonly up: number };
      const tag = BUILDS.length > 1 ? ` [${name}]` : '';
      if (what.some((x) => x !== 'bare')) {
        const w = await startWorld(`${kase}.${round}.${name}`, root);
        w.relay.down = { loss: loss.down };
        w.relay.up = { loss: loss.up };
        for (const x of what) {
          if (x === 'bare') continue;
          const r = x === 'rdt' ? await rdt(w) : x === 'dwn' ? await dwn(w) : await msgs(w);
          add(`${kase} ${x}${tag}`, r);
          console.log(`round ${round} ${kase} ${x}${tag}: ${show(r)} s; relay down ${w.relay.downCounts.offered}/${w.relay.downCounts.dropped} up ${w.relay.upCounts.offered}/${w.relay.upCounts.dropped} (offered/dropped so far); load ${loadavg()[0]?.toFixed(2)}`);
        }
        await stopWorld(w);
      }
      if (what.includes('bare')) {
        const r = await bare(kase, root);
        add(`${kase} bare${tag}`, r);
        console.log(`round ${round} ${kase} bare${tag}: ${show(r)} s; load ${loadavg()[0]?.toFixed(2)}`);
      }
      loads.push(loadavg()[0] ?? 0);
    }
  }
}
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s.length % 2 === 1 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};
console.log('\nsummary (s):');
for (const [key, vs] of results) {
  const nums = vs.filter((v): v is number => typeof v === 'number');
  console.log(`  ${key}: ${vs.map(show).join(', ')}; median ${median(nums).toFixed(2)}${nums.length < vs.length ? `; ${vs.length - nums.length} failed` : ''}`);
}
console.log(`load average (1 min) while running: ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`);
process.exit(0);
