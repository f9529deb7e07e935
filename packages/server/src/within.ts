/**
 * `promise`'s value, or `onTimeout` if `ms` pass first. The timer is cleared
 * either way and never keeps the process alive: a stop waiting on it ends
 * when the rest of the server has.
 */
export const within = async <T, U>(promise: Promise<T>, ms: number, onTimeout: U): Promise<T | U> => {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<U>((resolve) => (timer = setTimeout(() => resolve(onTimeout), ms)).unref())]);
  } finally {
    clearTimeout(timer);
  }
};
