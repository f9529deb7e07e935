/**
 * Attack round 17, item 7: a hostile server's reply lines as forum-client shows them at a terminal (`printedLines`
 * with a TTY 80 columns wide: controls and invisible characters shown, graphemes measured, long lines wrapped),
 * one line of each kind that makes one grapheme out of many code points, or many graphemes that need the
 * segmenter: a ZWJ chain of emoji (one grapheme), a letter under marks, emoji with VS16, flags, keycaps, skin
 * tones, a run of Hangul leading then vowel jamo (one grapheme), Prepend characters (U+0600), a tag sequence.
 *
 *   npx tsx attack/tty-graphemes.ts [counts=10000,400000,1000000]
 *
 * In-process (no pty here): the time of `printedLines` for each line, and the characters it writes.
 */
import { printedLines } from '../packages/client/src/client-output.js';

const counts = (process.argv[2] ?? '10000,400000,1000000').split(',').map(Number);
const cases: Readonly<Record<string, (n: number) => string>> = {
  zwjChain: (n) => '👩\u200d'.repeat(n) + '👩',
  marks: (n) => 'a' + '\u0301'.repeat(n),
  vs16: (n) => '❤\ufe0f'.repeat(n),
  flags: (n) => '🇫🇷'.repeat(n),
  keycaps: (n) => '1\ufe0f\u20e3'.repeat(n),
  skin: (n) => '👋🏽'.repeat(n),
  hangulJamo: (n) => '\u1100'.repeat(n) + '\u1161'.repeat(n),
  prepend: (n) => '\u0600'.repeat(n) + 'a',
  tagSeq: (n) => '🏴' + '\u{E0067}'.repeat(n) + '\u{E007F}',
};
for (const [name, make] of Object.entries(cases)) {
  for (const n of counts) {
    const line = make(n);
    const t = performance.now();
    const out = printedLines({ isTTY: true, columns: 80 }, [line], { COLUMNS: '80' });
    const ms = performance.now() - t;
    console.log(`${name} n=${n} (${line.length} UTF-16 units): ${ms.toFixed(0)} ms (${((ms * 1000) / line.length).toFixed(2)} µs a unit), ${out.length} characters written`);
  }
}
