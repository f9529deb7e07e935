import { flushStandardStreams } from 'forum-protocol';
import { EXIT } from './exit-status.js';

/**
 * Exits with `code` once standard output and error have taken what was written (process.exit drops
 * what a pipe has not taken yet). A reader that reads nothing holds that wait, so a Ctrl-C meanwhile
 * exits at once with {@link EXIT.interrupted}: the client's own SIGINT handler ignores interrupts once
 * it is exiting, and an exit held by such a reader (an answer larger than the pipe, then XIT or the
 * server's shutdown notice) was deaf to every Ctrl-C. A SIGHUP meanwhile exits at once with
 * {@link EXIT.hangUp}: the client's own SIGHUP handler only ends the input, and kept such an exit
 * alive for ever where Node's default action had ended it.
 */
export const exitAfterOutput = (code: number): void => {
  process.on('SIGINT', () => process.exit(EXIT.interrupted));
  // The terminal hung up meanwhile: no one is left to wait for (the client's own handler only ends the input).
  process.on('SIGHUP', () => process.exit(EXIT.hangUp));
  process.on('SIGTERM', () => process.exit(EXIT.terminated));
  void flushStandardStreams().then(() => process.exit(code));
};
