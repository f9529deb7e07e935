/** Serialises async work per key: `run(k, f)` starts `f` only after every earlier `run(k, …)` has settled. */
export interface KeyedMutex {
  run<A>(key: string, work: () => Promise<A>): Promise<A>;
  /** Keys with work queued or running (for tests; the map never keeps idle keys). */
  readonly activeKeys: () => number;
}

/** Creates a {@link KeyedMutex}. */
export const createKeyedMutex = (): KeyedMutex => {
  const tails = new Map<string, Promise<void>>();
  return {
    run: <A>(key: string, work: () => Promise<A>): Promise<A> => {
      const before = tails.get(key) ?? Promise.resolve();
      const result = before.then(work);
      const tail = result.then(
        () => undefined,
        () => undefined,
      );
      tails.set(key, tail);
      void tail.then(() => {
        if (tails.get(key) === tail) tails.delete(key);
      });
      return result;
    },
    activeKeys: () => tails.size,
  };
};
