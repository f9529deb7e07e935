/**
 * Which users have a file transfer running, and when their last one ended:
 * a long UPD/DWN is activity, so it must not let the session idle out.
 */
export class TransferActivity {
  private readonly running = new Map<string, number>();
  private readonly finished = new Map<string, number>();

  /** A transfer of `username` started. */
  start(username: string): void {
    this.running.set(username, (this.running.get(username) ?? 0) + 1);
  }

  /** A transfer of `username` ended at `now` (ms). */
  finish(username: string, now: number): void {
    const n = (this.running.get(username) ?? 1) - 1;
    if (n <= 0) this.running.delete(username);
    else this.running.set(username, n);
    this.finished.set(username, now);
  }

  /** True while `username` has a transfer running. */
  busy(username: string): boolean {
    return this.running.has(username);
  }

  /** When the last transfer of `username` ended, if any. */
  lastFinished(username: string): number | undefined {
    return this.finished.get(username);
  }

  /** Drops what is known of `username` (the session ended). */
  forget(username: string): void {
    if (!this.running.has(username)) this.finished.delete(username);
  }
}
