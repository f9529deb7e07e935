/**
 * A counting semaphore: at most `limit` tasks run at once, the rest wait in
 * arrival order. Used to keep scrypt from taking every thread of libuv's pool
 * (see password-hash.ts).
 */
export class Semaphore {
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`semaphore: a limit of at least 1 (got ${String(limit)})`);
  }

  /** Tasks running now. */
  get active(): number {
    return this.running;
  }

  /** Tasks waiting for a place. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Runs `task` once a place is free (at once if one is); the place is given back however it ends. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.queue.push(resolve));
    else this.running++;
    try {
      return await task();
    } finally {
      // Hand the place straight to the next waiter (running stays the same), or free it.
      const next = this.queue.shift();
      if (next === undefined) this.running--;
      else next();
    }
  }
}
