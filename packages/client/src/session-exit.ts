import type { ClientState } from './client-state.js';
import { EXIT } from './exit-status.js';
import { exitAfterOutput } from './exit-after-output.js';
import { CLOSE_GRACE_MS, type ServerLink } from './server-link.js';

/**
 * The client's way out: closing the connection, then exiting once standard output has taken what was
 * written. The close waits up to `graceMs` (1 s but in tests) for the server to acknowledge; a signal meanwhile cuts it short
 * ({@link SessionExit.cutClose}): such a SIGHUP or Ctrl-C was lost, the client waited out the close
 * and exited 0.
 */
export class SessionExit {
  /** Aborted by a signal while the connection closes: the connection is dropped at once. */
  private readonly closeCut = new AbortController();
  private closingLink = false;
  /** What a cut close makes of an exit that would have been 0. */
  private closeCutStatus: number | undefined;

  /** @param graceMs the longest wait for the server to acknowledge the close (close-grace.ts). */
  constructor(
    private readonly state: ClientState,
    private readonly graceMs = CLOSE_GRACE_MS,
  ) {}

  /** True while the connection closes on the way out (after the logout or a fatal event). */
  get closing(): boolean {
    return this.closingLink;
  }

  /** Closes the connection, at once if {@link cutClose} is called meanwhile. */
  async closeLink(link: ServerLink): Promise<void> {
    this.closingLink = true;
    await link.close({ graceMs: this.graceMs, signal: this.closeCut.signal });
    // Then the exit waits for standard output, and exitAfterOutput's own handlers take the signals.
    this.closingLink = false;
  }

  /** A signal during the close: the connection is dropped now, and `status` replaces an exit status of 0 (the first signal's counts). */
  cutClose(status: number): void {
    this.closeCutStatus ??= status;
    this.closeCut.abort();
  }

  /** The exit status once the connection is closed. A fatal event's status stands: it ended the session before the signal came. */
  statusAfterClose(code: number): number {
    return code === EXIT.ok ? (this.closeCutStatus ?? code) : code;
  }

  /** Ends the input, closes the connection (if any) and exits the process with `code`; later calls do nothing. */
  exit(code: number): void {
    const { state } = this;
    if (state.exiting) return;
    state.exiting = true;
    state.input.close();
    // What was printed reaches a pipe whole before the process ends (process.exit drops queued writes),
    // except on a second Ctrl-C, which is to end the client at once, even with a reader that reads nothing.
    // So does a hangup while a reader that takes nothing holds the next command back: no one will read it now,
    // and a SIGTERM there (the only exit with its status), which `timeout` or a service manager sends once.
    const done = (final: number): void =>
      final === EXIT.interrupted || final === EXIT.hangUp || final === EXIT.terminated ? process.exit(final) : exitAfterOutput(final);
    const link = state.link;
    if (link === undefined) done(code);
    else void this.closeLink(link).finally(() => done(this.statusAfterClose(code)));
  }

  /**
   * Something ended the session (the server's notice, a lost connection): `report` says what, then the
   * client exits with `code`. During a download this waits for the transfer to clean up its temporary file.
   * The first one is what happened: the server's shutdown notice, not the connection's close that follows it.
   * Nothing is said once the client is on its way out (a fatal event, a signal or the logout came first): a
   * connection lost while it closes is no news, and read as a second `Server unreachable` after the first report.
   */
  fatal(code: number, report: () => void): void {
    const go = (): void => {
      if (this.state.exiting) return;
      if (this.state.input.promptPending) process.stdout.write('\n');
      report();
      this.exit(code);
    };
    if (this.state.transferring) {
      this.state.deferredExit ??= go;
      // A pause between a refused transfer's tries has nothing to clean up: it ends now, and says how the transfer ended.
      this.state.transferPause?.abort();
    } else go();
  }

  /** The session ended normally (logged out, or never logged in): closes the connection and resolves with the exit status. */
  async quit(link: ServerLink, code: number): Promise<number> {
    this.state.exiting = true;
    this.state.input.close();
    await this.closeLink(link);
    return this.statusAfterClose(code);
  }
}
