import { writtenInPieces } from '../protocol/reply-bytes.js';

/** One line of a thread after the creator line. */
export type ThreadEntry =
  | { readonly kind: 'message'; readonly author: string; readonly text: string }
  | { readonly kind: 'upload'; readonly uploader: string; readonly filename: string }
  /** A line of a hand-written file that is neither; kept verbatim so a rewrite never loses it. */
  | { readonly kind: 'other'; readonly line: string };

/** A thread: its title (the file name), its creator, and its entries in order. */
export interface Thread {
  readonly title: string;
  readonly creator: string;
  readonly entries: readonly ThreadEntry[];
}

/**
 * The lines RDT shows: messages numbered from 1 in order (`N user: text`), upload lines not numbered.
 * The array remembers how to write them from the entries ({@link forEachLinePiece}), so a reply of them
 * is encoded without joining each line into a copy of its own (protocol/reply-bytes.ts).
 */
export const threadLines = (thread: Thread): readonly string[] => {
  let n = 0;
  const lines = thread.entries.map((e) => entryLine(e, e.kind === 'message' ? ++n : n));
  // A thread is never changed (a change makes a new one): its entries are still these lines when written, and
  // the thread value may stand for their encoded bytes (a cache of them by thread: encoded-lines-cache.ts).
  return writtenInPieces(
    lines,
    (line, visit) => {
      let m = 0;
      thread.entries.forEach((e, i) => {
        if (e.kind === 'message') m++;
        line(i);
        forEachLinePiece(e, m, visit);
      });
    },
    thread,
  );
};

/**
 * Calls `visit` with the pieces of `e`'s line (message `n`) in order, which
 * joined are {@link entryLine}: a message's number and space, author, `: `
 * and text; an upload's uploader, ` uploaded ` and file name. The pieces
 * are the entry's own strings, not a new line.
 */
export const forEachLinePiece = (e: ThreadEntry, n: number, visit: (piece: string) => void): void => {
  switch (e.kind) {
    case 'message':
      visit(`${n} `);
      visit(e.author);
      visit(': ');
      visit(e.text);
      return;
    case 'upload':
      visit(e.uploader);
      visit(' uploaded ');
      visit(e.filename);
      return;
    case 'other':
      visit(e.line);
  }
};

/** The exact bytes of a thread file: the creator line, then {@link threadLines}, each ending in `\n`. */
export const formatThreadFile = (thread: Thread): string => [thread.creator, ...threadLines(thread)].map((l) => `${l}\n`).join('');

/**
 * The part of the thread file from entry `from` on (`from` = 0 includes no
 * creator line; the creator line is `formatThreadFile` minus this for `from` = 0):
 * the lines of entries `from…`, numbered as in the whole thread, each ending in `\n`.
 */
export const formatEntriesFrom = (thread: Thread, from: number): string => {
  let out = '';
  forEachLine(thread, from, thread.entries.length, (e, n) => {
    out += `${entryLine(e, n)}\n`;
  });
  return out;
};

/** Calls `visit` with entries `start…end−1` and their message numbers in the whole thread (an upload line keeps the last one). */
const forEachLine = (thread: Thread, start: number, end: number, visit: (e: ThreadEntry, n: number) => void): void => {
  let n = 0;
  for (let i = 0; i < start && i < thread.entries.length; i++) if (thread.entries[i]?.kind === 'message') n += 1;
  for (let i = start; i < end && i < thread.entries.length; i++) {
    const e = thread.entries[i] as ThreadEntry;
    if (e.kind === 'message') n += 1;
    visit(e, n);
  }
};

/** UTF-8 bytes of the lines of entries `start…end−1`, each with its newline, counted without building them. */
const linesBytes = (thread: Thread, start: number, end: number): number => {
  let bytes = 0;
  forEachLine(thread, start, end, (e, n) => {
    bytes += entryLineBytes(e, n);
  });
  return bytes;
};

/** UTF-8 bytes of the thread file before entry `from`: the creator line and the lines of entries `0…from−1`. */
export const bytesBeforeEntry = (thread: Thread, from: number): number => Buffer.byteLength(thread.creator, 'utf8') + 1 + linesBytes(thread, 0, from);

/** UTF-8 bytes of {@link formatEntriesFrom}`(thread, from)`, counted without building it. */
export const bytesFromEntry = (thread: Thread, from: number): number => linesBytes(thread, from, thread.entries.length);

/** UTF-8 bytes of {@link entryLine}`(e, n)` and its newline, counted without building the line. */
const entryLineBytes = (e: ThreadEntry, n: number): number => {
  switch (e.kind) {
    case 'message':
      return String(n).length + 1 + Buffer.byteLength(e.author, 'utf8') + 2 + Buffer.byteLength(e.text, 'utf8') + 1;
    case 'upload':
      return Buffer.byteLength(e.uploader, 'utf8') + ' uploaded '.length + Buffer.byteLength(e.filename, 'utf8') + 1;
    case 'other':
      return Buffer.byteLength(e.line, 'utf8') + 1;
  }
};

/** The line of entry `e` (a message numbered `n`) as RDT shows it and the thread file holds it, without its newline. */
export const entryLine = (e: ThreadEntry, n: number): string => {
  switch (e.kind) {
    case 'message':
      return `${n} ${e.author}: ${e.text}`;
    case 'upload':
      return `${e.uploader} uploaded ${e.filename}`;
    case 'other':
      return e.line;
  }
};

// What the store writes: the author is everything between the number and the
// first ": " that ends the first space-free run (a user name has no spaces, so
// a name like `bob:` or `a:b` is read back whole), and the text is the rest of
// the line, any character but \n included (U+2028 too: `.` would stop there).
const MESSAGE_LINE = /^([0-9]+) (\S+): ([^]*)$/;
// Hand-written files only (never matched first by a line the store wrote): leading spaces, no space after the colon.
const LOOSE_MESSAGE_LINE = /^\s*[0-9]+ (\S+?): ?([^]*)$/;
const UPLOAD_LINE = /^(\S+) uploaded (\S+)$/;

/** One line of a thread file after the creator line, as an entry; `undefined` for a blank line. */
export const parseEntryLine = (line: string): ThreadEntry | undefined => {
  if (line.trim() === '') return undefined;
  const m = MESSAGE_LINE.exec(line) ?? LOOSE_MESSAGE_LINE.exec(line);
  if (m !== null) return m.length === 4 ? { kind: 'message', author: m[2] ?? '', text: m[3] ?? '' } : { kind: 'message', author: m[1] ?? '', text: m[2] ?? '' };
  const u = UPLOAD_LINE.exec(line);
  if (u !== null) return { kind: 'upload', uploader: u[1] ?? '', filename: u[2] ?? '' };
  return { kind: 'other', line };
};

/**
 * Parses a thread file, tolerantly: CRLF or LF, with or without a final
 * newline; message numbers are ignored (messages are renumbered by position);
 * unrecognised lines are kept as `other`. Lines end only at `\n` (an optional
 * `\r` before it is dropped), never at U+2028, U+2029 or a lone `\r`.
 * Returns `undefined` when the first line is not a plausible user name (one
 * word), i.e. the file is not a thread.
 */
export const parseThreadFile = (title: string, text: string): Thread | undefined => {
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const creator = lines[0]?.trim();
  if (creator === undefined || creator === '' || /\s/.test(creator)) return undefined;
  const entries = lines.slice(1).flatMap((line): ThreadEntry[] => {
    const e = parseEntryLine(line);
    return e === undefined ? [] : [e];
  });
  return { title, creator, entries };
};

// A lone surrogate would be written as U+FFFD: two different strings, one stored value.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why `s` cannot be kept in a line-based UTF-8 file exactly as it is (a lone surrogate, a line break, a NUL), or `undefined`. */
export const lineTextProblem = (what: string, s: string): string | undefined => {
  if (LONE_SURROGATE.test(s)) return `${what} is not well-formed Unicode (a lone surrogate)`;
  if (s.includes('\n') || s.includes('\r')) return `${what} contains a line break (\\n or \\r)`;
  if (s.includes('\u0000')) return `${what} contains a NUL character`;
  return undefined;
};

/** Why `s` cannot be stored as a one-word field (user name, file name in a line), or `undefined`. */
export const wordProblem = (what: string, s: string): string | undefined => {
  if (s.length === 0) return `${what} is empty`;
  if (/\s/.test(s)) return `${what} contains white space`;
  return lineTextProblem(what, s);
};

const sameEntry = (a: ThreadEntry, b: ThreadEntry | undefined): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * Why entries `from…` of `thread` (and its creator) would not read back from
 * the thread file exactly as they are, or `undefined` when they would: every
 * string well-formed and free of line breaks and NULs, names one word, and
 * each line parsing back to the same entry. Entries in `readsBack` are
 * skipped: the caller read them from a file whose bytes are exactly what the
 * store would write for them, so their lines read back wherever they move (a
 * line's number never changes what it parses to), and an edit of the first
 * message of a large thread checks one entry, not all.
 */
export const threadStoreProblem = (thread: Thread, from = 0, readsBack?: ReadonlySet<ThreadEntry>): string | undefined => {
  const creator = wordProblem('the creator name', thread.creator);
  if (creator !== undefined) return creator;
  for (let i = from; i < thread.entries.length; i++) {
    const e = thread.entries[i] as ThreadEntry;
    if (readsBack?.has(e) === true) continue;
    const problem =
      e.kind === 'message'
        ? (wordProblem('the author name', e.author) ?? lineTextProblem('the message text', e.text))
        : e.kind === 'upload'
          ? (wordProblem('the uploader name', e.uploader) ?? wordProblem('the file name', e.filename))
          : lineTextProblem('the line', e.line);
    if (problem !== undefined) return problem;
    if (!sameEntry(e, parseEntryLine(entryLine(e, 1)))) return `entry ${i + 1} would not read back as the same ${e.kind === 'other' ? 'line' : e.kind}`;
  }
  return undefined;
};

/** How many of the thread's entries are messages: the last message's number. */
export const messageCount = (thread: Thread): number => {
  let n = 0;
  for (const e of thread.entries) if (e.kind === 'message') n += 1;
  return n;
};

/** Index into `entries` of message number `n` (1-based), or -1. */
export const messageIndex = (thread: Thread, n: number): number => {
  let seen = 0;
  for (let i = 0; i < thread.entries.length; i++) {
    if (thread.entries[i]?.kind === 'message') {
      seen += 1;
      if (seen === n) return i;
    }
  }
  return -1;
};

/** True when `filename` has an upload line in the thread. */
export const hasUpload = (thread: Thread, filename: string): boolean =>
  thread.entries.some((e) => e.kind === 'upload' && e.filename === filename);

/** The file name an upload is stored under in the data directory: `TITLE-FILENAME`. */
/**
 * Whether `a` and `b` have the same upload lines in the same order (only UPD and RMV may change them: they
 * name files). The file store asks it of every change, a MSG too, so it walks the entries rather than
 * serializing them: an update passes on the entries it keeps as the same objects, a pointer compare each.
 * Both lists serialized took milliseconds a MSG to a thread of 3,000 uploads (attack round 15).
 */
export const sameUploadLines = (a: Thread, b: Thread): boolean => {
  const x = a.entries;
  const y = b.entries;
  let i = 0;
  let j = 0;
  for (;;) {
    while (i < x.length && x[i]?.kind !== 'upload') i++;
    while (j < y.length && y[j]?.kind !== 'upload') j++;
    const u = x[i];
    const v = y[j];
    if (u === undefined || v === undefined) return u === v;
    if (u !== v && (u.kind !== 'upload' || v.kind !== 'upload' || u.uploader !== v.uploader || u.filename !== v.filename)) return false;
    i++;
    j++;
  }
};

export const uploadFileName = (title: string, filename: string): string => `${title}-${filename}`;
