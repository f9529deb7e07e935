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

// What string-width's rules and grapheme breaking read of a character (and the product's MARKED test): its
// width alone, general category, emoji properties (an emoji sequence with VS16 or a keycap is 2 columns),
// Hangul (jamo compose), Halfwidth and Fullwidth Forms (added after a base) and grapheme-breaking properties.
const CATEGORIES = ['Lu', 'Ll', 'Lt', 'Lm', 'Lo', 'Mn', 'Mc', 'Me', 'Nd', 'Nl', 'No', 'Pc', 'Pd', 'Ps', 'Pe', 'Pi', 'Pf', 'Po', 'Sm', 'Sc', 'Sk', 'So', 'Zs', 'Zl', 'Zp', 'Cc', 'Cf', 'Co', 'Cn'].map(
  (gc) => new RegExp(`^\\p{gc=${gc}}$`, 'u'),
);
const PROPERTIES = [
  /^\p{Emoji}$/u,
  /^\p{Emoji_Presentation}$/u,
  /^\p{Emoji_Modifier}$/u,
  /^\p{Emoji_Modifier_Base}$/u,
  /^\p{Emoji_Component}$/u,
  /^\p{Extended_Pictographic}$/u,
  /^\p{Default_Ignorable_Code_Point}$/u,
  /^\p{Grapheme_Base}$/u,
  /^\p{Grapheme_Extend}$/u,
  /^\p{Join_Control}$/u,
  /^\p{Variation_Selector}$/u,
  /^\p{Script=Hangul}$/u,
  /^[\d#*]$/u,
  /^[\uff00-\uffef]$/u,
];
// The v flag is ES2024, past the target: built at run time.
const RGI_EMOJI = new RegExp('^\\p{RGI_Emoji}$', 'v');
const characterClass = (c: string): string =>
  [
    stringWidth(c),
    CATEGORIES.findIndex((gc) => gc.test(c)),
    ...PROPERTIES.map((p) => p.test(c)),
    RGI_EMOJI.test(c),
    RGI_EMOJI.test(`${c}\ufe0f`),
  ].join();

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
    // string-width takes ~35 µs a grapheme (an Intl.Segmenter each): all 500,000 took 18 s. It is asked for
    // the first, middle and last character of each class of characters that its rules, grapheme breaking and
    // graphemeWidth's MARKED test treat alike (characterClass), each followed by each mark.
    const classes = new Map<string, number[]>();
    for (let c = 0x20; c < 0x10000; c++) {
      if (c >= 0xd800 && c <= 0xdfff) continue;
      const key = characterClass(String.fromCharCode(c));
      const members = classes.get(key) ?? [];
      members.push(c);
      classes.set(key, members);
    }
    const differ: string[] = [];
    for (const members of classes.values())
      for (const c of new Set([members[0], members[members.length >> 1], members[members.length - 1]]))
        for (const m of marks) {
          const g = String.fromCharCode(c ?? 0) + m;
          if (graphemeWidth(g) !== stringWidth(g)) differ.push(g);
        }
    for (const g of ['1\u20e3', '#\ufe0f\u20e3', '\u{1f44d}\u0301', '\u{1f1fa}\u0301', '\u{10000}\u0301', '\u{20000}\u0301\u0302'])
      expect(graphemeWidth(g)).toBe(stringWidth(g));
    expect(classes.size).toBeGreaterThan(50);
    expect(differ).toEqual([]);
  }, 60_000);
});
