import { defineConfig } from 'vitest/config';

/**
 * The fast per-module unit tests of the rudp core only (no simulator runs,
 * no sockets): what `pnpm test:unit` and the mutation run (stryker.config.mjs) execute.
 */
export default defineConfig({
  test: {
    include: ['packages/rudp/test/unit/**/*.test.ts'],
    testTimeout: 60_000,
  },
});
