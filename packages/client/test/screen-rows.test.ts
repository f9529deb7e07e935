import { describe, expect, it } from 'vitest';
import { CONTINUATION_MARK, DEFAULT_COLUMNS, MIN_COLUMNS, screenColumns, screenGraphemes, screenRows, SINGLE_GRAPHEMES } from '../src/screen-rows.js';

/** Columns a row takes, counted here by hand for the characters these tests use (not by the code under test). */
const columnsOf = (row: string): number =>
  [...new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(row)].reduce((sum, { segment }) => {
    const first = segment.codePointAt(0) ?? 0;
    const wide = (first >= 0x4e00 && first <= 0x9fff) || (first >= 0xac00 && first <= 0xd7a3) || first >= 0x1f300 || first === 0x3000;
    return sum + (wide ? 2 : 1);
  }, 0);

/** True when a row reads as the start of an RDT message line (`N user: `). */
const looksLikeMessage = (row: string): boolean => /^\d+ \S+: /u.test(row);

describe('screenRows', () => {
  it('keeps a line that fits as one row, at exactly the width too', () => {
    expect(screenRows('1 yoda: hello', 40)).toEqual(['1 yoda: hello']);
    expect(screenRows('x'.repeat(40), 40)).toEqual(['x'.repeat(40)]);
    expect(screenRows('', 40)).toEqual(['']);
  });

  it('a message padded with spaces to the width: the forged line after it starts a marked continuation row, indented under the text', () => {
    const line = `1 mallory: hi${' '.repeat(40 - 13)}2 yoda: send me your password`;
    const rows = screenRows(line, 40);
    expect(rows).toEqual([`1 mallory: hi${' '.repeat(27)}`, `         ${CONTINUATION_MARK}2 yoda: send me your password`]);
    expect(rows.slice(1).some(looksLikeMessage)).toBe(false);
  });

  it('breaks after a space, inside a word only when the word is longer than a row, and keeps every character', () => {
    const line = '3 obi: the quick brown fox jumps over the lazy dog';
    const rows = screenRows(line, 20);
    expect(rows).toEqual(['3 obi: the quick ', `     ${CONTINUATION_MARK}brown fox `, `     ${CONTINUATION_MARK}jumps over `, `     ${CONTINUATION_MARK}the lazy dog`]);
    const long = screenRows(`a ${'b'.repeat(30)}`, 12);
    expect(long).toEqual(['a ', `${CONTINUATION_MARK}bbbbbbbbbb`, `${CONTINUATION_MARK}bbbbbbbbbb`, `${CONTINUATION_MARK}bbbbbbbbbb`]);
    const text = (rows: readonly string[]): string => rows.map((row, i) => (i === 0 ? row : row.slice(row.indexOf(CONTINUATION_MARK) + CONTINUATION_MARK.length))).join('');
    expect(text(rows)).toBe(line);
    expect(text(long)).toBe(`a ${'b'.repeat(30)}`);
  });

  it('counts East Asian wide characters and emoji as 2 columns and combining marks as 0, never splitting a character', () => {
    const cjk = `2 李: ${'新闻'.repeat(20)}`;
    for (const row of screenRows(cjk, 21)) expect(columnsOf(row)).toBeLessThanOrEqual(21);
    // 1 + 1 + 2 + 1 + 1 = 6 columns of prefix and 7 ideographs (14) fill 20 of the 21; continuation rows are
    // indented 6, and 7 ideographs fill 14 of the other 15.
    const lead = `    ${CONTINUATION_MARK}`;
    expect(screenRows(cjk, 21)).toEqual(['2 李: 新闻新闻新闻新', `${lead}闻新闻新闻新闻`, `${lead}新闻新闻新闻新`, `${lead}闻新闻新闻新闻`, `${lead}新闻新闻新闻新`, `${lead}闻新闻新闻`]);
    const family = '👨\u200d👩\u200d👧';
    const emoji = screenRows(`${family}${'🎉'.repeat(10)}`, 9);
    expect(emoji).toEqual([`${family}🎉🎉🎉`, `${CONTINUATION_MARK}🎉🎉🎉`, `${CONTINUATION_MARK}🎉🎉🎉`, `${CONTINUATION_MARK}🎉`]);
    // e + U+0301 is one column: 12 of them fill a row of 12, and no accent is parted from its letter.
    const accented = 'e\u0301'.repeat(20);
    const rows = screenRows(accented, 12);
    expect(rows[0]).toBe('e\u0301'.repeat(12));
    expect(rows[1]).toBe(`${CONTINUATION_MARK}${'e\u0301'.repeat(8)}`);
  });

  it('an LST title or an upload line is continued under a 2-column mark, and an emoji sequence is never cut between rows', () => {
    const name = `${'x'.repeat(18)}2`;
    expect(screenRows(`mallory uploaded ${name}`, 20)).toEqual(['mallory uploaded ', `${CONTINUATION_MARK}${'x'.repeat(18)}`, `${CONTINUATION_MARK}2`]);
    expect(screenRows('新'.repeat(15), 20)).toEqual(['新'.repeat(10), `${CONTINUATION_MARK}${'新'.repeat(5)}`]);
    const family = '👨\u200d👩\u200d👧';
    expect(screenRows(`abc${family}`, 4)).toEqual(['abc', `${CONTINUATION_MARK}${family}`]);
  });

  it('a run of blanks (spaces, ideographic spaces, braille blanks) longer than a row fills marked rows, none empty-looking', () => {
    for (const blank of [' ', '\u3000', '\u2800']) {
      const rows = screenRows(`1 mallory: hi${blank.repeat(100)}2 yoda: send me your password`, 30);
      expect(rows.length).toBeGreaterThan(3);
      for (const row of rows.slice(1)) expect(row.trimStart().startsWith(CONTINUATION_MARK.trim())).toBe(true);
      expect(rows.slice(1).some(looksLikeMessage)).toBe(false);
      for (const row of rows) expect(columnsOf(row)).toBeLessThanOrEqual(30);
    }
  });

  it('at tiny widths keeps the mark and one wide character a row; the indent is at most half the width', () => {
    expect(screenRows('1 mallory: 新闻', 1)).toEqual(screenRows('1 mallory: 新闻', MIN_COLUMNS));
    expect(screenRows('1 mallory: 新闻', MIN_COLUMNS)).toEqual(['1 ', `${CONTINUATION_MARK}ma`, `${CONTINUATION_MARK}ll`, `${CONTINUATION_MARK}or`, `${CONTINUATION_MARK}y:`, `${CONTINUATION_MARK} `, `${CONTINUATION_MARK}新`, `${CONTINUATION_MARK}闻`]);
    expect(screenRows('新闻新', MIN_COLUMNS)).toEqual(['新闻', `${CONTINUATION_MARK}新`]);
    const rows = screenRows(`12 ${'u'.repeat(30)}: hello there`, 20);
    expect(rows[1]?.indexOf(CONTINUATION_MARK)).toBe(8);
    for (const row of rows) expect(columnsOf(row)).toBeLessThanOrEqual(20);
  });
});

describe('SINGLE_GRAPHEMES', () => {
  it('holds only code points that Intl.Segmenter parts from a letter on either side (each is a grapheme of its own)', () => {
    const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
    const count = (text: string): number => [...segmenter.segment(text)].length;
    let checked = 0;
    for (let cp = 0x20; cp <= 0xffff; cp += 1) {
      const c = String.fromCodePoint(cp);
      if (!SINGLE_GRAPHEMES.test(c)) continue;
      checked += 1;
      if (count(`a${c}`) !== 2 || count(`${c}a`) !== 2 || count(`${c}${c}`) !== 2) expect.fail(`U+${cp.toString(16)} joins a neighbour`);
    }
    expect(checked).toBeGreaterThan(40_000);
    expect(SINGLE_GRAPHEMES.test('e\u0301')).toBe(false);
    expect(SINGLE_GRAPHEMES.test('\uff76\uff9e')).toBe(false);
  });
});

describe('screenGraphemes', () => {
  it('parts text as Intl.Segmenter does, over random mixes of letters, marks, joiners, emoji, flags, jamo and keycaps', () => {
    // Strings longer than a chunk (256 code units) too, so that chunk ends fall inside sequences.
    const alphabet = ['a', ' ', 'e', '\u0301', '\u200d', '\u200c', '\ufe0f', '👨', '👩', '🏽', '🇫', '🇷', '©', '\u1100', '\u1161', '\u11a8', '가', '각', '新', 'ｶ', '\uff9e', '\u0915', '\u094d', '\u093f', '\u0600', '1', '\u20e3', '\u{e0067}', '🏴', 'я', '\u3099', 'か', '👍', '❤', '#', '\u{e0065}', '\u{e006e}', '\u{e007f}', '\u{1f9d1}', '\u{1f4bb}', '\u2640'];
    const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
    // A fixed-seed LCG: the same strings each run.
    let seed = 12345;
    const next = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let i = 0; i < 20_000; i += 1) {
      const text = Array.from({ length: 1 + (next() % (i % 10 === 0 ? 400 : 12)) }, () => alphabet[next() % alphabet.length]).join('');
      const got = screenGraphemes(text);
      const want = Array.from(segmenter.segment(text), (s) => s.segment);
      // toEqual where they differ, with the same message: 20,000 calls of it were half the test's CPU.
      if (got.length !== want.length || got.some((g, k) => g !== want[k])) expect(got, JSON.stringify(text)).toEqual(want);
    }
    expect(screenGraphemes('x'.repeat(200_000) + '\u0301').length).toBe(200_000);
    // Long runs go through Intl.Segmenter in chunks: whole, 200,000 emoji took 19 s (its time grows with the square).
    expect(screenGraphemes('👍'.repeat(200_000)).length).toBe(200_000);
    const zalgo = `a${'\u0301'.repeat(1000)}b`;
    expect(screenGraphemes(zalgo)).toEqual([`a${'\u0301'.repeat(1000)}`, 'b']);
    for (const text of [' 👨\u200d👩\u200d👧 ', '1\ufe0f\u20e3', '🇫🇷🇫', '🏴\u{e0067}\u{e0062}\u{e0065}\u{e006e}\u{e0067}\u{e007f}x', '👍🏽\u0301', '©\ufe0f\u200d©']) {
      expect(screenGraphemes(text), JSON.stringify(text)).toEqual(Array.from(segmenter.segment(text), (s) => s.segment));
    }
  });
});

describe('screenColumns', () => {
  it('takes the terminal\'s width, else COLUMNS, else 80, and never less than the minimum', () => {
    expect(screenColumns(120, '50')).toBe(120);
    expect(screenColumns(0, '50')).toBe(50);
    expect(screenColumns(undefined, undefined)).toBe(DEFAULT_COLUMNS);
    expect(screenColumns(0, 'wide')).toBe(DEFAULT_COLUMNS);
    expect(screenColumns(2, undefined)).toBe(MIN_COLUMNS);
  });
});
