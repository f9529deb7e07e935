/**
 * Where a change of a stored thread starts and what writing it costs, found
 * without formatting anything: the first entry it changes, the file offset
 * its write starts at (or the whole file), and the bytes that puts on disk.
 * The data-directory store plans its writes and charges its write budget
 * with them.
 */
import { bytesBeforeEntry, bytesFromEntry, type Thread } from './thread.js';

/** A thread as the store keeps it: the thread, the size of its file, and whether the file is exactly {@link formatThreadFile} of it. */
export interface StoredThread {
  readonly thread: Thread;
  readonly bytes: number;
  /** False for a hand-written file (CRLF, odd numbers…): its first change rewrites it whole. */
  readonly canonical: boolean;
}

/** Index of the first entry `next` changes from `cur` (0 if the creator changes); `undefined` if it changes nothing. */
const firstChange = (cur: Thread, next: Thread): number | undefined => {
  if (next.creator !== cur.creator) return 0;
  const before = cur.entries;
  const after = next.entries;
  let from = 0;
  while (from < before.length && from < after.length && (before[from] === after[from] || JSON.stringify(before[from]) === JSON.stringify(after[from]))) from++;
  return from === before.length && from === after.length ? undefined : from;
};

/**
 * Old tail (bytes) from which a change starting in a thread's first half is
 * written as a whole new file renamed into place, not through the undo journal.
 */
const WHOLE_FILE_TAIL_BYTES = 64 * 1024;

/** Where a thread change starts: its first changed entry, and the file offset its write starts at (`undefined`: the whole file). */
export interface ThreadChange {
  readonly from: number;
  readonly creatorChanged: boolean;
  readonly offset: number | undefined;
}

/**
 * Where a change from entry `from` starts writing the stored file: the old
 * tail's offset (measured from the nearer end, without formatting), or
 * `undefined` when the file is written whole: a hand-written one, a new
 * creator, or a change from early in a large one (a new file renamed over
 * the old one writes about as many bytes as the tail would, and keeps
 * megabytes out of the undo journal every MSG waits on).
 */
const writeOffset = (cur: StoredThread, from: number, creatorChanged: boolean): number | undefined => {
  if (!cur.canonical || creatorChanged) return undefined;
  const n = cur.thread.entries.length;
  if (from >= n) return cur.bytes;
  if (from >= n / 2) return cur.bytes - bytesFromEntry(cur.thread, from);
  const prefix = bytesBeforeEntry(cur.thread, from);
  return cur.bytes - prefix >= WHOLE_FILE_TAIL_BYTES ? undefined : prefix;
};

/** Where a change of `cur` into `next` starts, and where writing it starts; `undefined` if it changes nothing. */
export const locateChange = (cur: StoredThread, next: Thread): ThreadChange | undefined => {
  const from = firstChange(cur.thread, next);
  if (from === undefined) return undefined;
  const creatorChanged = next.creator !== cur.thread.creator;
  return { from, creatorChanged, offset: writeOffset(cur, from, creatorChanged) };
};

/** Bytes a change written from `offset` puts on disk: a whole file once; a tail twice (the journal keeps the old one). */
export const writtenBytes = (cur: StoredThread, offset: number | undefined): number => (offset === undefined ? cur.bytes : 2 * (cur.bytes - offset));
