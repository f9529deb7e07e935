import { readdir, readFile, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { defineConfig } from 'tsup';

/**
 * The CommonJS maps (written by the sucrase pass of tsup's cjs code splitting) name their own file,
 * as `file` and as a source, by its absolute path on the machine that built them: made relative to
 * dist/, as the ESM maps' paths are, so the package holds no builder's path.
 */
async function relativeMapPaths(): Promise<void> {
  const dist = join(process.cwd(), 'dist');
  for (const name of (await readdir(dist)).filter((f) => f.endsWith('.map'))) {
    const path = join(dist, name);
    const map = JSON.parse(await readFile(path, 'utf8')) as { file?: string; sources: string[] };
    const local = (p: string): string => (isAbsolute(p) ? relative(dist, p) : p);
    if (map.file !== undefined) map.file = local(map.file);
    map.sources = map.sources.map(local);
    await writeFile(path, JSON.stringify(map));
  }
}

export default defineConfig({
  entry: { index: 'src/index.ts', core: 'src/core.ts', crypto: 'src/crypto.ts', testing: 'src/testing.ts' },
  format: ['esm', 'cjs'],
  // One copy of the core for both formats: without it each CommonJS entry bundles its own, and a
  // connection from `rudpx` is no `instanceof` of `rudpx/core`'s classes.
  splitting: true,
  // Members marked @internal (the adapter's hooks into a connection, the core's into its endpoint) stay out of the published types.
  dts: { compilerOptions: { stripInternal: true } },
  clean: true,
  // Source maps, so that a user's stack trace (node --enable-source-maps) names src/core/config.ts:180
  // rather than dist/chunk-….js:1515, a line of the repository. Mappings only: with the sources inside
  // (once for ESM, once for CommonJS) the tarball was 969 KB instead of 535 (447 without maps).
  sourcemap: true,
  esbuildOptions(options) {
    options.sourcesContent = false;
  },
  onSuccess: relativeMapPaths,
  target: 'node20',
  // The CommonJS chunks go through sucrase (tsup's code splitting for cjs), which turns a class with field
  // initializers into an anonymous class expression: RudpConnection.name was '_class3' there, in util.inspect
  // and in stack traces. esbuild's names survive it (a static block or a call per class or named closure, once each).
  keepNames: true,
  // `import.meta.url` (to load the optional sodium-native) must work in the CommonJS build too.
  shims: true,
  external: ['sodium-native'],
});
