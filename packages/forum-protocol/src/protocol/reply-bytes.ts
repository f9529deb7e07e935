/**
 * A reply's UTF-8 JSON written once, straight into the buffer the transport
 * sends. `TextEncoder.encode(JSON.stringify(reply))` made the whole reply
 * twice more: its JSON text (a string as long as the reply, twice that for
 * text outside Latin-1) and then its bytes, so an RDT of a 4 MiB thread
 * built 8–12 MiB to send 4, and refused an oversized one only after
 * building it. Here each line is measured, the total checked against the
 * limit, one buffer of exactly that size allocated and the lines written
 * into it: the reply's bytes are its only copy (besides the lines given).
 * The bytes are those `JSON.stringify` gives, key order included.
 */
import { Buffer } from 'node:buffer';

/** Characters `JSON.stringify` escapes in a string: a quote, a backslash, controls, and surrogates (lone ones are escaped; a line with a pair is simply stringified). */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
/** What stands for the lines in the reply's JSON while the rest is stringified: no string value can contain it (its quotes would be escaped there). */
const LINES_KEY = '"lines":';
const PLACEHOLDER = 0;

/** UTF-8 bytes of `line` as a JSON string, quotes included. */
const lineBytes = (line: string): number =>
  NEEDS_ESCAPE.test(line) ? Buffer.byteLength(JSON.stringify(line), 'utf8') : Buffer.byteLength(line, 'utf8') + 2;

/** Writes `line` as a JSON string at `pos` of `out`; returns the position after it. */
const writeLine = (out: Buffer, pos: number, line: string): number => {
  if (NEEDS_ESCAPE.test(line)) return pos + out.write(JSON.stringify(line), pos, 'utf8');
  out[pos] = 0x22;
  const end = pos + 1 + out.write(line, pos + 1, 'utf8');
  out[end] = 0x22;
  return end + 1;
};

/**
 * The UTF-8 JSON of `value` (an object with a `lines` array of strings), as
 * `TextEncoder.encode(JSON.stringify(value))` gives it, or `undefined`
 * without allocating it if it would be longer than `maxBytes` (then
 * `tooLarge` is called with its length).
 */
export const encodeWithLines = (
  value: { readonly lines: readonly string[] },
  maxBytes: number,
  tooLarge: (bytes: number) => void = () => undefined,
): Uint8Array | undefined => {
  const frame = JSON.stringify({ ...value, lines: PLACEHOLDER });
  const at = frame.indexOf(`${LINES_KEY}${PLACEHOLDER}`);
  if (at < 0) throw new Error('reply without its lines');
  const head = `${frame.slice(0, at + LINES_KEY.length)}[`;
  const tail = `]${frame.slice(at + LINES_KEY.length + String(PLACEHOLDER).length)}`;
  const { lines } = value;
  let size = Buffer.byteLength(head, 'utf8') + Buffer.byteLength(tail, 'utf8') + Math.max(0, lines.length - 1);
  for (const line of lines) size += lineBytes(line);
  if (size > maxBytes) {
    tooLarge(size);
    return undefined;
  }
  // Its own memory, exactly the reply's size (not a slice of Node's shared pool, which a small reply would pin).
  const out = Buffer.allocUnsafeSlow(size);
  let pos = out.write(head, 0, 'utf8');
  for (let i = 0; i < lines.length; i++) {
    if (i > 0) out[pos++] = 0x2c;
    pos = writeLine(out, pos, lines[i] as string);
  }
  pos += out.write(tail, pos, 'utf8');
  // Every byte written: allocUnsafeSlow's memory is not zeroed.
  if (pos !== size) throw new Error(`reply encoded to ${pos} bytes, measured ${size}`);
  return out;
};
