/**
 * Which users have a file transfer running, and when their last one ended:
 * a long UPD/DWN is activity, so it must not let the session idle out.
 * Times are of `clock`, this process's monotonic one by default, as the
 * idle timer's are: a wall clock stepped by NTP would end sessions early or
 * keep them long.
 */
export class TransferActivity {
  private readonly running = new Map<string, number>();
  private readonly finished = new Map<string, number>();
  /**
   * Users whose session ended while a transfer of theirs ran and who started none since: when those
   * end, there is no session to keep alive. Their end was written to `finished` all the same, for
   * good (only a session's end forgets), one entry for each account that ever closed mid-transfer
   * (attack round 14).
   */
  private readonly orphaned = new Set<string>();
  /**
   * Live sessions of each user ({@link opened}, {@link forget}): two while one takes over the other. The old
   * session's end must not orphan or forget what the new one's transfer does (its end kept it from idling out).
   */
  private readonly sessions = new Map<string, number>();

  /** @param clock ms on a clock that only moves forward (default `performance.now`). */
  constructor(private readonly clock: () => number = () => performance.now()) {}

  /** A transfer of `username` started. */
  start(username: string): void {
    this.running.set(username, (this.running.get(username) ?? 0) + 1);
    // A session of theirs is live again (transfers are granted to sessions): its idle timer reads the end.
    this.orphaned.delete(username);
  }

  /** A transfer of `username` ended (now, by the activity's clock). */
  finish(username: string): void {
    const n = (this.running.get(username) ?? 1) - 1;
    if (n > 0) this.running.set(username, n);
    else this.running.delete(username);
    if (n <= 0 && this.orphaned.delete(username)) this.finished.delete(username);
    // Kept only for a live session's idle timer: a transfer of another server's session (tokens are
    // redeemed by any server of the database), or one redeemed as its session ended, left its end here for good.
    else if (this.sessions.has(username)) this.finished.set(username, this.clock());
    else this.finished.delete(username);
  }

  /** True while `username` has a transfer running. */
  busy(username: string): boolean {
    return this.running.has(username);
  }

  /** When the last transfer of `username` ended (by the activity's clock), if any. */
  lastFinished(username: string): number | undefined {
    return this.finished.get(username);
  }

  /** A session of `username` began (logged in). */
  opened(username: string): void {
    this.sessions.set(username, (this.sessions.get(username) ?? 0) + 1);
  }

  /** A session of `username` ended: what is known of them is dropped unless another session of theirs is live. */
  forget(username: string): void {
    const left = (this.sessions.get(username) ?? 0) - 1;
    if (left > 0) {
      this.sessions.set(username, left);
      return;
    }
    this.sessions.delete(username);
    this.finished.delete(username);
    if (this.running.has(username)) this.orphaned.add(username);
  }

  /** Users anything is kept for (for tests of the bound: none once their transfers and sessions ended). */
  get size(): number {
    return new Set([...this.running.keys(), ...this.finished.keys(), ...this.orphaned, ...this.sessions.keys()]).size;
  }
}
