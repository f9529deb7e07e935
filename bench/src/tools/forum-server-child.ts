/**
 * The built forum server (packages/server/bin/forum-server.js) as a child
 * process on a free port with a temporary data directory, for the tools
 * that measure what clients cost it, and the CPU a process used (from
 * /proc: Linux only).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SERVER_BIN = fileURLToPath(new URL('../../../packages/server/bin/forum-server.js', import.meta.url));
/** Clock ticks a second of /proc/PID/stat's times (USER_HZ, 100 on every Linux build in use). */
const TICKS_PER_SECOND = 100;

/** A running forum server. */
export interface ForumServerChild {
  /** Its UDP (rudp) port. */
  readonly port: number;
  readonly pid: number;
  /** Stops it (SIGTERM) and deletes its data directory. */
  stop(): Promise<void>;
}

/** Starts the built server with `flags` and a data directory named after `name`; resolves once it says its UDP port. */
export async function startForumServerChild(name: string, flags: readonly string[]): Promise<ForumServerChild> {
  const dataDir = await mkdtemp(join(tmpdir(), `${name}-`));
  const server = spawn(process.execPath, [SERVER_BIN, '0', '--data-dir', dataDir, ...flags], { stdio: ['pipe', 'ignore', 'pipe'] });
  const port = await new Promise<number>((resolve, reject) => {
    let err = '';
    server.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /UDP [^ ]+:(\d+),/.exec(err);
      if (m) resolve(Number(m[1]));
    });
    server.once('exit', (code) => reject(new Error(`server exited (${code}): ${err}`)));
  });
  return {
    port,
    pid: server.pid as number,
    stop: async () => {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** User + system CPU seconds of process `pid` so far. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}
