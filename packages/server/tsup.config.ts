import { defineConfig } from 'tsup';
import { fpTsEs6 } from '../../scripts/fp-ts-es6.mjs';

export default defineConfig({
  // The bin's stack-trace mapping apart from main (forum-protocol's process/stack-source-maps.ts): set before the bundle loads.
  entry: { main: 'src/main.ts', 'stack-source-maps': '../forum-protocol/src/process/stack-source-maps.ts' },
  format: ['esm'],
  clean: true,
  // Source maps, so that a stack trace names src/*.ts (the bin maps traces, reading a map at the first trace
  // through its file). Mappings only, as rudpx's: the sources inside (fp-ts, io-ts and all) made it ~1 MB, and
  // a stack trace needs the mappings alone.
  sourcemap: true,
  esbuildOptions(options) {
    options.sourcesContent = false;
  },
  target: 'node20',
  // fp-ts from its ES module build, so that only what is used is bundled (scripts/fp-ts-es6.mjs).
  esbuildPlugins: [fpTsEs6],
  // Bundled: loaded as some 40 separate CommonJS and ES modules, these took about 0.2 s of every start (`--help`
  // 0.52 → 0.31 s). postgres is forum-protocol's (patched: see pnpm-workspace.yaml), bundled from that copy. rudpx
  // stays external (its addons are found next to its own files). scripts/run-changed.mjs lists forum-protocol as
  // bundled, so that a change there rebuilds this package.
  noExternal: [/^forum-protocol/, /^fp-ts/, 'io-ts', 'postgres'],
});
