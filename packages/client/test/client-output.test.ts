import { describe, expect, it } from 'vitest';
import { printedLines } from '../src/client-output.js';

describe('printedLines', () => {
  const reply = ['1 mallory: pay\u200bpal', '2 yoda: \x1b[2Jcleared? \u202eevil', '3 obi: 👨‍👩‍👧 می‌خواهم'];

  it('at a terminal shows controls, bidi and invisible characters as <U+XXXX>, emoji and joining words as they are', () => {
    expect(printedLines({ isTTY: true }, reply)).toBe('1 mallory: pay<U+200B>pal\n2 yoda: <U+001B>[2Jcleared? <U+202E>evil\n3 obi: 👨‍👩‍👧 می‌خواهم\n');
  });

  it('through a pipe keeps invisible characters as sent (the spec strings), and still shows controls and bidi', () => {
    expect(printedLines({ isTTY: false }, reply)).toBe('1 mallory: pay\u200bpal\n2 yoda: <U+001B>[2Jcleared? <U+202E>evil\n3 obi: 👨‍👩‍👧 می‌خواهم\n');
    expect(printedLines({}, ['Goodbye'])).toBe('Goodbye\n');
  });
});
