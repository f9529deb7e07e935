import type { Notice } from 'forum-protocol';
import type { ClientArgs } from './args.js';
import { ClientState } from './client-state.js';
import { closeGraceMs } from './close-grace.js';
import { err, out } from './client-output.js';
import { runCommandLoop } from './command-loop.js';
import { connectionGone } from './connection-gone.js';
import { EXIT } from './exit-status.js';
import { OVERLONG_TEXT } from './line-bound.js';
import { LineInput } from './line-input.js';
import { inputReadableAhead, inputWasEmpty, NO_INPUT_TEXT } from './no-input.js';
import { openServerConnection } from './server-connection.js';
import { ServerLink } from './server-link.js';
import { SessionExit } from './session-exit.js';
import { hangUpHandler, interruptHandler, terminateHandler } from './signal-handling.js';
import { timingsFor } from './timings.js';
import { sweepStaleDownloads } from './transfer.js';

export { timingsFor, type Timings } from './timings.js';

const exitFor = (notice: Notice): number => (notice.kind === 'shutdown' ? EXIT.serverShutdown : EXIT.idleTimeout);

/**
 * Runs one interactive session against the server at `args.host:args.port`
 * and resolves with the process exit code.
 */
export const runClient = async (args: ClientArgs): Promise<number> => {
  const terminal = process.stdin.isTTY === true && process.stdout.isTTY === true;
  const timings = timingsFor(args.timeoutSeconds);
  // The input reports Ctrl-C at a terminal (readline takes it there); its handler needs the state that holds the input.
  const input = new LineInput(terminal, () => interrupt());
  const state = new ClientState(process.stdin.isTTY !== true, input);
  // 1 s but in tests (close-grace.ts).
  const end = new SessionExit(state, closeGraceMs(process.env));
  const interrupt = interruptHandler(state, end);
  if (!terminal) process.on('SIGINT', interrupt);
  process.on('SIGHUP', hangUpHandler(state, end));
  process.on('SIGTERM', terminateHandler(state, end));

  // Downloads of an earlier client here that was killed mid-transfer.
  await sweepStaleDownloads(process.cwd());

  if (state.scripted) {
    // A file or device is read to its first line first: empty, nothing is sent to the server at all.
    if (inputReadableAhead() && !(await input.firstLine) && (inputWasEmpty(state) || input.overlong)) {
      err(input.overlong ? `${OVERLONG_TEXT}; not logged in` : NO_INPUT_TEXT);
      input.close();
      // No input is an end of input, which the spec has end cleanly; a line over 1 MiB is a bad one.
      return input.overlong ? EXIT.usage : EXIT.ok;
    }
    // A pipe that ends empty while the handshake is under way gives it up (after it, the username prompt says so).
    void input.firstLine.then((hadLine) => {
      if (hadLine || state.link !== undefined || !inputWasEmpty(state)) return;
      state.noInput = true;
      state.connecting.abort();
    });
  }
  const conn = await openServerConnection(args, timings, state);
  if (typeof conn === 'number') return conn;
  const link = new ServerLink(conn, timings.requestTimeoutMs, {
    notice: (n) => end.fatal(exitFor(n), () => out(n.text)),
    lost: (reason) => connectionGone(state, end, reason, true),
  });
  state.link = link;
  return runCommandLoop({ args, conn, link, state, end });
};
