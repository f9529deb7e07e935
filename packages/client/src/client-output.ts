import { terminalText } from 'forum-protocol';

// Every line printed goes through terminalText: most carry the server's words, or other users'.

/** Where lines are printed: whether it is a terminal decides how they are shown. */
export interface LineStream {
  readonly isTTY?: boolean;
}

/**
 * `lines` as written to `stream`, each made safe for a terminal, in one string. At a terminal invisible
 * characters are shown too (`<U+200B>`): a person reads them there, and two names differing by one looked
 * alike. Not on a pipe, whose reader is a program comparing the spec's exact strings.
 */
export const printedLines = (stream: LineStream, lines: readonly string[]): string => {
  const options = { showInvisible: stream.isTTY === true };
  return lines.map((line) => `${terminalText(line, options)}\n`).join('');
};

/** Prints one line on standard output, made safe for a terminal. */
export const out = (line: string): void => {
  process.stdout.write(printedLines(process.stdout, [line]));
};

/** Prints one line on standard error, made safe for a terminal. */
export const err = (line: string): void => {
  process.stderr.write(printedLines(process.stderr, [line]));
};

/** A reply's lines in one write (a write each cost some 200 bytes of queue apiece while the reader was behind). */
export const outLines = (lines: readonly string[]): void => {
  if (lines.length > 0) process.stdout.write(printedLines(process.stdout, lines));
};

/**
 * Resolves once standard output has taken what was written (at once unless it is behind), so the next
 * command waits for a reader that is slow or stopped, as a program writing to a pipe does. Writes to a
 * pipe do not block in Node: a client whose output was not read sent command after command and queued
 * every answer, 1,418 MiB resident after 20 answers of 650,000 lines in 20 s (attack round 11,
 * attack/slow-reader.ts), without end.
 */
export const outputTaken = (): Promise<void> =>
  !process.stdout.writableNeedDrain || process.stdout.destroyed
    ? Promise.resolve()
    : new Promise((resolve) => {
        const done = (): void => {
          process.stdout.off('drain', done).off('close', done).off('error', done);
          resolve();
        };
        process.stdout.on('drain', done).on('close', done).on('error', done);
      });
