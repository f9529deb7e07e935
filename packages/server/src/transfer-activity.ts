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

  /** @param clock ms on a clock that only moves forward (default `performance.now`). */
  constructor(private readonly clock: () => number = () => performance.now()) {}

  /** A transfer of `username` started. */
  start(username: string): void {
    this.running.set(username, (this.running.get(username) ?? 0) + 1);
  }

  /** A transfer of `username` ended (now, by the activity's clock). */
  finish(username: string): void {
    const n = (this.running.get(username) ?? 1) - 1;
    if (n <= 0) this.running.delete(username);
    else this.running.set(username, n);
    this.finished.set(username, this.clock());
  }

  /** True while `username` has a transfer running. */
  busy(username: string): boolean {
    return this.running.has(username);
  }

  /** When the last transfer of `username` ended (by the activity's clock), if any. */
  lastFinished(username: string): number | undefined {
    return this.finished.get(username);
  }

  /** Drops what is known of `username` (the session ended). */
  forget(username: string): void {
    if (!this.running.has(username)) this.finished.delete(username);
  }
}
