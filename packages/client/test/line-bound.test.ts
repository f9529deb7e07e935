import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LineBound } from '../src/line-bound.js';

/** What a bound of `max` passes on of `chunks`, and whether it found a line too long. */
const through = async (max: number, chunks: readonly string[]): Promise<{ readonly text: string; readonly overlong: boolean }> => {
  let overlong = false;
  const bound = Readable.from(chunks.map((c) => Buffer.from(c))).pipe(new LineBound(max, () => (overlong = true)));
  let text = '';
  for await (const piece of bound) text += String(piece);
  return { text, overlong };
};

describe('LineBound', () => {
  it('passes whole lines on, a line split across chunks joined, and the unterminated last line at the end', async () => {
    expect(await through(4, ['ab', 'cd\nef', '\r\ng'])).toEqual({ text: 'abcd\nef\r\ng', overlong: false });
  });

  it('a line of exactly max bytes passes; one byte more ends the output after the lines before it', async () => {
    expect(await through(4, ['abcd\n'])).toEqual({ text: 'abcd\n', overlong: false });
    expect(await through(4, ['ok\nabcde\nlater\n'])).toEqual({ text: 'ok\n', overlong: true });
  });

  it('a long line built of small chunks is cut before any of it is passed on, even with no newline ever', async () => {
    expect(await through(4, ['ok\nab', 'c', 'de', 'f\nlater\n'])).toEqual({ text: 'ok\n', overlong: true });
    expect(await through(4, ['ab', 'cd', 'e'])).toEqual({ text: '', overlong: true });
  });
});
