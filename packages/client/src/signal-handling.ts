import type { ClientState } from './client-state.js';
import { err } from './client-output.js';
import { EXIT } from './exit-status.js';
import type { SessionExit } from './session-exit.js';

/**
 * What Ctrl-C does. During a transfer it cancels the transfer (back to the prompt); otherwise it logs out
 * (XIT, `Goodbye`), and a second one while that is under way exits at once. A script's Ctrl-C is the end
 * of the script, as a shell's script ends on it: a transfer under way is cancelled all the same, then the
 * session is logged out, the rest not run, and the exit is 130 (it was 0, and a script cut short read as
 * one that ran to its end; a cancelled transfer went on to the next command).
 */
export const interruptHandler =
  (state: ClientState, end: SessionExit): (() => void) =>
  () => {
    // Still connecting: nothing to log out of, so no reason to wait for the handshake.
    if (state.link === undefined) {
      if (process.stderr.isTTY === true) process.stderr.write('\n');
      end.exit(EXIT.interrupted);
      return;
    }
    if (end.closing) {
      state.interrupts++;
      // The second, as while logging out: at once. A script's first: the close cut short, and 130.
      if (state.interrupts > 1) process.exit(EXIT.interrupted);
      if (state.scripted) err('Interrupted (SIGINT) while closing the connection');
      end.cutClose(state.scripted ? EXIT.interrupted : EXIT.ok);
      return;
    }
    if (state.cancelTransfer !== undefined) {
      state.cancelTransfer.abort();
      if (!state.scripted) return;
    }
    state.interrupts++;
    if (state.interrupts > 1) end.exit(EXIT.interrupted);
    else state.input.end();
  };

/**
 * What SIGTERM does (`kill`, `timeout`, a supervisor or service manager stopping the client): the client is
 * to end soon, typed or scripted alike. A transfer under way is cancelled (nothing kept on either side), any
 * other command gets its answer, then the session is logged out (XIT) so the server frees the account at
 * once, the rest of the input is not read, and the exit is 143. Before, SIGTERM had no handler: the process
 * died on the spot, said nothing, and the server held the account for its 10 s idle time (`alice has already
 * logged in` to the user starting the client again), with a download's temporary file left behind (attack
 * round 19). A second one, or one once the client is past its logout, exits at once.
 */
export const terminateHandler =
  (state: ClientState, end: SessionExit): (() => void) =>
  () => {
    if (state.terminated || (state.exiting && !end.closing)) process.exit(EXIT.terminated);
    state.terminated = true;
    if (state.link === undefined) {
      state.connecting.abort();
      state.input.end();
      return;
    }
    if (end.closing) {
      err('Terminated (SIGTERM) while closing the connection');
      end.cutClose(EXIT.terminated);
      return;
    }
    // A reader that takes nothing would hold the logout back for ever, as for SIGHUP.
    if (state.awaitingOutput && !state.exiting) {
      endHeldByReader(state, end);
      return;
    }
    state.cancelTransfer?.abort();
    state.input.end();
  };

/**
 * What SIGHUP does (an ssh session dropped; its shell sends its jobs SIGHUP): a command under way (a transfer
 * too) finishes, then the session is logged out (XIT) so the server frees it at once. From a terminal no one
 * is left to type: the end of input, exit 0. A script's remaining commands are not run: exit 129, so that a
 * script cut short does not read as one that ran to its end (Node undoes nohup's ignoring of SIGHUP).
 */
export const hangUpHandler =
  (state: ClientState, end: SessionExit): (() => void) =>
  () => {
    // The commands' source decides, not the output's: typed at a terminal whose output is piped (`| tee log`), none was cut short.
    state.hungUp = state.scripted;
    // Still connecting (a handshake waits up to --timeout): given up now, as Ctrl-C gives it up; it was
    // waited for, and only then did the end of input take effect.
    if (state.link === undefined) {
      state.connecting.abort();
      state.input.end();
      return;
    }
    // Closing after the logout or a fatal event: the server has the XIT (or ended the session itself), and
    // only its acknowledgement of the close is awaited: not waited for any longer.
    if (end.closing) {
      if (state.hungUp) err('Hung up (SIGHUP) while closing the connection');
      end.cutClose(state.hungUp ? EXIT.hangUp : EXIT.ok);
      return;
    }
    // A reader that takes nothing would hold the logout back for ever: the connection is closed (the session with
    // it) and the client exits now. Before, SIGHUP was ignored there and the client stayed until SIGTERM or SIGKILL.
    if (state.awaitingOutput && !state.exiting && state.hungUp) {
      endHeldByReader(state, end);
      return;
    }
    state.input.end();
  };

/**
 * A SIGTERM, or a script's SIGHUP, that came while the output was held by a reader that takes nothing: the
 * connection is closed (the session with it) and the client exits now, the rest not run. Called by the
 * handlers, and by the command loop when such a signal came while a command was under way and its answer
 * then filled the pipe: the one signal `timeout` or a service manager sends had only ended the input, and
 * the loop waited for the reader for ever (review of attack round 19).
 */
export const endHeldByReader = (state: ClientState, end: SessionExit): void => {
  const [what, status] = state.terminated ? (['Terminated (SIGTERM)', EXIT.terminated] as const) : (['Hung up (SIGHUP)', EXIT.hangUp] as const);
  err(`${what} while the output was not being read: the commands after this point were not run`);
  end.exit(status);
};
