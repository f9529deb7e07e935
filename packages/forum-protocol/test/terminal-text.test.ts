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
