/**
 * A vitest setup file (vitest.cpu.config.ts) that appends, after each test file run in a fork of its
 * own, the fork's CPU to $CPU_LOG: file, project, pid, then seconds of user, system, reaped children's
 * user and system (the servers, clients, tsc and PostgreSQL it spawned and waited for), and the fork's
 * age. CPU, not wall time: on a shared 2-core machine another job's load stretches wall times but not
 * CPU. Files in the shared threads (isolate: false) are skipped: their process serves many files.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';

/** The fields of /proc/self/stat after the command name, from `state` (field 3) on. */
const statFields = (): string[] => {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
};

let file = '';
let project = '';
beforeAll((suite) => {
  const f = (suite as unknown as { readonly file?: { readonly filepath: string; readonly projectName?: string } }).file;
  file = f?.filepath ?? '';
  project = f?.projectName ?? '';
});
// Registered first, so run last (hooks run as a stack): after the file's own hooks stopped what they started.
afterAll(() => {
  if (process.send === undefined) return;
  // utime, stime, cutime, cstime are fields 14-17, in clock ticks (100 a second on Linux).
  const [u, s, cu, cs] = statFields().slice(11, 15).map((t) => Number(t) / 100);
  appendFileSync(process.env['CPU_LOG'] ?? 'test-cpu.log', `${file}\t${project}\t${process.pid}\t${u}\t${s}\t${cu}\t${cs}\t${process.uptime().toFixed(2)}\n`);
});
