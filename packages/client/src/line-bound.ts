import { Transform, type TransformCallback } from 'node:stream';

/**
 * The longest line read from a file or pipe (bytes): past any answer or command the server takes (a request is
 * at most the connection's message size, tens of KiB), so a longer one is a mistake (`< /dev/zero`, a binary file).
 */
export const MAX_INPUT_LINE_BYTES = 1024 * 1024;

/** What stderr says of such a line (then where it stopped the session). */
export const OVERLONG_TEXT = `Input line over ${MAX_INPUT_LINE_BYTES / 1024 / 1024} MiB (no answer or command is that long): the rest of the input is not read`;

/**
 * Passes the input on a whole line at a time, holding at most `max` bytes of a line not yet ended, and ends
 * its output at a line longer than that (`onOverlong` called first). readline gathers a line without bound:
 * `< /dev/zero` grew it to V8's longest string (some 1 GB), then the client crashed. Lines before the long one
 * still reach readline, and none of the long one does (not even as an unterminated last line).
 */
export class LineBound extends Transform {
  private readonly held: Buffer[] = [];
  private heldBytes = 0;
  private over = false;

  constructor(
    private readonly max: number,
    private readonly onOverlong: () => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.over) return done();
    const last = chunk.lastIndexOf(0x0a);
    // The longest line that ends in this chunk: the held part and this chunk's first line, or one within it.
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0 && nl <= last; nl = chunk.indexOf(0x0a, start)) {
      if ((start === 0 ? this.heldBytes : 0) + nl - start > this.max) return this.overlong(chunk, start, done);
      start = nl + 1;
    }
    const rest = chunk.length - (last + 1);
    if ((last < 0 ? this.heldBytes : 0) + rest > this.max) return this.overlong(chunk, last + 1, done);
    if (last >= 0) {
      this.push(Buffer.concat([...this.held, chunk.subarray(0, last + 1)]));
      this.held.length = 0;
      this.heldBytes = 0;
    }
    if (rest > 0) {
      this.held.push(chunk.subarray(last + 1));
      this.heldBytes += rest;
    }
    done();
  }

  /** The input's end: its unterminated last line is a line like any other. */
  override _flush(done: TransformCallback): void {
    if (!this.over && this.heldBytes > 0) this.push(Buffer.concat(this.held));
    done();
  }

  /** A line past the bound begins at `lineStart` of `chunk`: the lines ended before it are passed on, then the output ends. */
  private overlong(chunk: Buffer, lineStart: number, done: TransformCallback): void {
    this.over = true;
    if (lineStart > 0) this.push(Buffer.concat([...this.held, chunk.subarray(0, lineStart)]));
    this.held.length = 0;
    this.heldBytes = 0;
    this.onOverlong();
    this.push(null);
    done();
  }
}
