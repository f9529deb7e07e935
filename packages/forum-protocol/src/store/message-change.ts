/**
 * EDT and DLT as a store sees them: a change to one message, found by its
 * number and decided from that message and its thread's size alone. A store
 * that keeps the size beside the thread (PostgreSQL) reads and writes only
 * that message's line, however long the thread.
 */
import type * as E from 'fp-ts/lib/Either.js';
import type { ThreadHolding } from './thread-share.js';
import { deletedSize, editedSize, type ThreadSize } from './thread-size.js';
import { jsonBytes } from './thread-reply-size.js';

/** Message number `n` of a thread (as RDT numbers it), with its author and text. */
export interface NumberedMessage {
  readonly n: number;
  readonly author: string;
  readonly text: string;
}

/** What happens to the message: its text replaced (EDT), or the message removed (DLT). */
export type MessageEdit = { readonly kind: 'edit'; readonly text: string } | { readonly kind: 'delete' };

/** A change to message number `n`, run by the store under the thread's lock. */
export interface MessageChange<Err> {
  /** The refusal when the thread has no message numbered `n`. */
  readonly noMessage: Err;
  /** The edit to make, or why not, from the message and its thread's size (`size` before the change). */
  readonly decide: (message: NumberedMessage, size: ThreadSize) => E.Either<Err, MessageEdit>;
  /**
   * Run by the store on an edit that lengthens the message, with what its author's lines hold of the thread
   * after it, when counted (thread-share.ts, `holdingCounted`): read under the thread's lock, so an
   * account that may post no more cannot lengthen its messages instead. Absent: not checked.
   */
  readonly share?: (mine: ThreadHolding) => E.Either<Err, void>;
}

/**
 * Whether `edit` of `message` lengthens it: only such an edit is held to its author's share of the thread
 * (one that shortens it, or a delete, only gives room back).
 */
export const lengthens = (message: NumberedMessage, edit: MessageEdit): edit is { readonly kind: 'edit'; readonly text: string } =>
  edit.kind === 'edit' && jsonBytes(edit.text) > jsonBytes(message.text);

/** The size of a thread of size `before` once `edit` is made to `message`. */
export const changedSize = (before: ThreadSize, message: NumberedMessage, edit: MessageEdit): ThreadSize =>
  edit.kind === 'edit' ? editedSize(before, message.text, edit.text) : deletedSize(before, message);
