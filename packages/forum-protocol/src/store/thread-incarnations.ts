import type { NoThreadError } from './errors.js';

/**
 * Which thread a title named when an upload was granted, as the store tells
 * it (opaque: compared only for equality). RMV frees a title and CRT may take
 * it again at once, for another user: UPD's grant carries the incarnation it
 * checked, so that an upload can land only in that thread, however late its
 * bytes come. The in-memory and data-directory stores number the lives of a
 * title ({@link ThreadIncarnations}); PostgreSQL uses the thread row's `id`.
 */
export type ThreadIncarnation = string;

/**
 * The lives of titles in one store process. RMV frees a title and CRT may take
 * it again at once, for another user: an upload granted or begun for the old
 * thread must not land in the new one, so a store hands out the incarnation
 * at UPD (`checkUpload`) and compares it as the upload begins and commits.
 */
export class ThreadIncarnations {
  private readonly current = new Map<string, ThreadIncarnation>();
  private next = 0;

  /** A thread titled `title` now exists (created, or found when the store opened). */
  created(title: string): void {
    this.current.set(title, String(this.next++));
  }

  /** The thread titled `title` is gone. */
  removed(title: string): void {
    this.current.delete(title);
  }

  /** The incarnation of the thread titled `title` now, `undefined` if there is none. */
  of(title: string): ThreadIncarnation | undefined {
    return this.current.get(title);
  }
}

/**
 * The refusal of an upload whose thread is gone (removed, and maybe made
 * again, since UPD granted it): the spec's line for a missing thread
 * (`Thread T does not exist`), as a command naming it now would get. Every
 * store words it so, PostgreSQL too.
 */
export const threadGone = (title: string): NoThreadError => ({ kind: 'noThread', title });
