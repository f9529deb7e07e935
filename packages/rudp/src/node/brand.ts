/**
 * `instanceof` that holds across copies of rudpx. An ESM application whose
 * CommonJS dependency also uses rudpx loads both builds (`dist/index.js` and
 * `dist/index.cjs`), each with its own classes: a `RudpError` the dependency
 * rejects with was no `instanceof` the application's `RudpError`. A public
 * class marks its instances with a key from the global symbol registry
 * (`Symbol.for`, the same symbol in every build and realm), and its static
 * `Symbol.hasInstance` looks for the key. The key names the release line:
 * copies of one line are the same classes built twice, but a copy of another
 * line may have other methods and fields, and passing for one of this line's
 * objects would only move the failure to the first call that differs.
 */

/**
 * The releases whose public classes are interchangeable: semver's major, or
 * for 0.x its minor (`brand.test.ts` keeps it equal to package.json's).
 */
export const RELEASE_LINE = '0.1';

/**
 * Brands class `cls` as rudpx's public class `name` of release line `line`: its instances (and its
 * subclasses') carry the key `Symbol.for('rudpx@<line>.<name>')` on their prototype,
 * not enumerable, so no instance grows a property; and `instanceof cls` asks
 * for the key, so it holds for an instance of the same class from any copy
 * of rudpx. For a subclass without a brand of its own (an application's),
 * `instanceof` stays the ordinary prototype check, so a plain `cls` is no
 * instance of it.
 */
export function brand(cls: { readonly prototype: object }, name: string, line = RELEASE_LINE): void {
  const key = Symbol.for(`rudpx@${line}.${name}`);
  Object.defineProperty(cls.prototype, key, { value: true });
  Object.defineProperty(cls, Symbol.hasInstance, {
    value(this: unknown, value: unknown): boolean {
      if (this !== cls) return Function.prototype[Symbol.hasInstance].call(this, value);
      // `in` follows the prototype chain: the mark is on the prototype.
      return (typeof value === 'object' || typeof value === 'function') && value !== null && key in value;
    },
  });
}
