import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', core: 'src/core.ts', crypto: 'src/crypto.ts', testing: 'src/testing.ts' },
  format: ['esm', 'cjs'],
  // One copy of the core for both formats: without it each CommonJS entry bundles its own, and a
  // connection from `rudpx` is no `instanceof` of `rudpx/core`'s classes.
  splitting: true,
  // Members marked @internal (the adapter's hooks into a connection, the core's into its endpoint) stay out of the published types.
  dts: { compilerOptions: { stripInternal: true } },
  clean: true,
  // No source maps: the bundle is not minified (names, structure and a `// src/...` line before each
  // module's code are kept), so a stack trace in dist reads as well as one in src; the maps (with the
  // sources inside, for ESM and CommonJS each) were 470 of the tarball's 855 KB and 1.7 of its 3.0 MB unpacked.
  sourcemap: false,
  target: 'node20',
  // The CommonJS chunks go through sucrase (tsup's code splitting for cjs), which turns a class with field
  // initializers into an anonymous class expression: RudpConnection.name was '_class3' there, in util.inspect
  // and in stack traces. esbuild's names survive it (a static block or a call per class or named closure, once each).
  keepNames: true,
  // `import.meta.url` (to load the optional sodium-native) must work in the CommonJS build too.
  shims: true,
  external: ['sodium-native'],
});
