/**
 * An array made at its first use: every read (an index, `length`, `map`, iteration, `Array.isArray`'s
 * answer is the target's, util.inspect's) reaches the array `make` returns, called once then. For an export whose items
 * cost something to find that most importers never read: rudpx's packetCipherProviders, whose libsodium
 * entry loads the sodium-native addon (~25 ms of a process's start) where OpenSSL's addon is the default.
 */
export const madeOnFirstUse = <T>(make: () => readonly T[]): readonly T[] => {
  const target: T[] = [];
  let made = false;
  const filled = (): T[] => {
    if (!made) {
      made = true;
      target.push(...make());
    }
    return target;
  };
  // util.inspect (console.log) formats a proxy's target, not through its traps: the target makes itself first.
  Object.defineProperty(target, Symbol.for('nodejs.util.inspect.custom'), { value: filled, enumerable: false });
  return new Proxy(target, {
    get: (_, key, receiver: unknown) => Reflect.get(filled(), key, receiver),
    set: (_, key, value: unknown, receiver: unknown) => Reflect.set(filled(), key, value, receiver),
    has: (_, key) => Reflect.has(filled(), key),
    ownKeys: () => Reflect.ownKeys(filled()),
    getOwnPropertyDescriptor: (_, key) => Reflect.getOwnPropertyDescriptor(filled(), key),
    defineProperty: (_, key, descriptor) => Reflect.defineProperty(filled(), key, descriptor),
    deleteProperty: (_, key) => Reflect.deleteProperty(filled(), key),
  });
};
