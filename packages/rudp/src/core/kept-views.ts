/**
 * Views of one module-level scratch buffer, kept by range: a typed-array
 * view is a heap object, and the ranges a packet path asks for repeat (a
 * connection's packets come in a few sizes), so the last view handed out
 * for each slot (`end % slots`) is handed out again while the same range
 * is asked for. A view is valid until the buffer is next written.
 */
export class KeptViews {
  private readonly views: (Uint8Array | undefined)[];

  /** `slots`: a power of two. */
  constructor(
    private readonly buffer: Uint8Array,
    slots: number,
  ) {
    this.views = new Array<Uint8Array | undefined>(slots).fill(undefined);
  }

  /** `buffer[start, end)`: the view handed out last time when its slot still holds exactly this range. */
  view(start: number, end: number): Uint8Array {
    const slot = end & (this.views.length - 1);
    const v = this.views[slot];
    if (v !== undefined && v.byteOffset === start && v.length === end - start) return v;
    const fresh = this.buffer.subarray(start, end);
    this.views[slot] = fresh;
    return fresh;
  }
}
