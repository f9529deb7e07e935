import type { FileStoreContext } from './file-store-context.js';

/**
 * What the open says of threads already past a limit (written under an older version, a larger
 * `--max-thread-bytes`, or by hand). Bytes and lines alike: every thread is read and served (they are the
 * users' messages; the store keeps them all in memory), and what adds to the limit passed is refused until
 * deletions bring the threads under it. Said once at the open, so that an operator learns why every MSG
 * is refused, and that the server needs the memory of what was read rather than of what the limit allows.
 */
export const overLimitWarnings = (ctx: Pick<FileStoreContext, 'contents' | 'maxThreadBytes' | 'maxThreadLines'>): string[] => {
  const { threadBytes, threadLines } = ctx.contents;
  const warnings: string[] = [];
  if (threadBytes > ctx.maxThreadBytes)
    warnings.push(`the threads hold ${threadBytes} bytes, more than the ${ctx.maxThreadBytes} they may: all are served, and a MSG, longer EDT or upload line is refused until DLT or RMV brings them under it`);
  if (threadLines > ctx.maxThreadLines)
    warnings.push(`the threads hold ${threadLines} lines, more than the ${ctx.maxThreadLines} they may: all are served, and a MSG or upload line is refused until DLT or RMV brings them under it`);
  return warnings;
};
