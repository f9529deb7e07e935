import { flushStandardStreams } from 'forum-protocol';

/**
 * How long a stopping server waits for the reader of its log to take the last lines. A supervisor
 * that sent SIGTERM expects the process to end, so a reader that never reads cannot hold it longer.
 */
export const LOG_FLUSH_LIMIT_MS = 5_000;

/**
 * Exits with `code` once stdout and stderr have taken what was written, or after `limitMs`.
 * `process.exit` drops what a full pipe has not taken yet: a server logging into a pipe that was
 * behind (a busy `tee`, a log shipper) lost its `Server shutting down` line and every line queued
 * before it (e2e-exit-logs.test.ts).
 */
export const exitAfterLogs = (code: number, limitMs: number = LOG_FLUSH_LIMIT_MS): void => {
  const timer = setTimeout(() => process.exit(code), limitMs);
  void flushStandardStreams().then(() => {
    clearTimeout(timer);
    process.exit(code);
  });
};
