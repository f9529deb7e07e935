/**
 * What the rudpx misuse scripts (`lib-misuse.ts`, `lib-reentrancy.ts`, `lib-reentry.ts`) record of each case: an
 * error as its class, code and message; how a promise settled; what escaped to the process.
 */

/** Uncaught exceptions and unhandled rejections, recorded from this module's import on (their handlers keep the process alive). */
export const escaped: string[] = [];
process.on('uncaughtException', (e) => escaped.push(`uncaught ${describe(e)}`));
process.on('unhandledRejection', (e) => escaped.push(`unhandled rejection ${describe(e)}`));

/** `e` as its class, code and the start of its message. */
export function describe(e: unknown): string {
  if (!(e instanceof Error)) return `non-error ${String(e)}`;
  return `${e.constructor.name}${'code' in e ? ` ${String(e.code)}` : ''}: ${e.message.slice(0, 90)}`;
}

/** How `p` settled: `resolved`, or its error described. */
export const settle = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return describe(e);
  }
};

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
