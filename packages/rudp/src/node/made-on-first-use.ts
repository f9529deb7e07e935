const inspectCustom = Symbol.for('nodejs.util.inspect.custom');

/**
 * An array made at its first use: every read (an index, `length`, `map`, iteration, `Array.isArray`'s
 * answer is the target's, util.inspect's) reaches the array `make` returns, called once then. For an export whose items
 * cost something to find that most importers never read: rudpx's packetCipherProviders, whose libsodium
 * entry loads the sodium-native addon (~25 ms of a process's start) where OpenSSL's addon is the default.
 * Once made, the proxy's target is that plain array and nothing else: only util.inspect's `showProxy`
 * (`%o` of util.format) tells them apart.
 */
export const madeOnFirstUse = <T>(make: () => readonly T[]): readonly T[] => {
  const target: T[] = [];
  let made = false;
  const filled = (): T[] => {
    if (!made) {
      made = true;
      // Gone once made: the array's own keys and inspect's showHidden text are a plain array's.
      delete (target as { [inspectCustom]?: unknown })[inspectCustom];
      target.push(...make());
    }
    return target;
  };
  // util.inspect (console.log) formats a proxy's target, not through its traps: the target makes itself first.
  // Configurable, so that it can go.
  Object.defineProperty(target, inspectCustom, { value: filled, enumerable: false, configurable: true });
  return new Proxy(target, {
    get: (_, key, receiver: unknown) => Reflect.get(filled(), key, receiver),
    set: (_, key, value: unknown, receiver: unknown) => Reflect.set(filled(), key, value, receiver),
    has: (_, key) => Reflect.has(filled(), key),
    ownKeys: () => Reflect.ownKeys(filled()),
    getOwnPropertyDescriptor: (_, key) => Reflect.getOwnPropertyDescriptor(filled(), key),
    defineProperty: (_, key, descriptor) => Reflect.defineProperty(filled(), key, descriptor),
    deleteProperty: (_, key) => Reflect.deleteProperty(filled(), key),
    // Object.freeze, seal and preventExtensions close the target: made first, else it could never be filled.
    preventExtensions: () => Reflect.preventExtensions(filled()),
  });
};
