/**
 * Polls `check` every 20 ms until it holds, for at most `ms`; throws if it never does. For a state another
 * process reaches in its own time (a backend ending, an undo's deletion), not a fixed sleep. 20 s by default:
 * a deadline only ends a wait that failed, and a busy CI machine (load 20) stalls processes for seconds.
 */
export const until = async (check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> => {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the condition never held');
};
