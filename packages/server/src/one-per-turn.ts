/**
 * Runs jobs one per turn of the event loop, in the order given, with the
 * loop's I/O between them. For the encoding of large replies (LST, RDT):
 * each is a few milliseconds of the main thread (a full thread's 4 MiB of
 * JSON about 10 ms when its lines are not cached, 2 when they are), and the
 * requests the reply budget wakes at once ran them back to back in one
 * turn: with 32 accounts on 8 hosts reading full threads, the server's
 * event loop stalled up to 90–210 ms (attack/request-cost.ts with
 * A10_LOOP_DELAY), and an honest client's MSG waited behind all of them.
 * One per turn, the stall is one encoding.
 *
 * Pure but for `schedule` (default `setImmediate`: a job queued from a
 * job's turn runs in a later turn, after the loop has polled for I/O).
 */

/** Jobs run one per scheduled turn; see the file's comment. */
export class OnePerTurn {
  private readonly queue: (() => void)[] = [];
  private scheduled = false;

  constructor(private readonly schedule: (turn: () => void) => void = (turn) => void setImmediate(turn)) {}

  /** Runs `job` in a turn of its own, after those given before it; settles with what it returns or throws. */
  run<T>(job: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push(() => {
        try {
          resolve(job());
        } catch (e) {
          reject(e);
        }
      });
      this.next();
    });
  }

  /** Jobs waiting for their turn (0 once all ran: nothing is kept). */
  get waiting(): number {
    return this.queue.length;
  }

  private next(): void {
    if (this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    this.schedule(() => {
      this.scheduled = false;
      this.queue.shift()?.();
      this.next();
    });
  }
}
