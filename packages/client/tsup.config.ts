import { defineConfig } from 'tsup';
import { fpTsEs6 } from '../../scripts/fp-ts-es6.mjs';

export default defineConfig({
  entry: { main: 'src/main.ts' },
  format: ['esm'],
  clean: true,
  // Source maps, so that a stack trace names src/*.ts (the bin turns them on). Mappings only, as rudpx's: Node
  // reads and parses the whole map at every start, and the sources inside (fp-ts, io-ts and all) made it
  // ~1 MB, ~25 ms of CPU a start; a stack trace needs the mappings alone.
  sourcemap: true,
  esbuildOptions(options) {
    options.sourcesContent = false;
  },
  target: 'node20',
  // fp-ts from its ES module build, so that only what is used is bundled (scripts/fp-ts-es6.mjs).
  esbuildPlugins: [fpTsEs6],
  // Bundled: loaded as some 40 separate CommonJS and ES modules, these took about 0.2 s of every start (`--help`
  // 0.52 → 0.30 s). rudpx stays external (its addons are found next to its own files). scripts/run-changed.mjs
  // lists forum-protocol as bundled, so that a change there rebuilds this package.
  noExternal: ['forum-protocol', /^fp-ts/, 'io-ts', 'string-width'],
});
