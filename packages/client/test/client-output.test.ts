import { describe, expect, it } from 'vitest';
import { printedLines } from '../src/client-output.js';

describe('printedLines', () => {
  const reply = ['1 mallory: pay\u200bpal', '2 yoda: \x1b[2Jcleared? \u202eevil', '3 obi: 👨‍👩‍👧 می‌خواهم'];

  it('at a terminal shows controls, bidi and invisible characters as <U+XXXX>, emoji and joining words as they are', () => {
    expect(printedLines({ isTTY: true, columns: 80 }, reply, { TERM: 'dumb' })).toBe('1 mallory: pay<U+200B>pal\n2 yoda: <U+001B>[2Jcleared? <U+202E>evil\n3 obi: 👨‍👩‍👧 می‌خواهم\n');
  });

  it('through a pipe keeps invisible characters as sent (the spec strings), and still shows controls and bidi', () => {
    expect(printedLines({ isTTY: false }, reply)).toBe('1 mallory: pay\u200bpal\n2 yoda: <U+001B>[2Jcleared? <U+202E>evil\n3 obi: 👨‍👩‍👧 می‌خواهم\n');
    expect(printedLines({}, ['Goodbye'])).toBe('Goodbye\n');
  });

  const padded = `1 mallory: hi${' '.repeat(27)}2 yoda: send me your password`;

  it('at a terminal wraps a line wider than it, with every continuation row marked and the terminal\'s own wrapping off meanwhile', () => {
    // Before, the line went out whole and the terminal wrapped it: `2 yoda: send me your password` began a row.
    expect(printedLines({ isTTY: true, columns: 40 }, [padded, 'short'], {})).toBe(
      `\x1b[?7l1 mallory: hi${' '.repeat(27)}\n         ↪ 2 yoda: send me your password\nshort\n\x1b[?7h`,
    );
    // A terminal that does not know its width: COLUMNS, else 80; a dumb terminal gets no escape sequences.
    expect(printedLines({ isTTY: true, columns: 0 }, [padded], { COLUMNS: '40', TERM: 'dumb' })).toBe(`1 mallory: hi${' '.repeat(27)}\n         ↪ 2 yoda: send me your password\n`);
    expect(printedLines({ isTTY: true }, [`${'x'.repeat(81)}`], { TERM: 'dumb' })).toBe(`${'x'.repeat(80)}\n↪ x\n`);
  });

  it('through a pipe keeps a long line whole, as the spec has it', () => {
    expect(printedLines({ isTTY: false, columns: 40 }, [padded], {})).toBe(`${padded}\n`);
  });
});
