/**
 * Finding and loading rudp's optional native addons (`native/*.c`, built into
 * `dist/` by `scripts/build-native.mjs`, one file per platform and
 * architecture). A missing or unloadable addon is not an error: each user
 * falls back to a JavaScript path.
 */
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

/** The file name of addon `name` on this platform and architecture (a build for another one is never loaded). */
export function addonFile(name: string): string {
  return `${name}-${process.platform}-${process.arch}.node`;
}

/**
 * Where addon `name` may be: beside the bundled code in `dist/`, or, for
 * the sources run directly (tests), in the package's `dist/` two folders up.
 */
function candidates(name: string): readonly URL[] {
  const file = addonFile(name);
  return [new URL(`./${file}`, import.meta.url), ...(import.meta.url.includes('/src/node/') ? [new URL(`../../dist/${file}`, import.meta.url)] : [])];
}

/** Loads an addon file with every symbol bound now: a runtime without a symbol it needs throws here, not at the first call. */
function loadNow(file: URL): unknown {
  const module = { exports: {} as unknown };
  process.dlopen(module, fileURLToPath(file), constants.dlopen.RTLD_NOW);
  return module.exports;
}

/** The exports of the first build of addon `name` that loads, or `undefined` (not built here, or unloadable in this runtime). */
export function loadAddon(name: string): unknown {
  for (const file of candidates(name)) {
    try {
      return loadNow(file);
    } catch {
      // Not built here (no compiler or headers), or a symbol it needs is missing from this runtime.
    }
  }
  return undefined;
}

/** Whether `m` is an object with a function under each of `names`. */
export function hasFunctions<T>(m: unknown, names: readonly (keyof T & string)[]): m is T {
  return typeof m === 'object' && m !== null && names.every((name) => typeof (m as Partial<Record<string, unknown>>)[name] === 'function');
}
