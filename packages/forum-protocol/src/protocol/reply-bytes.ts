/**
 * A reply's UTF-8 JSON written once, straight into the buffer the transport
 * sends. `TextEncoder.encode(JSON.stringify(reply))` made the whole reply
 * twice more: its JSON text (a string as long as the reply, twice that for
 * text outside Latin-1) and then its bytes, so an RDT of a 4 MiB thread
 * built 8–12 MiB to send 4, and refused an oversized one only after
 * building it. Here each line is measured, the total checked against the
 * limit, one buffer of exactly that size allocated and the lines written
 * into it. The lines of a thread (`threadLines`) are written from its
 * entries' own strings, piece by piece: joining each line (as measuring or
 * writing it whole does) would copy the thread once more. So the reply's
 * bytes are its only copy. The bytes are those `JSON.stringify` gives, key
 * order included.
 *
 * Lines written from a value that never changes (a thread) may be cached
 * by it (encoded-lines-cache.ts): a reply of the same thread again copies
 * them between its own head and tail instead of encoding them.
 */
import { Buffer } from 'node:buffer';
import type { EncodedLinesCache } from './encoded-lines-cache.js';

/**
 * A string with none of the characters `JSON.stringify` escapes: a quote,
 * a backslash, controls, and lone surrogates (a piece with any surrogate is
 * simply stringified). Pieces of a line are escaped apart: they meet at
 * ASCII separators, so no surrogate pair spans two. Anchored, as a whole
 * match: V8 scans a Latin-1 string this way 2.5 times as fast as searching
 * it for one of them (2.2 ms against 5.6 for a 4 MB thread, which each reply
 * scans twice).
 */
const CLEAN = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;
/** What stands for the lines in the reply's JSON while the rest is stringified: no string value can contain it (its quotes would be escaped there). */
const LINES_KEY = '"lines":';
const PLACEHOLDER = 0;

/** `piece` as it stands between a JSON string's quotes: itself, or (rarely) its escaped copy. */
const escaped = (piece: string): string => (CLEAN.test(piece) ? piece : JSON.stringify(piece).slice(1, -1));

/** Writes each line of an array in pieces, in order: `line(i)` before line `i`'s pieces, which joined are line `i`. */
export type LinePieces = (line: (i: number) => void, visit: (piece: string) => void) => void;

/** How an array given to {@link writtenInPieces} is written, and what it may be cached by. */
interface Written {
  readonly pieces: LinePieces;
  readonly source: object | undefined;
}

/** How arrays given to {@link writtenInPieces} are written, while they live. */
const writtenOf = new WeakMap<readonly string[], Written>();

/**
 * `lines`, remembered to be written by `pieces` when encoded (a thread's
 * lines from its entries' own strings: `threadLines`). The pieces of a line
 * must meet at ASCII characters, as they are escaped apart. `source`: a
 * value that never changes and that these lines, and any others given with
 * it, are always the same function of (a thread); their encoded bytes may
 * then be cached by it.
 */
export const writtenInPieces = (lines: readonly string[], pieces: LinePieces, source?: object): readonly string[] => {
  writtenOf.set(lines, { pieces, source });
  return lines;
};

/** Calls `visit` with the pieces of line `i` of `lines`, for each line in order; `line` before each line's pieces. */
const forEachPiece = (lines: readonly string[], line: (i: number) => void, visit: (piece: string) => void): void => {
  const pieces = writtenOf.get(lines)?.pieces;
  if (pieces !== undefined) return pieces(line, visit);
  for (let i = 0; i < lines.length; i++) {
    line(i);
    visit(lines[i] as string);
  }
};

/** Pieces at least this long go to the buffer on their own; shorter ones are gathered first. */
const LONG_PIECE = 512;
/** Gathered pieces go to the buffer once they are this long: one call for many short lines, a copy this small at most. */
const GATHERED = 16 * 1024;

/**
 * Hands `flush` the reply's JSON text in order, short pieces gathered (a
 * native call per piece cost 5 ms for a thread of 10,000 one-word messages)
 * and long ones as they are (gathering a thread's texts would copy them).
 */
const gatherer = (flush: (text: string) => void): { readonly add: (text: string) => void; readonly end: () => void } => {
  let gathered = '';
  const end = (): void => {
    if (gathered === '') return;
    flush(gathered);
    gathered = '';
  };
  return {
    add: (text) => {
      if (text.length >= LONG_PIECE) {
        end();
        flush(text);
        return;
      }
      gathered += text;
      if (gathered.length >= GATHERED) end();
    },
    end,
  };
};

/** Gives `sink` the UTF-8 JSON text of the reply: `head`, the lines as JSON strings, `tail`. */
const emit = (lines: readonly string[], head: string, tail: string, sink: (text: string) => void): void => {
  const r = gatherer(sink);
  r.add(head);
  forEachPiece(
    lines,
    (i) => r.add(i > 0 ? '","' : '"'),
    (piece) => r.add(escaped(piece)),
  );
  if (lines.length > 0) r.add('"');
  r.add(tail);
  r.end();
};

/**
 * The UTF-8 JSON of `value` (an object with a `lines` array of strings), as
 * `TextEncoder.encode(JSON.stringify(value))` gives it, or `undefined`
 * without allocating it if it would be longer than `maxBytes` (then
 * `tooLarge` is called with its length). With `cache`, lines given a source
 * ({@link writtenInPieces}) are taken from it when there, and left in it
 * when encoded.
 */
export const encodeWithLines = (
  value: { readonly lines: readonly string[] },
  maxBytes: number,
  tooLarge: (bytes: number) => void = () => undefined,
  cache?: EncodedLinesCache,
): Uint8Array | undefined => {
  const frame = JSON.stringify({ ...value, lines: PLACEHOLDER });
  const at = frame.indexOf(`${LINES_KEY}${PLACEHOLDER}`);
  if (at < 0) throw new Error('reply without its lines');
  const head = `${frame.slice(0, at + LINES_KEY.length)}[`;
  const tail = `]${frame.slice(at + LINES_KEY.length + String(PLACEHOLDER).length)}`;
  const { lines } = value;
  const source = cache === undefined ? undefined : writtenOf.get(lines)?.source;
  const cached = source === undefined ? undefined : cache?.get(source);
  if (cached !== undefined) return framed(head, cached, tail, maxBytes, tooLarge);
  let size = 0;
  emit(lines, head, tail, (text) => (size += Buffer.byteLength(text, 'utf8')));
  if (size > maxBytes) {
    tooLarge(size);
    return undefined;
  }
  // Its own memory, exactly the reply's size (not a slice of Node's shared pool, which a small reply would pin).
  const out = Buffer.allocUnsafeSlow(size);
  let pos = 0;
  emit(lines, head, tail, (text) => (pos += out.write(text, pos, 'utf8')));
  // Every byte written: allocUnsafeSlow's memory is not zeroed.
  if (pos !== size) throw new Error(`reply encoded to ${pos} bytes, measured ${size}`);
  // The cache keeps a copy of the lines: this buffer goes to the transport.
  if (source !== undefined) cache?.set(source, out.subarray(Buffer.byteLength(head, 'utf8'), size - Buffer.byteLength(tail, 'utf8')));
  return out;
};

/** `head`, the encoded `lines`, `tail` in one buffer of their size, or `undefined` past `maxBytes` (as {@link encodeWithLines}). */
const framed = (head: string, lines: Uint8Array, tail: string, maxBytes: number, tooLarge: (bytes: number) => void): Uint8Array | undefined => {
  const headBytes = Buffer.byteLength(head, 'utf8');
  const size = headBytes + lines.length + Buffer.byteLength(tail, 'utf8');
  if (size > maxBytes) {
    tooLarge(size);
    return undefined;
  }
  const out = Buffer.allocUnsafeSlow(size);
  out.write(head, 0, 'utf8');
  out.set(lines, headBytes);
  out.write(tail, headBytes + lines.length, 'utf8');
  return out;
};
