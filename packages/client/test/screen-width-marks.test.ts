/**
 * Widths of letters under combining marks: string-width's own answer, without asking it for every such grapheme
 * (a hostile line of letters under distinct marks made one string-width call each: 400,000 took 3.3 s).
 */
import stringWidth from 'string-width';
import { describe, expect, it, vi } from 'vitest';

const calls = vi.hoisted(() => ({ count: 0 }));
vi.mock('string-width', async (importOriginal) => {
  const actual = await importOriginal<typeof import('string-width')>();
  return {
    default: (text: string, options?: Parameters<typeof actual.default>[1]): number => {
      calls.count++;
      return actual.default(text, options);
    },
  };
});

const { graphemeWidth, screenRows } = await import('../src/screen-rows.js');

describe('widths of marked letters', () => {
  it('measures a letter under distinct marks by the letter alone: string-width is asked once a letter, not once a grapheme', () => {
    const line = Array.from({ length: 20_000 }, (_, i) => `${'aé中ж'[i % 4] ?? 'a'}${String.fromCharCode(0x300 + (i % 112))}${String.fromCharCode(0x300 + ((i >> 7) % 112))}`).join('');
    calls.count = 0;
    const rows = screenRows(line, 80);
    expect(calls.count).toBeLessThan(10);
    // Each row as string-width measures it fits (a continuation row after its 2-column mark), and none is lost.
    rows.forEach((row, i) => expect(stringWidth(i === 0 ? row : row.slice(2))).toBeLessThanOrEqual(i === 0 ? 80 : 78));
    expect(rows.map((row, i) => (i === 0 ? row : row.slice(2))).join('')).toBe(line);
    expect(rows.length).toBeGreaterThan(20_000 / 80);
  });

  it('gives what string-width gives for every BMP character followed by marks, enclosing ones and keycaps included', () => {
    const marks = ['\u0301', '\u0301\u0302', '\u20e3', '\ufe0f', '\u20dd', '\u0e31', '\u093f', '\u3099'];
    const differ: string[] = [];
    for (let c = 0x20; c < 0x10000; c++) {
      if (c >= 0xd800 && c <= 0xdfff) continue;
      for (const m of marks) {
        const g = String.fromCharCode(c) + m;
        if (graphemeWidth(g) !== stringWidth(g)) differ.push(g);
      }
    }
    for (const g of ['1\u20e3', '#\ufe0f\u20e3', '\u{1f44d}\u0301', '\u{1f1fa}\u0301', '\u{10000}\u0301', '\u{20000}\u0301\u0302'])
      expect(graphemeWidth(g)).toBe(stringWidth(g));
    expect(differ).toEqual([]);
  }, 60_000);
});
