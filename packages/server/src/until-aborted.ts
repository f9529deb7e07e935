/**
 * `step`'s outcome, or a rejection with `signal.reason` as soon as `signal`
 * aborts (at once if it has), for a step of a start being given up that holds
 * nothing the process must let go of before it exits (a database being
 * reached). The step goes on; should it succeed after all, `onLate` is given
 * its value, to close what it opened.
 */
export const untilAborted = <T>(step: Promise<T>, signal: AbortSignal | undefined, onLate: (value: T) => void): Promise<T> => {
  if (signal === undefined) return step;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(signal.reason);
      step.then(onLate, () => undefined);
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    step.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
};
