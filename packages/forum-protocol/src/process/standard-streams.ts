import { closeSync } from 'node:fs';
import { isatty } from 'node:tty';

/** Errors of a standard stream whose reader is gone: a terminal that hung up (EIO), a pipe closed (EPIPE). */
const GONE = new Set(['EIO', 'EPIPE']);

/**
 * Keeps a binary running, and lets it exit cleanly, when its standard
 * streams go away under it: the terminal hangs up (the ssh session it ran in
 * dropped, the window closed) or the program reading its output ends
 * (`forum-client … | head -1`). Call it once, at start.
 *
 * - A write to stdout or stderr that fails so is dropped, as the output has
 *   nowhere to go: before, Node threw it as an unhandled 'error' event and
 *   the process died with a stack trace mid-command.
 * - As it exits, Node restores the settings of every standard stream that
 *   was a terminal when it started, and aborts (SIGABRT, a core dump,
 *   "Assertion failed" in `ResetStdio`) when that fails, as it does on a
 *   hung-up terminal: forum-server stopped cleanly on SIGHUP and then died
 *   of SIGABRT. Node skips a closed descriptor, so on exit each one that was
 *   a terminal and no longer answers as one is closed first.
 */
export function guardStandardStreams(): void {
  for (const name of ['stdout', 'stderr'] as const) {
    let stream: NodeJS.WriteStream;
    try {
      stream = process[name];
    } catch {
      // A terminal that hung up before the stream was made: Node throws making it (uv_tty_init: EINVAL).
      continue;
    }
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (!GONE.has(e.code ?? '')) throw e;
    });
  }
  const terminals = [0, 1, 2].filter((fd) => isatty(fd));
  if (terminals.length === 0) return;
  process.once('exit', () => {
    for (const fd of terminals) {
      if (isatty(fd)) continue;
      try {
        closeSync(fd);
      } catch {
        // Already closed: nothing for Node to restore either.
      }
    }
  });
}

/** Resolves once `stream` has handed everything written to it so far to the system, or failed. */
const flushed = (stream: NodeJS.WriteStream): Promise<void> =>
  new Promise((resolve) => {
    if (stream.destroyed || stream.writableEnded) return resolve();
    // Writes complete in order: an empty one's callback runs once every earlier one has been written (or has failed).
    stream.write('', () => resolve());
  });

/**
 * Waits until what was written to stdout and stderr has left the process,
 * for a binary about to call `process.exit`. Writes to a pipe are
 * asynchronous in Node on Linux, and `process.exit` drops what is still
 * queued: forum-client piped into another program printed 4,412 of an RDT
 * answer's 200,000 lines and no `Goodbye` (attack round 11,
 * `attack/hostile-transfers.ts big-output`). A reader that does not read
 * holds the exit back, as it holds any program writing to it.
 */
export const flushStandardStreams = async (): Promise<void> => {
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
};
