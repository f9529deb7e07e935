/**
 * Runs each of `steps` whatever the others do: one that throws is told to `failed`, and the next still runs.
 * For clean-up: a step skipped there holds a session, a slot or a count for good, and an exception that
 * escapes an event handler or a timer ends the process. A `failed` that throws too (a log that cannot
 * write) is ignored: the steps matter more than the report of one.
 */
export const everyStep = (steps: readonly (() => void)[], failed: (e: unknown) => void): void => {
  for (const step of steps) {
    try {
      step();
    } catch (e) {
      try {
        failed(e);
      } catch {
        // The report failed as well; the remaining steps still run.
      }
    }
  }
};
