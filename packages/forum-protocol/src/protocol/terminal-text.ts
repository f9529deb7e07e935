/**
 * Text from the other end made safe for a terminal. Everything forum-client
 * prints of a reply (its lines, the completion line, a transfer's refusal, a
 * notice, the connection's close reason) is the server's text, and through
 * it other users' messages: an honest server refuses control characters in
 * what users post, but a hostile or compromised server, an older data
 * directory or a row written by another tool is not bound by that. The
 * server's log quotes clients (a malformed request's parse error quotes its
 * bytes). Printed raw, ESC sequences would write the clipboard (OSC 52), set
 * the window title, clear the screen and its scrollback, or with `\r` or
 * ESC[1A overwrite a line with a forged one.
 */

// C0 controls (TAB, CR and LF included: a printed line is one line), DEL, C1 controls (a terminal
// may take U+009B as CSI), the line and paragraph separators, and every Bidi_Control character: the
// explicit embeddings, overrides and isolates, which reorder the rest of the line, and the implicit
// marks U+200E, U+200F and U+061C, which a terminal that lays out bidi text (VTE, Konsole, mlterm)
// lets move the punctuation and digits around them (SECURITY.md refuses all of them in names; a
// message may carry them, and the marks reached the terminal raw: attack round 11, attack/co-user-text.ts).
// Zero-width joiners and tag characters stay: emoji sequences and flags are made of them.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const shown = (c: string): string => `<U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}>`;

// Invisible code points: format characters (Cf) and everything Unicode says to render as nothing (zero-width
// space, word joiner, BOM, soft hyphen, Hangul fillers, tag characters, variation selectors, interlinear
// annotation). They drive nothing, but two texts that differ by one look the same: a thread `news` and
// `news<U+200B>` listed by a hostile server, a message hiding text in tag characters. Kept where they make
// something visible: a ZWJ between pictographs (emoji sequences: a family, a profession), a joiner inside a
// word of a script whose letters join or form conjuncts (Persian writes ZWNJ between letters, Indic scripts
// ZWJ after a virama: `JOINING`), one variation selector after a character it has a variant of (the `…_BEFORE` bases below),
// and the tag run of a subdivision flag (🏴 then the tags of gbeng, gbsct or gbwls and CANCEL TAG). Each is judged by the
// few code points around it, so the cost stays linear (a pattern matching whole emoji sequences at every
// position took 62 µs a line: 40 s for 650,000 lines).
const INVISIBLE = /[\p{Cf}\p{Default_Ignorable_Code_Point}]/gu;
const PICTOGRAPH_BEFORE = /\p{Extended_Pictographic}[\u{1f3fb}-\u{1f3ff}\ufe0f]?$/u;
const PICTOGRAPH_AFTER = /^\p{Extended_Pictographic}/u;
// The scripts in which a ZWJ or ZWNJ changes how letters are drawn: the cursive ones (their letters join) and
// the Brahmic ones in use (conjuncts after a virama). Elsewhere (Latin, Greek, Cyrillic, Hebrew, Han, kana,
// Hangul, Thai, Armenian…) a terminal draws the same letters either side of one, so `news` and `ne`+ZWJ+`ws`,
// or `新闻` and `新`+ZWNJ+`闻`, looked alike. By Script_Extensions, so that the marks shared by several
// scripts (the Arabic harakat are Inherited) count as their words' and a combining accent on a Latin letter does not.
const JOINING = [
  'Arabic', 'Syriac', 'Nko', 'Mongolian', 'Mandaic', 'Manichaean', 'Psalter_Pahlavi', 'Phags_Pa', 'Adlam', 'Hanifi_Rohingya', 'Sogdian', 'Old_Uyghur', 'Chorasmian',
  'Devanagari', 'Bengali', 'Gurmukhi', 'Gujarati', 'Oriya', 'Tamil', 'Telugu', 'Kannada', 'Malayalam', 'Sinhala', 'Myanmar', 'Khmer', 'Balinese', 'Javanese', 'Sundanese', 'Tai_Tham',
]
  .map((script) => `\\p{scx=${script}}`)
  .join('');
const JOINING_LETTER_BEFORE = new RegExp(`(?=[\\p{L}\\p{M}])[${JOINING}]$`, 'u');
const JOINING_LETTER_AFTER = new RegExp(`^(?=[\\p{L}\\p{M}])[${JOINING}]`, 'u');
// The characters a variation selector may follow and change (emoji-variation-sequences.txt, StandardizedVariants.txt,
// the Ideographic Variation Database). After any other a selector changes nothing: `news` + U+FE0F, + U+FE00 or
// + U+E0100 looked like `news` (259 invisible variants of every name). The digits, # and * are emoji only as keycaps.
const EMOJI_PRESENTATION = /^[\ufe0e\ufe0f]$/u;
const EMOJI_BASE_BEFORE = /(?![#*0-9])\p{Emoji}$/u;
const KEYCAP_BASE_BEFORE = /[#*0-9]$/u;
const KEYCAP_AFTER = /^\u20e3/u;
const STANDARDIZED_VARIANT = /^[\ufe00-\ufe0d]$/u;
// The mathematical operators by block, not \p{Sm}: that has + < = > | ~, and `c++` + U+FE00 looked like `c++`.
const STANDARDIZED_BASE_BEFORE = /[\p{Ideographic}\u2200-\u22ff\u2a00-\u2aff\p{scx=Myanmar}\p{scx=Phags_Pa}\p{scx=Manichaean}\p{scx=Egyptian_Hieroglyphs}]$/u;
const IDEOGRAPHIC_VARIANT = /^[\u{e0100}-\u{e01ef}]$/u;
const IDEOGRAPH_BEFORE = /\p{Ideographic}$/u;
const MONGOLIAN_VARIANT = /^[\u180b-\u180d\u180f]$/u;
const MONGOLIAN_LETTER_BEFORE = /(?=\p{L})\p{scx=Mongolian}$/u;
const TAG = /^[\u{e0020}-\u{e007f}]$/u;
const TAG_RUN = /[\u{e0020}-\u{e007f}]+/uy;
const FLAG = '\u{1f3f4}';
/**
 * The tag runs of the subdivision flags a terminal's font draws (the RGI ones: England, Scotland, Wales). Any other
 * run after 🏴 is drawn as the bare flag: 🏴 followed by up to six tags and CANCEL TAG was kept whatever the tags,
 * so a message hid six characters of ASCII behind every flag it showed, as tag characters do (ASCII smuggling).
 */
const FLAG_TAGS: ReadonlySet<string> = new Set(
  ['gbeng', 'gbsct', 'gbwls'].map((region) => `${[...region].map((c) => String.fromCodePoint(0xe0000 + (c.codePointAt(0) ?? 0))).join('')}\u{e007f}`),
);

/** The tag run last met while showing one text: where it ends, and whether it is a subdivision flag's. */
interface TagRun {
  end: number;
  flag: boolean;
}

/** Whether the invisible `c` at `at` in `text` makes something visible there (see `INVISIBLE`). */
const visibleInContext = (c: string, at: number, text: string, tags: TagRun): boolean => {
  // Surrogate pairs: a code point takes at most 2 units, and the contexts are a code point or two.
  const before = text.slice(Math.max(0, at - 4), at);
  const after = text.slice(at + c.length, at + c.length + 2);
  if (c === '\u200d' && PICTOGRAPH_BEFORE.test(before) && PICTOGRAPH_AFTER.test(after)) return true;
  if ((c === '\u200c' || c === '\u200d') && JOINING_LETTER_BEFORE.test(before) && JOINING_LETTER_AFTER.test(after)) return true;
  if (EMOJI_PRESENTATION.test(c)) return EMOJI_BASE_BEFORE.test(before) || (KEYCAP_BASE_BEFORE.test(before) && KEYCAP_AFTER.test(after));
  if (STANDARDIZED_VARIANT.test(c)) return STANDARDIZED_BASE_BEFORE.test(before);
  if (IDEOGRAPHIC_VARIANT.test(c)) return IDEOGRAPH_BEFORE.test(before);
  if (MONGOLIAN_VARIANT.test(c)) return MONGOLIAN_LETTER_BEFORE.test(before);
  if (!TAG.test(c)) return false;
  // Matches come left to right, so the first tag met past the last run starts a new one: judged once, whole.
  if (at >= tags.end) {
    TAG_RUN.lastIndex = at;
    const run = TAG_RUN.exec(text)?.[0] ?? c;
    tags.end = at + run.length;
    tags.flag = text.slice(at - FLAG.length, at) === FLAG && FLAG_TAGS.has(run);
  }
  return tags.flag;
};

const showInvisible = (text: string): string => {
  const tags: TagRun = { end: -1, flag: false };
  return text.replace(INVISIBLE, (c: string, at: number) => (visibleInContext(c, at, text, tags) ? c : shown(c)));
};

/** How {@link terminalText} shows a text. */
export interface TerminalTextOptions {
  /**
   * Also show invisible characters as `<U+XXXX>` (see `INVISIBLE`: those of emoji sequences and of words in
   * joining scripts stay): for lines a person reads on a terminal, where a hidden character makes two texts
   * look alike. Off for output read by programs (a pipe), which keeps the server's words as they are.
   */
  readonly showInvisible?: boolean;
}

/**
 * `text` with every character that could drive the terminal shown as `<U+XXXX>` instead (ESC as `<U+001B>`),
 * and with `options.showInvisible`, the invisible ones too.
 */
export const terminalText = (text: string, options: TerminalTextOptions = {}): string => {
  const safe = text.replace(UNSAFE, shown);
  return options.showInvisible === true ? showInvisible(safe) : safe;
};
