import type { IoError } from './errors.js';

/**
 * Which life of a title a thread is. RMV frees a title and CRT may take it
 * again at once, for another user: an upload begun for the old thread must
 * not land in the new one, so a store notes the incarnation as the upload
 * begins and compares it as the upload commits.
 */
export class ThreadIncarnations {
  private readonly current = new Map<string, number>();
  private next = 0;

  /** A thread titled `title` now exists (created, or found when the store opened). */
  created(title: string): void {
    this.current.set(title, this.next++);
  }

  /** The thread titled `title` is gone. */
  removed(title: string): void {
    this.current.delete(title);
  }

  /** The incarnation of the thread titled `title` now, `undefined` if there is none. */
  of(title: string): number | undefined {
    return this.current.get(title);
  }
}

/** The refusal of an upload whose thread was removed (and maybe made again) while its bytes arrived; the PostgreSQL store words it the same. */
export const threadRemovedDuringUpload = (): IoError => ({ kind: 'io', message: 'the thread was removed during the upload' });
