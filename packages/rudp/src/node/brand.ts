/**
 * `instanceof` that holds across copies of rudpx. An ESM application whose
 * CommonJS dependency also uses rudpx loads both builds (`dist/index.js` and
 * `dist/index.cjs`), each with its own classes: a `RudpError` the dependency
 * rejects with was no `instanceof` the application's `RudpError`. A public
 * class marks its instances with a key from the global symbol registry
 * (`Symbol.for`, the same symbol in every build and realm), and its static
 * `Symbol.hasInstance` looks for the key.
 */

/** The key that marks instances of the public class `name` (`Symbol.for('rudpx.<name>')`). */
export function brandKey(name: string): symbol {
  return Symbol.for(`rudpx.${name}`);
}

/** Marks every instance of `cls` (and of its subclasses) with `key`: on the prototype, not enumerable, so no instance grows a property. */
export function brandInstances(cls: { readonly prototype: object }, key: symbol): void {
  Object.defineProperty(cls.prototype, key, { value: true });
}

/**
 * The `Symbol.hasInstance` of branded class `owner` called on `cls`:
 * whether `value` carries `key` when `cls` is `owner` itself; for a subclass
 * that has no brand of its own (an application's), the ordinary prototype
 * check, so a plain `owner` is no instance of it.
 */
export function isBrandedInstance(cls: unknown, owner: unknown, key: symbol, value: unknown): boolean {
  if (cls !== owner) return Function.prototype[Symbol.hasInstance].call(cls, value);
  // `in` follows the prototype chain: the mark is on the prototype.
  return (typeof value === 'object' || typeof value === 'function') && value !== null && key in value;
}
