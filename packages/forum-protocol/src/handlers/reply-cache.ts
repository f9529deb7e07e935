/**
 * Remembers the outcome of the last `capacity` request ids of one session, so
 * a repeated request is answered with its first reply instead of running twice.
 * It stores the promise, so a repeat that arrives while the first is still
 * running waits for that same run.
 */
export interface ReplyCache<V> {
  /** Runs `compute` for a new `id`; for a known id returns the first result with `repeated: true`. */
  runOnce(id: string, compute: () => Promise<V>): Promise<{ readonly value: V; readonly repeated: boolean }>;
  /** True when `id` is remembered. */
  has(id: string): boolean;
  /** Remembered ids. */
  size(): number;
}

/** Creates a {@link ReplyCache} holding at most `capacity` ids (default 64), forgetting the oldest first. */
export const createReplyCache = <V>(capacity = 64): ReplyCache<V> => {
  const entries = new Map<string, Promise<V>>();
  return {
    runOnce: async (id, compute) => {
      const known = entries.get(id);
      if (known !== undefined) return { value: await known, repeated: true };
      const running = compute();
      entries.set(id, running);
      while (entries.size > capacity) {
        const oldest = entries.keys().next();
        if (oldest.done === true) break;
        entries.delete(oldest.value);
      }
      try {
        return { value: await running, repeated: false };
      } catch (e) {
        // A failed run is not an answer; let a retry run again.
        if (entries.get(id) === running) entries.delete(id);
        throw e;
      }
    },
    has: (id) => entries.has(id),
    size: () => entries.size,
  };
};
