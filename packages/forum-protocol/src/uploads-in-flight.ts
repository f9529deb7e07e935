import type { NoThreadError } from './errors.js';
import type { ThreadIncarnation } from './thread-incarnations.js';

/**
 * How one upload is stopped before it commits: its store discards the bytes
 * received so far (`discard`), then {@link UploadStop.stopped} settles with the
 * refusal, so that whoever feeds the upload stops reading and says why. Once
 * the upload's commit has begun it is no longer stopped: the commit checks
 * the thread itself, under the store's lock.
 */
export class UploadStop {
  /** Settles with the refusal once the upload was stopped and its bytes discarded; pending until then. Never rejects. */
  readonly stopped: Promise<NoThreadError>;
  private settle: (reason: NoThreadError) => void = () => undefined;
  private why: NoThreadError | undefined;
  private committing = false;

  constructor(private readonly discard: () => Promise<void>) {
    this.stopped = new Promise((resolve) => (this.settle = resolve));
  }

  /** Why the upload was stopped, `undefined` while it was not: what its commit then refuses with. */
  get reason(): NoThreadError | undefined {
    return this.why;
  }

  /** The upload's commit begins: from now on the commit, not a stop, decides (a stop would pull its bytes away mid-commit). */
  commitBegins(): void {
    this.committing = true;
  }

  /** Stops the upload for `reason` unless its commit has begun or it was stopped already; resolves once its bytes are discarded. */
  async stop(reason: NoThreadError): Promise<void> {
    if (this.committing || this.why !== undefined) return;
    this.why = reason;
    await this.discard().catch(() => undefined);
    this.settle(reason);
  }
}

interface InFlight {
  readonly incarnation: ThreadIncarnation;
  readonly stop: UploadStop;
}

/**
 * The uploads one store process is receiving, by thread, so that RMV stops
 * those of the thread it removed at once (bytes discarded, the sender told)
 * instead of letting them run to their end only to be refused at commit.
 * Only this process's uploads: a store shared by several servers (PostgreSQL)
 * learns of another server's RMV at its next write or its commit.
 */
export class UploadsInFlight {
  private readonly byTitle = new Map<string, Set<InFlight>>();

  /** Registers an upload begun for `incarnation` of `title`; returns what forgets it (call when it commits or is aborted). */
  add(title: string, incarnation: ThreadIncarnation, stop: UploadStop): () => void {
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
   * Stops every upload begun for `incarnation` of `title`, which was just
   * removed, with `reason`; resolves once each has discarded its bytes. An
   * upload of a later thread of the title is left alone.
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
