/**
 * `instanceof` that holds across copies of rudpx. An ESM application whose
 * CommonJS dependency also uses rudpx loads both builds (`dist/index.js` and
 * `dist/index.cjs`), each with its own classes: a `RudpError` the dependency
 * rejects with was no `instanceof` the application's `RudpError`. A public
 * class marks its instances with a key from the global symbol registry
 * (`Symbol.for`, the same symbol in every build and realm), and its static
 * `Symbol.hasInstance` looks for the key.
 */

/**
 * Brands class `cls` as rudpx's public class `name`: its instances (and its
 * subclasses') carry the key `Symbol.for('rudpx.<name>')` on their prototype,
 * not enumerable, so no instance grows a property; and `instanceof cls` asks
 * for the key, so it holds for an instance of the same class from any copy
 * of rudpx. For a subclass without a brand of its own (an application's),
 * `instanceof` stays the ordinary prototype check, so a plain `cls` is no
 * instance of it.
 */
export function brand(cls: { readonly prototype: object }, name: string): void {
  const key = Symbol.for(`rudpx.${name}`);
  Object.defineProperty(cls.prototype, key, { value: true });
  Object.defineProperty(cls, Symbol.hasInstance, {
    value(this: unknown, value: unknown): boolean {
      if (this !== cls) return Function.prototype[Symbol.hasInstance].call(this, value);
      // `in` follows the prototype chain: the mark is on the prototype.
      return (typeof value === 'object' || typeof value === 'function') && value !== null && key in value;
    },
  });
}
