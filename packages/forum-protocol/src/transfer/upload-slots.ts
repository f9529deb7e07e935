import * as E from 'fp-ts/lib/Either.js';
import type * as TE from 'fp-ts/lib/TaskEither.js';
import type { StoreError } from '../store/errors.js';

/**
 * Where each user's uploads in progress are counted: one server's memory,
 * or the database its servers share (`createPostgresUploadSlots`), so that
 * a user's uploads are limited over all of them.
 */
export interface UploadSlots {
  /** Most uploads one user may have running at once. */
  readonly perUser: number;
  /**
   * Takes one of `username`'s places: the function that gives it back
   * (once; later calls do nothing; it resolves once the place is free, and
   * never rejects), or `undefined` if the user has `perUser` uploads
   * running. A store error (the database) refuses the upload.
   */
  take(username: string): TE.TaskEither<StoreError, (() => Promise<void>) | undefined>;
}

/** The refusal line for a user at the limit. */
export const uploadSlotsRefusal = (perUser: number): string => `too many uploads at once: a user may send at most ${perUser} at a time`;

/** Places counted at once, in this process: `start` gives the function that ends an upload, or `undefined` at the limit. */
export const uploadSlotsOf = (perUser: number, start: (username: string) => (() => void) | undefined): UploadSlots => ({
  perUser,
  take: (username) => () => {
    const end = start(username);
    return Promise.resolve(
      E.right(
        end === undefined
          ? undefined
          : () => {
              end();
              return Promise.resolve();
            },
      ),
    );
  },
});
