/**
 * Arrays grown by hand, from a small start. V8 gives an array room for 16
 * entries on its first push (144 bytes), and most endpoints (every client's)
 * only ever hold one connection, so each of their per-connection lists would
 * carry 15 empty slots for life.
 */

/** Capacity a hand-grown array starts with. */
const INITIAL_CAPACITY = 2;

/** A new hand-grown array: `INITIAL_CAPACITY` holes. */
export function smallArray<T>(): (T | undefined)[] {
  return new Array<T | undefined>(INITIAL_CAPACITY);
}

/**
 * `items` if `index` is within it, else a copy twice as long (or long enough for `index`):
 * the caller stores the result back and writes `index` in it.
 */
export function withRoomFor<T>(items: (T | undefined)[], index: number): (T | undefined)[] {
  if (index < items.length) return items;
  const grown = new Array<T | undefined>(Math.max(2 * items.length, index + 1));
  for (let i = 0; i < items.length; i++) grown[i] = items[i];
  return grown;
}
