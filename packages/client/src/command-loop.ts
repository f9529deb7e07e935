import { PROMPTS, type NextStep, type Reply } from 'forum-protocol';
import { setTimeout as delay } from 'node:timers/promises';
import type { RudpConnection } from 'rudpx';
import type { ClientArgs } from './args.js';
import type { ClientState } from './client-state.js';
import { err, out, outLines, outputTaken } from './client-output.js';
import { helpLines } from './command-help.js';
import { interpretLine } from './command-line.js';
import { connectionGone } from './connection-gone.js';
import { EXIT } from './exit-status.js';
import { OVERLONG_TEXT } from './line-bound.js';
import { inputWasEmpty, NO_INPUT_TEXT } from './no-input.js';
import { LinkError, type ServerLink } from './server-link.js';
import type { SessionExit } from './session-exit.js';
import { endHeldByReader } from './signal-handling.js';
import { busyGiveUpNotice, loginPauses, loginPauseScale, retryNotice } from './login-pauses.js';
import { commandWordOf, scriptLoginStep } from './script-login.js';
import { runTransfer } from './transfer-dispatch.js';
import { unansweredWriteText } from './unanswered-write.js';
import { uploadSourceProblem } from './upload-source.js';

/** The parts of a connected session the command loop works with. */
export interface Session {
  readonly args: ClientArgs;
  readonly conn: RudpConnection;
  readonly link: ServerLink;
  readonly state: ClientState;
  readonly end: SessionExit;
}

/** A request's outcome: the reply; `'unsent'` (said why, the session goes on) or `undefined` (fatal, the client is exiting). */
type Outcome = Reply | 'unsent' | undefined;

// Fatal events exit from their callbacks; the loop then just stops, never resolving.
const never = (): Promise<number> => new Promise<number>(() => undefined);

const promptName = (step: NextStep): string => (step === 'username' ? 'username' : 'password');

/** Resolves after `ms`, or at once when `signal` is aborted (a signal ended the script: no try more). */
const pause = (ms: number, signal: AbortSignal): Promise<void> => delay(ms, undefined, { signal }).catch(() => undefined);

/**
 * Prompts for the username and password, then reads commands and sends them, one at a time, until XIT,
 * the end of input, or a fatal event. Resolves with the exit status; after a fatal event it never
 * resolves (the event's exit ends the process).
 */
export const runCommandLoop = async (session: Session): Promise<number> => {
  const { link, state, end } = session;
  const { input } = state;
  // 1 but in tests (login-pauses.ts).
  const pauseScale = loginPauseScale(process.env);
  let username = '';

  const request = async (cmd: Parameters<ServerLink['request']>[0], cmdArgs: readonly string[]): Promise<Outcome> => {
    try {
      return await link.request(cmd, cmdArgs, username);
    } catch (e) {
      if (e instanceof LinkError && e.kind === 'unsent') {
        out(`Not sent: ${e.message}`);
        return 'unsent';
      }
      // A change asked for and not answered: said that it may have been made, not left to read as a failure.
      const unknown = e instanceof LinkError ? unansweredWriteText(cmd, e.delivery) : undefined;
      const reason = e instanceof LinkError ? e.message : String(e);
      connectionGone(state, end, unknown === undefined ? reason : `${reason}; ${unknown}`, e instanceof LinkError && e.kind === 'lost');
      return undefined;
    }
  };

  /** The status of a session ended at its input's end: a hangup's or a script's Ctrl-C, or 0. */
  const endStatus = (): number => (state.terminated ? EXIT.terminated : state.hungUp ? EXIT.hangUp : state.interruptedScript() ? EXIT.interrupted : EXIT.ok);

  /** The input ended (end of a script, Ctrl-C, SIGHUP) at `step`: logs out, or just says that no one logged in. */
  const endOfInput = async (step: NextStep): Promise<number> => {
    if (step !== 'command') {
      if (state.terminated) {
        if (input.promptPending && process.stdout.isTTY === true) process.stdout.write('\n');
        err(`Terminated (SIGTERM) at the ${promptName(step)} prompt: not logged in`);
      } else if (state.interrupts > 0) {
        // Ctrl-C before logging in: no session to end, so not XIT's `Goodbye` (the spec's answer to a logout, which
        // the server logs as `U exited`; printed here, a script or reader took it for one). Said as the end of
        // input and SIGTERM at a prompt are, at a terminal too; as theirs, standard output stays the exchange (its
        // last prompt, unanswered) and only a terminal's line is ended (the newline was Goodbye's line, piped).
        if (input.promptPending && process.stdout.isTTY === true) process.stdout.write('\n');
        err(`Interrupted (SIGINT) at the ${promptName(step)} prompt: not logged in`);
      } else if (input.overlong && !state.hungUp) {
        // A line no answer can be (`< /dev/zero`): what follows it is not read. A bad input, as an empty one is.
        if (input.promptPending && process.stdout.isTTY === true) process.stdout.write('\n');
        err(`${OVERLONG_TEXT}; not logged in`);
        return end.quit(link, EXIT.usage);
      } else if (next === 'username' && inputWasEmpty(state)) {
        // Not one line: a script with nothing in it, or a standard input left closed. Said, as no prompt was
        // answered; still an end of input, which the spec has end cleanly.
        err(NO_INPUT_TEXT);
        return end.quit(link, EXIT.ok);
      } else {
        // End of input (a script's answers ran out): said, as nothing else shows that no one logged in.
        // Standard output stays the exchange (its last prompt, unanswered); a terminal's line is ended.
        if (input.promptPending && process.stdout.isTTY === true) process.stdout.write('\n');
        err(`${state.hungUp ? 'Hung up (SIGHUP)' : 'End of input'} at the ${promptName(step)} prompt: not logged in`);
      }
      return end.quit(link, endStatus());
    }
    if (input.promptPending) process.stdout.write('\n');
    // A signal that ended the input cut the script short; one that comes while the XIT is under way cut nothing.
    const cutShort = signalled() ?? (input.overlong ? OVERLONG_TEXT : undefined);
    const reply = await request('XIT', []);
    if (reply === undefined) return never();
    // Not sent: closing the connection ends the session all the same.
    if (reply !== 'unsent') outLines(reply.lines);
    if (cutShort !== undefined) err(`${cutShort}: the commands after this point were not run`);
    else signalledWhileLoggingOut();
    return end.quit(link, cutShort === OVERLONG_TEXT ? EXIT.usage : endStatus());
  };

  /** The signal that ended the input (SIGTERM, or a script's SIGHUP or Ctrl-C), as stderr names it; `undefined`: none. */
  const signalled = (): string | undefined =>
    state.terminated ? 'Terminated (SIGTERM)' : state.hungUp ? 'Hung up (SIGHUP)' : state.interruptedScript() ? 'Interrupted (SIGINT)' : undefined;

  /**
   * Says a signal that came while the XIT was under way: the logout went ahead and no command was left. Before,
   * SIGTERM then printed `the commands after this point were not run`, every one of them having run.
   */
  const signalledWhileLoggingOut = (): void => {
    const what = signalled();
    if (what !== undefined) err(`${what} while logging out: every command had been run`);
  };

  let next: NextStep = 'username';
  // The answers of the login under way (username, then password), and those to send again after a fault.
  let loginAnswers: string[] = [];
  const replay: string[] = [];
  let loginFaults = 0;
  let loginBusy = 0;
  /** The refusal of the script's last password, while its next line answers the username prompt. */
  let refused: string | undefined;
  /** That refusal, through the login it began again (its username sent): a new account's password must not be a command. */
  let loginAfterRefusal: string | undefined;

  /** A script's login refused where none of its lines can answer what follows: it ends, nothing more read. */
  const refusedScript = (reason: string): Promise<number> => {
    err(`Login refused (${reason}): the rest of the input is not read (its next line was not written for this prompt); the commands were not run`);
    return end.quit(link, EXIT.loginRefused);
  };
  for (;;) {
    state.awaitingOutput = true;
    // The signal came while the command was under way; its answer now waits for a reader that may never read.
    if ((state.terminated || state.hungUp) && !state.exiting && process.stdout.writableNeedDrain) {
      endHeldByReader(state, end);
      return never();
    }
    await outputTaken();
    state.awaitingOutput = false;
    if (state.exiting) return never();
    const line = replay.shift() ?? (await input.ask(PROMPTS[next], { hidden: next === 'password' || next === 'newPassword' }));
    if (state.exiting) return never();
    if (line === undefined) return endOfInput(next);
    if (next !== 'command') {
      if (next === 'username') {
        // After a refused password the script's next line answers the username prompt, unless it is a command:
        // the script went on as if logged in (`LST` was sent as a username, and made an account of the next line).
        const command = state.scripted && refused !== undefined ? commandWordOf(line) : undefined;
        if (command !== undefined) {
          err(`Login refused (${refused ?? ''}): the script went on with the command ${command}, not taken for a username; the commands were not run`);
          return end.quit(link, EXIT.loginRefused);
        }
        username = line;
        loginAnswers = [];
        loginAfterRefusal = state.scripted ? refused : undefined;
      } else if (loginAfterRefusal !== undefined) {
        // `alice`, `wrong`, `secret`, `LST`: the script's second password was sent as a username, and its first command
        // answered that username's password prompt: a new account's (made with it, the commands after it run as that
        // account), or an existing one's (a wrong password charged to that account's login throttle).
        const command = commandWordOf(line);
        if (command !== undefined) {
          err(`Login refused (${loginAfterRefusal}): the script went on with the command ${command}, not taken for ${next === 'newPassword' ? "a new account's password" : `${username}'s password`}; the commands were not run`);
          return end.quit(link, EXIT.loginRefused);
        }
      }
      loginAnswers.push(line);
      const step = next;
      const reply = await request(step, [line]);
      if (reply === undefined) return never();
      state.loginRetry = undefined;
      if (reply === 'unsent') {
        // Said (`Not sent: …`); a script's next line was not written for this prompt.
        if (state.scripted) return refusedScript('the answer was not sent');
        continue;
      }
      outLines(reply.lines);
      if (reply.data.kind === 'auth') next = reply.data.next;
      // The login ended or begun again (a refusal that is no fault, throttled say, as the username was sent
      // again): what is left of the replay (the password) answers no prompt of it. Left, it was sent as a username.
      if (next === 'username' || next === 'command') replay.length = 0;
      // At a terminal the person answers the prompt shown.
      if (!state.scripted) continue;
      const what = scriptLoginStep(step, reply, username);
      refused = what.kind === 'go-on' && reply.status === 'error' ? (reply.lines[0] ?? 'refused') : undefined;
      if (what.kind === 'go-on') continue;
      if (what.kind === 'stop') return refusedScript(reply.lines[0] ?? 'refused');
      // A script's next line is its password (or first command): read at the username prompt after a fault, it
      // was taken as a username (attack round 18). The same answers again, a pause before.
      const pauses = loginPauses(what.cause, pauseScale);
      const tries = what.cause === 'fault' ? ++loginFaults : ++loginBusy;
      const wait = pauses[tries - 1];
      if (wait === undefined) {
        if (what.cause === 'fault') {
          err(`Login not completed: the server could not complete it ${tries} times; the commands were not run`);
          return end.quit(link, EXIT.loginFault);
        }
        err(busyGiveUpNotice(reply.lines[0] ?? 'busy', pauses));
        return end.quit(link, EXIT.loginRefused);
      }
      err(retryNotice(what.cause === 'fault' ? 'a fault of the server' : (reply.lines[0] ?? 'busy'), wait));
      state.loginRetry = { refusal: reply.lines[0] ?? 'busy', status: what.cause === 'fault' ? EXIT.loginFault : EXIT.loginRefused };
      // Cut short by SIGTERM, Ctrl-C or SIGHUP: before, the pause (up to 8 s) was waited out first.
      await pause(wait, input.cutShort);
      if (state.exiting) return never();
      // Ctrl-C or SIGHUP meanwhile ended the script: no login more.
      if (state.interrupts > 0 || state.hungUp || state.terminated) return endOfInput(next);
      replay.splice(0, replay.length, ...(what.replay === 'login' ? loginAnswers : [line]));
      continue;
    }
    const typed = interpretLine(line);
    if (typed.kind === 'help') {
      helpLines(typed.topic).forEach(out);
      continue;
    }
    if (typed.kind === 'refused') {
      typed.lines.forEach(out);
      continue;
    }
    const { cmd, args: cmdArgs } = typed.command;
    const localName = cmdArgs[1] ?? '';
    if (cmd === 'UPD') {
      const problem = await uploadSourceProblem(localName);
      if (problem !== undefined) {
        out(problem);
        continue;
      }
    }
    const reply = await request(cmd, cmdArgs);
    if (reply === undefined) return never();
    if (reply === 'unsent') continue;
    outLines(reply.lines);
    if (reply.data.kind === 'transfer') {
      await runTransfer({ cmd, data: reply.data, localName, overwrite: typed.overwrite, title: cmdArgs[0] ?? '' }, session.args, session.conn, state, () => request(cmd, cmdArgs));
      // A fatal event deferred during the transfer is exiting now: no prompt after its line.
      if (state.exiting) return never();
    }
    if (reply.data.kind === 'goodbye') {
      // A signal during the script's own XIT: said, and its status, as at the end of input (it was 0 and unsaid).
      signalledWhileLoggingOut();
      return end.quit(link, endStatus());
    }
    if (reply.data.kind === 'auth') next = reply.data.next;
  }
};
