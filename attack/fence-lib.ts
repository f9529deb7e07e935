/** Helpers of the round-9 attack scripts: a forum-server started in its own pid namespace or not, its node pid, thread files read and checked. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SERVER_BIN, session, type Session } from './forum-raw.js';

export interface Proc {
  readonly child: ChildProcess;
  /** The node process's pid as seen from here (the unshare'd child when started in a pid namespace of its own). */
  readonly pid: number;
  readonly exited: Promise<number | null>;
  readonly out: () => string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
export { sleep };

/** The one child of `pid` (unshare --fork's), once it exists. */
const childOf = async (pid: number): Promise<number> => {
  for (let i = 0; i < 200; i++) {
    const kids = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '')).trim();
    if (kids !== '') return Number(kids.split(' ')[0]);
    await sleep(10);
  }
  throw new Error(`no child of ${pid}`);
};

/**
 * Starts forum-server on `dir` (UDP `port`, TCP `port + 1`), in a pid namespace of its own when `ownPidns`
 * (as a container would run it), and waits up to `waitMs` for it to say it is serving.
 */
export const startServer = async (dir: string, port: number, opts: { readonly ownPidns?: boolean; readonly waitMs?: number; readonly extra?: readonly string[] } = {}): Promise<Proc> => {
  const args = [SERVER_BIN, String(port), '--data-dir', dir, '--transfer-port', String(port + 1), ...(opts.extra ?? [])];
  const child = opts.ownPidns === true ? spawn('unshare', ['--pid', '--fork', process.execPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  // 'close', not 'exit': callers read `out` once it ended, and 'exit' may come before the last of its pipes is read.
  const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  const pid = opts.ownPidns === true ? await childOf(child.pid ?? 0) : (child.pid ?? 0);
  const deadline = Date.now() + (opts.waitMs ?? 10_000);
  let code: number | null | 'running' = 'running';
  void exited.then((c) => (code = c));
  while (!out.includes('Waiting for clients') && Date.now() < deadline && code === 'running') await sleep(20);
  if (!out.includes('Waiting for clients')) {
    child.kill('SIGKILL');
    throw new Error(`server did not start (${String(code)}): ${out}`);
  }
  return { child, pid, exited, out: () => out };
};

/** The thread files of `dir` (names given), as text; missing ones absent. */
export const snapshot = async (dir: string, threads: readonly string[]): Promise<Map<string, string>> => {
  const m = new Map<string, string>();
  for (const t of threads) {
    const text = await readFile(join(dir, t), 'utf8').catch(() => undefined);
    if (text !== undefined) m.set(t, text);
  }
  return m;
};

/** The store's own files left in `dir` besides the lock and identity (journal, intents, temporaries). */
export const leftovers = async (dir: string): Promise<string[]> =>
  (await readdir(dir)).filter((n) => n.startsWith('.forum-') && n !== '.forum-server-identity' && n !== '.forum-server.lock');

/** Problems of one thread file's text: lines that are neither a message numbered in order nor an upload line. */
export const threadProblems = (name: string, text: string): string[] => {
  const out: string[] = [];
  if (!text.endsWith('\n')) out.push(`${name}: no final newline`);
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  let n = 0;
  for (const l of lines.slice(1)) {
    const m = /^([0-9]+) (\S+): (.*)$/.exec(l);
    if (m !== null) {
      if (Number(m[1]) !== ++n) out.push(`${name}: message numbered ${m[1]}, expected ${n}`);
    } else if (!/^\S+ uploaded \S+$/.test(l)) out.push(`${name}: bad line ${JSON.stringify(l.slice(0, 80))}`);
  }
  return out;
};

/** How often each message text occurs in the thread file's text. */
export const messageCounts = (text: string): Map<string, number> => {
  const counts = new Map<string, number>();
  for (const l of text.split('\n')) {
    const m = /^[0-9]+ \S+: (.*)$/.exec(l);
    if (m !== null) counts.set(m[1] as string, (counts.get(m[1] as string) ?? 0) + 1);
  }
  return counts;
};


/** A pipelined raw session (forum-raw's) whose transport waits `idleMs` for a silent (frozen) server. */
export const longSession = (port: number, user: string, signal: AbortSignal, idleMs = 120_000): Promise<Session> => session(port, user, signal, undefined, idleMs);
export type LongSession = Session;
