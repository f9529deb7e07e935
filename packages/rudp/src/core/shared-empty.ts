/**
 * The empty queues of idle connections, shared. An empty array of its own
 * costs 32 bytes of heap, and a connection has a dozen queues that are empty
 * most of its life; and the first push onto `[]` makes room for 17
 * elements (about 150 bytes) where a queue of idle traffic holds one. A
 * queue starts as the one shared empty array and becomes an array of exactly
 * one element at its first push ({@link pushOnto}).
 *
 * The shared array is frozen: any other change to it (push, shift, a
 * `length` write) throws instead of leaking into other connections.
 */
const EMPTY: readonly never[] = Object.freeze([]);

/** The shared empty array, to be grown only through {@link pushOnto} (any other change throws). */
export const emptyArray = <T>(): T[] => EMPTY as unknown as T[];

/** Whether `array` is the shared empty array. */
export const isSharedEmpty = (array: readonly unknown[]): boolean => array === EMPTY;

/** Appends `item`: a new one-element array in place of the shared empty one, else `array` itself. Assign the result back. */
export const pushOnto = <T>(array: T[], item: T): T[] => {
  if (isSharedEmpty(array)) return [item];
  array.push(item);
  return array;
};
