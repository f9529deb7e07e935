import * as E from 'fp-ts/lib/Either.js';
import { changedSize, lengthens, type MessageChange, type MessageEdit } from './message-change.js';
import { holdingCounted, holdingIn } from './thread-share.js';
import type { ForumStore } from './store.js';
import { rememberReplyBytes } from './thread-reply-size.js';
import { threadSize } from './thread-size.js';
import { messageIndex, type Thread } from './thread.js';

/**
 * `changeMessage` for a store that holds threads whole (memory, data
 * directory): an `updateThread` that finds the message by its number. The
 * lines the change keeps stay the same objects (a store writes only what
 * changed), and the new thread's size is remembered, so the next change of
 * it costs one line's work.
 */
export const changeByUpdate =
  (updateThread: ForumStore['updateThread']): ForumStore['changeMessage'] =>
  <Err>(title: string, n: number, change: MessageChange<Err>, actor?: string) =>
    updateThread(
      title,
      (th): E.Either<Err, { readonly thread: Thread; readonly result: undefined }> => {
        const index = messageIndex(th, n);
        const entry = th.entries[index];
        if (entry?.kind !== 'message') return E.left(change.noMessage);
        const message = { n, author: entry.author, text: entry.text };
        const size = threadSize(th);
        return E.chain((edit: MessageEdit) => {
          const entries =
            edit.kind === 'edit' ? th.entries.map((e, j) => (j === index ? { ...entry, text: edit.text } : e)) : th.entries.filter((_, j) => j !== index);
          const next: Thread = { ...th, entries };
          const after = changedSize(size, message, edit);
          // The author's share (thread-share.ts), read from the thread as edited.
          if (change.share !== undefined && lengthens(message, edit) && holdingCounted(after, message.author)) {
            const refused = change.share(holdingIn(next, message.author));
            if (E.isLeft(refused)) return refused;
          }
          rememberReplyBytes(next, after.replyBytes);
          return E.right({ thread: next, result: undefined });
        })(change.decide(message, size));
      },
      actor,
    );
