import type { LineInput } from './line-input.js';
import type { ServerLink } from './server-link.js';

/**
 * What the signal handlers, the close path, the command loop and a transfer share about the session
 * under way: each reads it to decide what a Ctrl-C, a SIGHUP or a fatal event means at that moment.
 */
export class ClientState {
  /** Ctrl-C so far (a second one while logging out exits at once). */
  interrupts = 0;
  /** SIGHUP came while the commands came from a file or pipe: the rest are not run (status 129). */
  hungUp = false;
  /** SIGTERM came: the session is logged out, the rest of the input not read (status 143). */
  terminated = false;
  /** True while the loop waits for standard output to take the last answer (`outputTaken`). */
  awaitingOutput = false;
  /** A UPD or DWN is moving bytes: a fatal event waits for it to clean up (`deferredExit`). */
  transferring = false;
  /** Aborts the running UPD/DWN transfer (Ctrl-C). */
  cancelTransfer: AbortController | undefined;
  /**
   * Cut short by a fatal event: the pause before a refused transfer's next try (transfer-dispatch.ts), during which
   * the transfer also holds the event back (`transferring`) until its line is out.
   */
  transferPause: AbortController | undefined;
  /** The exit of a fatal event that came during a transfer, run once the transfer has ended. */
  deferredExit: (() => void) | undefined;
  /** The client is on its way out: the loop stops and signals no longer log out. */
  exiting = false;
  /** The session's link, once connected (until then a signal has nothing to log out of). */
  link: ServerLink | undefined;
  /**
   * A script's login waits to be tried again: the refusal, and the exit status should it not be (the server
   * closing the connection meanwhile ends it so, not as an unreachable server).
   */
  loginRetry: { readonly refusal: string; readonly status: number } | undefined;
  /** The script's input ended, empty, while the client connected: the handshake was given up for it. */
  noInput = false;
  /** Aborted by SIGHUP before there is a session: the handshake is given up rather than waited for. */
  readonly connecting = new AbortController();

  constructor(
    /**
     * Commands read from a file or pipe, not typed: standard input alone decides (typed with the output piped,
     * `| tee log`, none is cut short), for Ctrl-C as for SIGHUP.
     */
    readonly scripted: boolean,
    /** Where the commands come from. */
    readonly input: LineInput,
  ) {}

  /** A script that Ctrl-C cut short (its remaining commands are not run). */
  interruptedScript(): boolean {
    return this.scripted && this.interrupts > 0;
  }
}
