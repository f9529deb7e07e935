import type { Socket } from 'node:net';

/** How a {@link SmallReadHold} holds a socket after a small read. */
export interface SmallReadHoldOptions {
  /** A read of fewer bytes than this holds the socket (well below one TCP segment). */
  readonly belowBytes: number;
  /** For how long, in milliseconds. */
  readonly ms: number;
  /** Calls `fn` after `ms` and returns how to cancel it; default `setTimeout` (a seam for tests). */
  readonly setTimer?: (fn: () => void, ms: number) => () => void;
}

/**
 * Default hold of a server's transfer channel: after a read under 512 bytes,
 * the socket is not read for 10 ms. A sender dribbling its upload one byte per TCP
 * segment then costs the server at most ~100 reads a second, not one read
 * (an event-loop turn, a push) per byte; a full-size read is never held.
 */
export const DEFAULT_SMALL_READ_HOLD: SmallReadHoldOptions = { belowBytes: 512, ms: 10 };

const defaultTimer = (fn: () => void, ms: number): (() => void) => {
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
};

/** What of a libuv stream handle (`socket._handle`) a hold uses: Node's own flag and calls for reading. */
interface ReadHandle {
  reading: boolean;
  readStop(): number;
  readStart(): number;
}

const readHandleOf = (socket: Socket): ReadHandle | undefined => {
  const h: unknown = (socket as unknown as { readonly _handle?: unknown })._handle;
  if (typeof h !== 'object' || h === null) return undefined;
  const r = h as Partial<ReadHandle>;
  return typeof r.reading === 'boolean' && typeof r.readStop === 'function' && typeof r.readStart === 'function' ? (h as ReadHandle) : undefined;
};

/**
 * Stops a socket's reads from the kernel for a moment after a small read,
 * so that the segments that follow are merged into one read: a read costs
 * the same (a wake-up, a system call, a buffer, a push) whatever its size.
 * `socket.pause()` would not do: a paused stream still reads, into its
 * buffer, up to its high-water mark. So the hold stops the handle's reading
 * as Node itself does under back-pressure, but leaves Node's `reading` flag
 * set, so that the stream's refill (`Socket._read`, which restarts reading
 * only when the flag is clear) does not end the hold early; back-pressure
 * during the hold still works (Node clears the flag and stops as usual once
 * reads resume). At most one hold at a time; it ends when the socket closes
 * or {@link SmallReadHold.cancel} is called. A socket without a libuv
 * handle is never held.
 */
export class SmallReadHold {
  private cancelTimer: (() => void) | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly options: SmallReadHoldOptions,
  ) {
    socket.once('close', () => this.cancel());
  }

  /** After a read of `bytes` of a stream not finished yet, holds the socket if the read was small. */
  afterRead(bytes: number): void {
    if (bytes >= this.options.belowBytes || this.cancelTimer !== undefined || this.socket.destroyed) return;
    const handle = readHandleOf(this.socket);
    // Not reading: stopped already for back-pressure, and restarted by the stream when it wants more.
    if (handle === undefined || !handle.reading || handle.readStop() !== 0) return;
    this.cancelTimer = (this.options.setTimer ?? defaultTimer)(() => {
      this.cancelTimer = undefined;
      if (!this.socket.destroyed && readHandleOf(this.socket) === handle && handle.reading) handle.readStart();
    }, this.options.ms);
  }

  /** Ends a hold without reading again (the socket is closing). */
  cancel(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }
}
