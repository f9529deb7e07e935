import * as E from 'fp-ts/lib/Either.js';
import type { ForumStore } from './store.js';
import { rememberReplyBytes } from './thread-reply-size.js';
import { appendedSize, threadSize } from './thread-size.js';
import type { Thread } from './thread.js';

/**
 * `appendEntry` for a store that holds threads whole (memory, data
 * directory): an `updateThread` that appends. The new thread's reply size is
 * remembered, so the next append or edit of it costs one line's work.
 */
export const appendByUpdate =
  (updateThread: ForumStore['updateThread']): ForumStore['appendEntry'] =>
  (title, entry, guard, actor) =>
    updateThread(
      title,
      (th) => {
        const after = appendedSize(threadSize(th), entry);
        return E.map(() => {
          const next: Thread = { ...th, entries: [...th.entries, entry] };
          rememberReplyBytes(next, after.replyBytes);
          return { thread: next, result: undefined };
        })(guard(after));
      },
      actor,
    );
