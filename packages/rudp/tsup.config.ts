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
  sourcemap: true,
  target: 'node20',
  // `import.meta.url` (to load the optional sodium-native) must work in the CommonJS build too.
  shims: true,
  external: ['sodium-native'],
});
