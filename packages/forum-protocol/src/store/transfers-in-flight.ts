import type { Readable, Writable } from 'node:stream';
import { toIoError, type IoError, type NoThreadError, type UploadStorageFullError } from './errors.js';
import type { UploadError } from './store.js';
import type { ThreadIncarnation } from './thread-incarnations.js';

/**
 * Why a transfer is stopped before its own end: its thread removed, or (an upload) the store's room for
 * uploads spent, or a part of it the store could not write (a database statement past its time limit).
 */
export type StopReason = NoThreadError | UploadStorageFullError | IoError;

/**
 * How one transfer (an upload being received, a download being read) is
 * stopped before its own end: its store lets go of its bytes (`discard`: an
 * upload's received bytes deleted, a download's file handle closed), then
 * {@link TransferStop.stopped} settles with the refusal, so that whoever
 * feeds or drains the transfer stops and says why. Once the transfer's own
 * end has begun (an upload's commit, a download's last byte read) it is no
 * longer stopped: an upload's commit checks the thread itself, under the
 * store's lock, and a download read whole is the file as it was.
 */
export class TransferStop<R extends StopReason = NoThreadError> {
  /** Settles with the refusal once the transfer was stopped and its bytes let go; pending until then. Never rejects. */
  readonly stopped: Promise<R>;
  private settle: (reason: R) => void = () => undefined;
  private why: R | undefined;
  private ending = false;

  constructor(private readonly discard: () => Promise<void>) {
    this.stopped = new Promise((resolve) => (this.settle = resolve));
  }

  /** Why the transfer was stopped, `undefined` while it was not: what an upload's commit then refuses with. */
  get reason(): R | undefined {
    return this.why;
  }

  /** The transfer's own end begins: from now on it, not a stop, decides (a stop would pull an upload's bytes away mid-commit). */
  endBegins(): void {
    this.ending = true;
  }

  /** Stops the transfer for `reason` unless its end has begun or it was stopped already; resolves once its bytes are let go. */
  async stop(reason: R): Promise<void> {
    if (this.ending || this.why !== undefined) return;
    this.why = reason;
    await this.discard().catch(() => undefined);
    this.settle(reason);
  }
}

/** What {@link endUploadStream} needs of one upload. */
export interface UploadEnd {
  readonly stop: { endBegins(): void; readonly reason: StopReason | undefined; readonly stopped: Promise<unknown> };
  /** Takes the upload out of {@link TransfersInFlight}. */
  readonly forget: () => void;
  readonly aborted: boolean;
  readonly stream: Writable;
  /** Settles once the stream is done: `null` if its bytes are all stored, else why not. */
  readonly done: Promise<Error | null>;
  /** Lets go of the bytes received. */
  readonly discard: () => Promise<void>;
  /** The refusal for a stream that failed with `e` (default: an `io` error). */
  readonly failure?: (e: Error) => UploadError;
}

/**
 * The first step of every store's upload commit: from here the commit decides (a stop could otherwise
 * pull the bytes away mid-commit), so an upload stopped or aborted before is refused, else its stream is
 * ended and awaited, a failed one's bytes let go. The refusal, or `undefined` to go on and commit.
 */
export const endUploadStream = async (u: UploadEnd): Promise<UploadError | undefined> => {
  u.stop.endBegins();
  u.forget();
  // Stopped: refused once the stop has let go of the bytes (they would otherwise outlive the refusal a moment).
  if (u.stop.reason !== undefined) {
    await u.stop.stopped;
    return u.stop.reason;
  }
  if (u.aborted) return { kind: 'io', message: 'upload was aborted' };
  if (!u.stream.writableEnded) u.stream.end();
  const err = await u.done;
  if (err === null) return undefined;
  await u.discard();
  return (u.failure ?? toIoError)(err);
};

interface InFlight {
  readonly incarnation: ThreadIncarnation;
  // What RMV needs of any transfer's stop, whatever else the transfer may be stopped for.
  readonly stop: { stop(reason: NoThreadError): Promise<void> };
}

/**
 * The transfers one store process is running (uploads being received,
 * downloads being read), by thread, so that RMV stops those of the thread it
 * removed at once (an upload's bytes discarded, a download's file closed so
 * its disk is freed; the peer told) instead of letting them run to their end.
 * Only this process's transfers: a store shared by several servers
 * (PostgreSQL) learns of another server's RMV at its next read or write.
 */
export class TransfersInFlight {
  private readonly byTitle = new Map<string, Set<InFlight>>();

  /** Registers a transfer begun for `incarnation` of `title`; returns what forgets it (call when it ends, whichever way). */
  add(title: string, incarnation: ThreadIncarnation, stop: InFlight['stop']): () => void {
    const entry: InFlight = { incarnation, stop };
    const set = this.byTitle.get(title) ?? new Set<InFlight>();
    set.add(entry);
    this.byTitle.set(title, set);
    return () => {
      set.delete(entry);
      if (set.size === 0 && this.byTitle.get(title) === set) this.byTitle.delete(title);
    };
  }

  /**
   * Registers a download of `incarnation` of `title` read from `stream`, and
   * returns its stop: RMV stops it by destroying the stream, and waits for it
   * to close (a file's handle, and so the removed file's disk, is let go
   * then); read whole (the last byte handed on), it is the file as it was,
   * and no longer stopped; closed either way, it is forgotten.
   */
  addDownload(title: string, incarnation: ThreadIncarnation, stream: Readable): TransferStop {
    const closed = new Promise<void>((resolve) => stream.once('close', () => resolve()));
    const stop = new TransferStop(async () => {
      stream.destroy();
      await closed;
    });
    const forget = this.add(title, incarnation, stop);
    stream.once('end', () => stop.endBegins());
    void closed.then(forget);
    return stop;
  }

  /**
   * Stops every transfer begun for `incarnation` of `title`, which was just
   * removed, with `reason`; resolves once each has let go of its bytes. A
   * transfer of a later thread of the title is left alone.
   */
  async stopAll(title: string, incarnation: ThreadIncarnation, reason: NoThreadError): Promise<void> {
    const set = this.byTitle.get(title);
    if (set === undefined) return;
    const doomed = [...set].filter((e) => e.incarnation === incarnation);
    for (const e of doomed) set.delete(e);
    if (set.size === 0) this.byTitle.delete(title);
    await Promise.all(doomed.map((e) => e.stop.stop(reason)));
  }
}
