import { terminalText } from 'forum-protocol';
import { screenColumns, screenRows } from './screen-rows.js';

// Every line printed goes through terminalText: most carry the server's words, or other users'.

/** Where lines are printed: whether it is a terminal decides how they are shown, and its width where they wrap. */
export interface LineStream {
  readonly isTTY?: boolean;
  /** The terminal's width (`tty.WriteStream#columns`; 0 or absent when it does not know). */
  readonly columns?: number;
}

/** What of the environment decides how a terminal is written to. */
export interface TerminalEnvironment {
  /** The width to assume when the terminal does not tell its own. */
  readonly COLUMNS?: string;
  /** `dumb`: a terminal that takes no escape sequences. */
  readonly TERM?: string;
}

// DECAWM off while the client's own rows are written, then on again: a character the terminal draws wider
// than string-width measured it (an East Asian ambiguous one, such as Cyrillic or Greek letters, on a
// terminal set to draw them wide) then overwrites the last column instead of starting a row of its own.
const NO_AUTOWRAP = '\x1b[?7l';
const AUTOWRAP = '\x1b[?7h';

/**
 * `lines` as written to `stream`, each made safe for a terminal, in one string. At a terminal invisible
 * characters are shown too (`<U+200B>`): a person reads them there, and two names differing by one looked
 * alike; and a line wider than the terminal is wrapped by the client, every row after its first starting
 * with an indent and `↪` (`screenRows`), with the terminal's own wrapping off meanwhile, so that no text
 * past a line's start begins a row and reads as a line of its own. Not on a pipe, whose reader is a program
 * comparing the spec's exact strings.
 */
export const printedLines = (stream: LineStream, lines: readonly string[], environment: TerminalEnvironment = process.env): string => {
  if (stream.isTTY !== true) return lines.map((line) => `${terminalText(line)}\n`).join('');
  const columns = screenColumns(stream.columns, environment.COLUMNS);
  const rows = lines.map((line) => screenRows(terminalText(line, { showInvisible: true }), columns).map((row) => `${row}\n`).join('')).join('');
  return environment.TERM === 'dumb' ? rows : `${NO_AUTOWRAP}${rows}${AUTOWRAP}`;
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
