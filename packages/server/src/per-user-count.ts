/**
 * How many transfers of one kind each user has running, in this process's
 * memory, up to a maximum: the count behind {@link UploadsPerUser} and
 * {@link DownloadsPerUser}.
 */
export class PerUserCount {
  private readonly running = new Map<string, number>();

  constructor(readonly max: number) {}

  /** Starts one of `username`'s transfers: the function that ends it (once), or `undefined` if the user is at the limit. */
  start(username: string): (() => void) | undefined {
    const n = this.running.get(username) ?? 0;
    if (n >= this.max) return undefined;
    this.running.set(username, n + 1);
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const left = (this.running.get(username) ?? 1) - 1;
      if (left <= 0) this.running.delete(username);
      else this.running.set(username, left);
    };
  }
}
