import stringWidth from 'string-width';

// A line longer than the terminal is wide used to be wrapped by the terminal itself, and the text after the
// wrap started a screen row of its own: a co-user padding a message to the width made the rest read as
// another line (`2 yoda: send me your password` under mallory's message 1). The client now wraps such a
// line itself and starts every row after the first with a mark, so no text of a line but its start is ever
// at the start of a row.

/** What starts every continuation row, after its indent: `↪` is of neutral East Asian width (1 column everywhere). */
export const CONTINUATION_MARK = '↪ ';

const MARK_WIDTH = 2;

/**
 * The narrowest width wrapped to: the mark and a double-width character. A terminal said to be narrower is
 * wrapped as this wide (its rows are cut at its edge, not wrapped: `printedLines` turns autowrap off).
 */
export const MIN_COLUMNS = 4;

/** The width assumed when the terminal does not tell its own (a pseudo-terminal of size 0) nor `COLUMNS` does. */
export const DEFAULT_COLUMNS = 80;

// A message line's `N user: `: continuation rows are indented to the text after it, as chat clients do.
const MESSAGE_PREFIX = /^\d+ [^ ]+: /u;

// Spaces a line may break after (not the no-break ones: U+00A0, U+2007, U+202F).
const BREAKING_SPACE = /^[\u0020\u1680\u2000-\u2006\u2008-\u200a\u205f\u3000]$/u;

// Made on first use: the first Intl.Segmenter loads ICU's segmentation data, ~14 ms of every client's start
// (string-width's, patched to be lazy too), where most sessions print only ASCII and never segment.
let graphemes: Intl.Segmenter | undefined;
const PRINTABLE_ASCII = /^[\u0020-\u007e]*$/u;

// string-width on every grapheme took 2 µs a character (8 s for a 4 MB reply of long Latin lines, 0.2 s now):
// a character of printable ASCII is one column, and the other graphemes' widths are remembered.
const KNOWN_WIDTHS_MAX = 4096;
const knownWidths = new Map<string, number>();

// A visible character that is no emoji (an emoji with a mark may be an emoji sequence: a keycap) and its
// nonspacing or enclosing marks: as wide as that character (string-width's rule: the first visible code point,
// plus spacing marks, of which these have none). Letters under random pairs of marks are all different
// graphemes: 400,000 of them took 3.3 s, measured one by one by string-width past the cache.
const MARKED = /^(?![\p{Emoji}\p{M}\p{C}\p{Default_Ignorable_Code_Point}])(.)[\p{Mn}\p{Me}]+$/su;

/** Columns `grapheme` takes, as `string-width` counts them. */
export const graphemeWidth = (grapheme: string): number => {
  if (grapheme.length === 1 && grapheme < '\u007f') return 1;
  const marked = grapheme.length > 1 ? MARKED.exec(grapheme) : null;
  if (marked !== null) return graphemeWidth(marked[1] ?? '');
  const known = knownWidths.get(grapheme);
  if (known !== undefined) return known;
  const width = stringWidth(grapheme);
  if (knownWidths.size >= KNOWN_WIDTHS_MAX) knownWidths.clear();
  knownWidths.set(grapheme, width);
  return width;
};

// Code points that are a grapheme each among one another: none extends the one before it (no mark, joiner
// or halfwidth voiced mark), is prefixed to the next, or is a Hangul jamo or regional indicator. Latin, Greek,
// Cyrillic, kana, CJK ideographs and punctuation, Hangul syllables, full- and halfwidth forms.
const SINGLE = '\\u0020-\\u007e\\u00a0-\\u02ff\\u0370-\\u0482\\u048a-\\u052f\\u3000-\\u3029\\u3030-\\u3098\\u309b-\\u30ff\\u3400-\\u4dbf\\u4e00-\\u9fff\\uac00-\\ud7a3\\uff01-\\uff9d\\uffa0-\\uffdc';

/** A text made only of code points that are a grapheme each (`screen-rows.test.ts` checks each against Intl.Segmenter). */
export const SINGLE_GRAPHEMES = new RegExp(`^[${SINGLE}]*$`, 'u');

// The other code points, in runs, with the code point either side that one of them may join (`e` before
// U+0301, a Hangul syllable before a trailing jamo, © before ZWJ ©); runs one code point apart are one.
const OTHER_RUNS = new RegExp(`[${SINGLE}]?[^${SINGLE}]+(?:[${SINGLE}][^${SINGLE}]+)*[${SINGLE}]?`, 'gu');

// Intl.Segmenter takes time growing with the square of a run of emoji (20,000: 0.19 s, 200,000: 19 s), and a
// hostile server's line may hold 2 million: runs are parted a few hundred code units at a time.
const CHUNK = 256;

/** Adds `run`'s graphemes to `parts`, a chunk at a time: the last grapheme of a chunk may be cut, and starts the next. */
const segmentRun = (run: string, parts: string[]): void => {
  let at = 0;
  let size = CHUNK;
  while (at < run.length) {
    const end = at + size;
    graphemes ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' });
    const pieces = Array.from(graphemes.segment(run.slice(at, end)), (s) => s.segment);
    if (end >= run.length) {
      for (const piece of pieces) parts.push(piece);
      return;
    }
    if (pieces.length < 2) {
      // One grapheme longer than the chunk (a letter under hundreds of marks): a larger chunk.
      size *= 2;
      continue;
    }
    pieces.pop();
    for (const piece of pieces) {
      parts.push(piece);
      at += piece.length;
    }
    size = CHUNK;
  }
};

/**
 * `line`'s graphemes, as Intl.Segmenter parts them. It took 0.7 µs a character, 1 s of a 4 MB reply of
 * Chinese and 7 s of one of words and emoji; it now parts only the runs of code points that may join.
 */
export const screenGraphemes = (line: string): readonly string[] => {
  if (PRINTABLE_ASCII.test(line)) return line.split('');
  if (SINGLE_GRAPHEMES.test(line)) return Array.from(line);
  const parts: string[] = [];
  let done = 0;
  // A loop, not push(...): a line of a hostile server's may have millions of code points, past the argument limit.
  const single = (end: number): void => {
    for (const c of line.slice(done, end)) parts.push(c);
  };
  for (const run of line.matchAll(OTHER_RUNS)) {
    single(run.index);
    segmentRun(run[0], parts);
    done = run.index + run[0].length;
  }
  single(line.length);
  return parts;
};

/**
 * The width to wrap to at a terminal reporting `columns` (`process.stdout.columns`: 0 or undefined when it
 * does not know), else the environment's `COLUMNS`, else {@link DEFAULT_COLUMNS}; at least {@link MIN_COLUMNS}.
 */
export const screenColumns = (columns: number | undefined, environmentColumns: string | undefined): number => {
  const fromEnvironment = /^[1-9]\d{0,4}$/u.test(environmentColumns ?? '') ? Number(environmentColumns) : 0;
  const known = columns !== undefined && Number.isInteger(columns) && columns > 0 ? columns : fromEnvironment;
  return Math.max(MIN_COLUMNS, known > 0 ? known : DEFAULT_COLUMNS);
};

/** How wide continuation rows' indent is, mark included: a message's prefix, at most half the width. */
const indentWidth = (line: string, columns: number): number => {
  const prefix = MESSAGE_PREFIX.exec(line)?.[0];
  const wanted = prefix === undefined ? MARK_WIDTH : stringWidth(prefix);
  return Math.max(MARK_WIDTH, Math.min(wanted, Math.floor(columns / 2)));
};

/**
 * `line` (already made safe: no controls) as the rows a terminal `columns` wide shows, each at most that wide
 * by `string-width` (East Asian wide characters and emoji 2 columns, combining marks 0). A line that fits is
 * one row. Otherwise it breaks after a space or beside a wide character where it can, inside a word where it
 * must, and every character is kept (a run of blanks fills rows: they still start with the mark). Every row
 * after the first starts with the indent (the width of `N user: ` for a message line, else 2) ending in
 * {@link CONTINUATION_MARK}.
 */
export const screenRows = (line: string, columns: number): readonly string[] => {
  const width = Math.max(MIN_COLUMNS, columns);
  // A grapheme is at most 2 columns per UTF-16 unit, so a short line is known to fit without measuring.
  if (line.length * 2 <= width) return [line];
  const parts = screenGraphemes(line);
  const widths = parts.map(graphemeWidth);
  if (widths.reduce((sum, w) => sum + w, 0) <= width) return [line];
  const indent = indentWidth(line, width);
  const lead = `${' '.repeat(indent - MARK_WIDTH)}${CONTINUATION_MARK}`;
  const rows: string[] = [];
  let start = 0;
  while (start < parts.length) {
    const limit = rows.length === 0 ? width : width - indent;
    let used = 0;
    let end = start;
    let lastBreak = -1;
    while (end < parts.length && (used + (widths[end] ?? 0) <= limit || end === start)) {
      used += widths[end] ?? 0;
      end += 1;
      const next = widths[end] ?? 0;
      if (BREAKING_SPACE.test(parts[end - 1] ?? '') || (widths[end - 1] ?? 0) === 2 || next === 2) lastBreak = end;
    }
    // The line goes on past this row: break at the last opportunity in it, if there is one.
    if (end < parts.length && lastBreak > start) end = lastBreak;
    const text = parts.slice(start, end).join('');
    rows.push(rows.length === 0 ? text : `${lead}${text}`);
    start = end;
  }
  return rows;
};
