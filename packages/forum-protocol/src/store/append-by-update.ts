import * as E from 'fp-ts/lib/Either.js';
import type { ForumStore } from './store.js';
import { appendGuarded } from './thread-growth.js';
import type { Thread } from './thread.js';

/**
 * `appendEntry` for a store that holds threads whole (memory, data
 * directory): an `updateThread` that appends. The new thread's reply size is
 * remembered, so the next append or edit of it costs one line's work.
 */
export const appendByUpdate =
  (updateThread: ForumStore['updateThread']): ForumStore['appendEntry'] =>
  (title, entry, guard, actor) =>
    updateThread(title, (th) => E.map((thread: Thread) => ({ thread, result: undefined }))(appendGuarded(th, entry, guard)), actor);
