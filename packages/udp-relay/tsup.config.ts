import { defineConfig } from 'tsup';

export default defineConfig({
  // The worker is a file of its own: startLossyRelayThread starts it by path, next to index.
  entry: { index: 'src/index.ts', 'relay-thread-worker': 'src/relay-thread-worker.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  // import.meta.url in the CommonJS build (where the worker's path is found).
  shims: true,
  target: 'node20',
});
