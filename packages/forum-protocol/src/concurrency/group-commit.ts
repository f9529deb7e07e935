import type { KeyedMutex } from './keyed-mutex.js';

/** Queues jobs per key and runs each key's queue as one batch under that key's lock. */
export interface Batcher<J> {
  /** Adds `job` to the batch for `key` that has not started yet, or starts a new one (queued behind the key's lock). */
  readonly add: (key: string, job: J) => void;
}

/**
 * Group commit: every job added for a key while that key's batch waits for
 * the lock joins the batch, and `run` handles them together, so N concurrent
 * changes to one file cost one write and one sync instead of N. `run` must
 * settle every job itself and never reject.
 */
export const createBatcher = <J>(mutex: KeyedMutex, run: (key: string, jobs: readonly J[]) => Promise<void>): Batcher<J> => {
  const waiting = new Map<string, J[]>();
  return {
    add: (key, job) => {
      const batch = waiting.get(key);
      if (batch !== undefined) {
        batch.push(job);
        return;
      }
      const jobs = [job];
      waiting.set(key, jobs);
      void mutex
        .run(key, async () => {
          // From here on, new jobs for the key start the next batch.
          waiting.delete(key);
          await run(key, jobs);
        })
        .catch(() => undefined);
    },
  };
};
