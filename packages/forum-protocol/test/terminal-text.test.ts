import { describe, expect, it } from 'vitest';
import { terminalText } from '../src/protocol/terminal-text.js';

describe('terminalText', () => {
  it('shows every control character, separator and bidi reordering control instead of printing it', () => {
    expect(terminalText('\x1b]52;c;Y3VybA==\x07')).toBe('<U+001B>]52;c;Y3VybA==<U+0007>');
    expect(terminalText('a\r\x1b[2Kforged')).toBe('a<U+000D><U+001B>[2Kforged');
    expect(terminalText('\u009b31m \u0000 \x7f \t\n')).toBe('<U+009B>31m <U+0000> <U+007F> <U+0009><U+000A>');
    expect(terminalText('x\u202egnp.exe \u2066y\u2069 \u2028')).toBe('x<U+202E>gnp.exe <U+2066>y<U+2069> <U+2028>');
    // The implicit bidi marks are Bidi_Control too: with them, a bidi terminal moves digits and punctuation.
    expect(terminalText('paid 100\u200f$ \u200e \u061c')).toBe('paid 100<U+200F>$ <U+200E> <U+061C>');
    for (let c = 0; c <= 0x9f; c++) {
      const ch = String.fromCharCode(c);
      const unsafe = c < 0x20 || c >= 0x7f;
      expect(terminalText(ch) === ch).toBe(!unsafe);
    }
  });

  it('leaves ordinary text alone, other scripts and emoji included', () => {
    // A family (ZWJ sequence) and a flag (tag characters) are made of invisible characters that stay.
    for (const s of ['1 alice: hello, world!', 'Thread notes created', 'שלום עולם', 'مرحبا', '日本語のテキスト', 'café ü ß', '🙂 <U+001B> literal', '👨‍👩‍👧', '🏴󠁧󠁢󠁳󠁣󠁴󠁿']) {
      expect(terminalText(s)).toBe(s);
    }
  });
});

describe('terminalText for a terminal (showInvisible)', () => {
  const forTerminal = (s: string): string => terminalText(s, { showInvisible: true });

  it('shows the invisible characters that make two texts look alike', () => {
    // Attack round 11 left these raw ("invisible but not controls"): a hostile server's `news` and `news<U+200B>`
    // listed side by side, a message with text hidden in tag characters or interlinear annotations.
    expect(forTerminal('news\u200b')).toBe('news<U+200B>');
    expect(forTerminal('a\u2060b\ufeffc\u00add\u2061')).toBe('a<U+2060>b<U+FEFF>c<U+00AD>d<U+2061>');
    expect(forTerminal('hi\u{e0049}\u{e0047}\u{e004e}')).toBe('hi<U+E0049><U+E0047><U+E004E>');
    expect(forTerminal('\ufff9shown\ufffahidden\ufffb')).toBe('<U+FFF9>shown<U+FFFA>hidden<U+FFFB>');
    expect(forTerminal('\u3164 \u115f')).toBe('<U+3164> <U+115F>');
    // A joiner that joins nothing, or Latin letters (which a terminal never joins), and variation selectors piled up.
    expect(forTerminal('\u200d \u200c x\u200dy')).toBe('<U+200D> <U+200C> x<U+200D>y');
    expect(forTerminal('😀\ufe0f\ufe0f\ufe0f')).toBe('😀\ufe0f<U+FE0F><U+FE0F>');
    // Tags after a black flag that are no subdivision flag's (no CANCEL TAG, or too many): text hidden behind a flag.
    expect(forTerminal('🏴\u{e0068}\u{e0069}')).toBe('🏴<U+E0068><U+E0069>');
    expect(forTerminal(`🏴${'\u{e0061}'.repeat(8)}\u{e007f}`)).toBe(`🏴${'<U+E0061>'.repeat(8)}<U+E007F>`);
    // Controls and bidi characters as without the option.
    expect(forTerminal('x\u202e\x1b[2J\u200f')).toBe('x<U+202E><U+001B>[2J<U+200F>');
  });

  it('leaves alone what they make visible: emoji sequences, joiners in joining scripts, one variation selector', () => {
    for (const s of ['👨‍👩‍👧', '🏴󠁧󠁢󠁳󠁣󠁴󠁿', 'ok 👍🏽', '1️⃣', '🐦‍🔥', 'می‌خواهم', 'क्‍ष', '↔\ufe0e', '葛\u{e0100}', 'שלום עולם', 'café ü ß', '1 alice: hello, world!']) {
      expect(forTerminal(s)).toBe(s);
    }
  });

  it('shows a variation selector after a character it has no variant of: every name had 259 invisible look-alikes', () => {
    // Before, any one selector after any visible character was kept: `news` + U+FE0F looked like `news`.
    expect(forTerminal('news\ufe0f')).toBe('news<U+FE0F>');
    expect(forTerminal('news\ufe0e')).toBe('news<U+FE0E>');
    expect(forTerminal('news\ufe00')).toBe('news<U+FE00>');
    expect(forTerminal('news\u{e0100}')).toBe('news<U+E0100>');
    expect(forTerminal('news\u180b')).toBe('news<U+180B>');
    // Digits, # and * are emoji only as keycaps.
    expect(forTerminal('thread1\ufe0f')).toBe('thread1<U+FE0F>');
    expect(forTerminal('新闻\ufe0f')).toBe('新闻<U+FE0F>');
    expect(forTerminal('c++\ufe00 a=\ufe00b')).toBe('c++<U+FE00> a=<U+FE00>b');
    // Those that do select a variant stay: emoji and text presentation, keycaps, standardized and ideographic variants, Mongolian.
    for (const s of ['❤\ufe0f', '©\ufe0f', '☺\ufe0e', '#\ufe0f\u20e3', '9\ufe0f\u20e3', '\u2269\ufe00', '\u1000\ufe00', '葛\u{e0100}', '\u1820\u180b']) {
      expect(forTerminal(s)).toBe(s);
    }
  });

  it('shows a joiner between letters of scripts that do not join, a terminal draws the same letters either side of it', () => {
    // Before, only Latin, Greek and Cyrillic were told apart: `新闻` and `新` + ZWNJ + `闻` looked alike.
    expect(forTerminal('新\u200c闻')).toBe('新<U+200C>闻');
    expect(forTerminal('ニュ\u200dース')).toBe('ニュ<U+200D>ース');
    expect(forTerminal('한\u200c국')).toBe('한<U+200C>국');
    expect(forTerminal('של\u200dום')).toBe('של<U+200D>ום');
    expect(forTerminal('բար\u200cև')).toBe('բար<U+200C>և');
    expect(forTerminal('ไท\u200cย')).toBe('ไท<U+200C>ย');
    // A combining accent is no joining letter (it was: its script is Inherited, not Latin), nor is a Latin letter after an Arabic one.
    expect(forTerminal('ne\u0301\u200dws')).toBe('ne\u0301<U+200D>ws');
    expect(forTerminal('سلام\u200cnews')).toBe('سلام<U+200C>news');
    // Joining and conjunct-forming scripts keep theirs, a harakat before the joiner too.
    for (const s of ['می\u200cخواهم', 'بَ\u200cب', 'ܫܠ\u200dܡ', 'क्\u200dष', 'ক্\u200cষ', 'ന്\u200dന', 'ශ්\u200dර']) {
      expect(forTerminal(s)).toBe(s);
    }
  });

  it('shows the tags after a black flag unless they spell a flag a terminal draws (England, Scotland, Wales)', () => {
    const tags = (ascii: string): string => [...ascii].map((c) => String.fromCodePoint(0xe0000 + (c.codePointAt(0) ?? 0))).join('');
    const shownTags = (ascii: string): string => [...ascii].map((c) => `<U+${(0xe0000 + (c.codePointAt(0) ?? 0)).toString(16).toUpperCase()}>`).join('');
    // Before, any six tags and CANCEL TAG after 🏴 were kept: text hidden behind a flag that shows as the bare 🏴.
    expect(forTerminal(`🏴${tags('hi!')}\u{e007f}`)).toBe(`🏴${shownTags('hi!')}<U+E007F>`);
    expect(forTerminal(`ok 🏴${tags('ignore')}\u{e007f}🏴${tags('rules')}\u{e007f}`)).toBe(`ok 🏴${shownTags('ignore')}<U+E007F>🏴${shownTags('rules')}<U+E007F>`);
    // Several runs in one text are judged each on its own.
    for (const flag of ['gbeng', 'gbsct', 'gbwls']) {
      const s = `${tags('x')} 🏴${tags(flag)}\u{e007f} 🏴${tags('usca')}\u{e007f}`;
      expect(forTerminal(s)).toBe(`${shownTags('x')} 🏴${tags(flag)}\u{e007f} 🏴${shownTags('usca')}<U+E007F>`);
    }
  });

  it('is off by default: output for programs keeps the text as sent', () => {
    expect(terminalText('news\u200b \u00ad')).toBe('news\u200b \u00ad');
  });
});
