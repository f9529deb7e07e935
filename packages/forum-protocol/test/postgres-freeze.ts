import { readdirSync, readFileSync } from 'node:fs';

/** `/proc/<pid>/<file>`, or '' when the process is gone or unreadable. */
const procFile = (pid: string, file: string): string => {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'latin1');
  } catch {
    return '';
  }
};

/** The postmaster listening on `port` (its command line has `-p <port>`) and every process it started (backends, workers). */
const postgresProcesses = (port: number): readonly number[] => {
  const pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  const postmaster = pids.find((p) => procFile(p, 'cmdline').includes(`\0-p\0${port}\0`));
  if (postmaster === undefined) throw new Error(`no PostgreSQL listening on port ${port}`);
  // The parent's pid is the field after the command's name, which is in parentheses and may hold spaces.
  const children = pids.filter((p) => (procFile(p, 'stat').split(') ')[1] ?? '').split(' ')[1] === postmaster);
  return [postmaster, ...children].map(Number);
};

/**
 * Stops (`SIGSTOP`) or continues (`SIGCONT`) the PostgreSQL of `url` and every process of it: a database
 * that hangs (a stalled disk, a machine paused) with its connections open, its kernel still taking bytes
 * and answering TCP, nothing answered meanwhile. Linux only (reads /proc).
 */
export const freezePostgres = (url: string, on: boolean): void => {
  for (const pid of postgresProcesses(Number(new URL(url).port))) {
    try {
      process.kill(pid, on ? 'SIGSTOP' : 'SIGCONT');
    } catch {
      // Exited meanwhile (a backend whose client left).
    }
  }
};
