/**
 * Reading the terminal only while the server is its foreground job. `forum-server 4000 &` in an interactive
 * shell keeps the terminal as standard input, and a background job that reads its terminal is stopped by
 * SIGTTIN: the next command typed in that shell (the client, say) stopped the server, and every client was
 * then told `Unable to reach the server`. So does Ctrl-Z then `bg`.
 */
import { fstatSync, readFileSync } from 'node:fs';

/**
 * Whether `/proc/PID/stat`'s text says its process is in its terminal's foreground process group (its
 * `pgrp` is the terminal's `tpgid`); `undefined` for text that is not such a line, a process without a
 * controlling terminal, or input from a terminal that is not the controlling one (`inputDevice`, its
 * `st_rdev`, is not the line's `tty_nr`).
 */
export const foregroundOfStat = (stat: string, inputDevice?: number): boolean | undefined => {
  // The command name (field 2) is in parentheses and may hold spaces and parentheses itself: the fields after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const pgrp = Number(fields[2]);
  const ttyNr = Number(fields[4]);
  const tpgid = Number(fields[5]);
  if (stat.lastIndexOf(')') < 0 || !Number.isInteger(pgrp) || !Number.isInteger(ttyNr) || !Number.isInteger(tpgid) || fields.length < 6) return undefined;
  // -1: no controlling terminal (`setsid`): no job control to meet.
  if (tpgid < 0) return undefined;
  // Input from another terminal than the controlling one (`forum-server 4000 < /dev/pts/3 &`): job control stops
  // only readers of their controlling terminal, so it is read. Judged by the controlling terminal's foreground
  // group, it was not read while the server was a background job of its own shell: Ctrl-D there did nothing.
  if (inputDevice !== undefined && inputDevice !== ttyNr) return undefined;
  return pgrp === tpgid;
};

/**
 * Whether this process is the foreground job of the terminal it reads at `fd`; `undefined` where `/proc` cannot
 * say (not Linux) or `fd` is not its controlling terminal.
 */
export const inForeground = (fd = 0): boolean | undefined => {
  try {
    return foregroundOfStat(readFileSync('/proc/self/stat', 'latin1'), fstatSync(fd).rdev);
  } catch {
    return undefined;
  }
};

/**
 * Reads `input` (the terminal, for its Ctrl-D) while this process is the foreground job, and not while it is
 * a background one. Looked at now, at each SIGCONT (`bg` after Ctrl-Z sends it) and, while in the background,
 * every `everyMs`: `fg` of a job that runs sends no signal. Where it cannot be told, the terminal is read, as
 * before.
 */
export const readTerminalInForeground = (input: NodeJS.ReadStream, foreground: () => boolean | undefined = inForeground, everyMs = 500): void => {
  let watch: NodeJS.Timeout | undefined;
  const follow = (): void => {
    if (foreground() === false) {
      input.pause();
      // Unref'd: the server's sockets are what keep it running.
      watch ??= setInterval(follow, everyMs).unref();
      return;
    }
    clearInterval(watch);
    watch = undefined;
    input.resume();
  };
  follow();
  process.on('SIGCONT', follow);
};
