// @ts-check
/**
 * Mutation testing of the rudp core's loss recovery, ACK tracking,
 * reassembly and flow control, and of the ACK frame's sizes and range
 * fitting: `pnpm mutation` (not part of `pnpm test`).
 * Stryker changes one operator or condition at a time in the files under
 * `mutate` and runs the unit tests that cover it (vitest.unit.config.ts); a
 * mutant that no test notices "survives". See packages/rudp/README.md,
 * "Mutation testing".
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.unit.config.ts', related: false },
  plugins: ['@stryker-mutator/vitest-runner'],
  mutate: [
    'packages/rudp/src/core/recovery/loss-detection.ts',
    'packages/rudp/src/core/recovery/packet-number-skips.ts',
    'packages/rudp/src/core/recovery/lost-record.ts',
    'packages/rudp/src/core/receive/ack-generation.ts',
    'packages/rudp/src/core/receive/range-set.ts',
    'packages/rudp/src/core/receive/reassembly.ts',
    'packages/rudp/src/core/flow-control.ts',
    'packages/rudp/src/core/peer-limit.ts',
    'packages/rudp/src/core/announced-limit.ts',
    'packages/rudp/src/core/credit.ts',
    // Where the ranges an ACK carries are fitted to a packet's room (ackRangesThatFit), beside the codec.
    'packages/rudp/src/wire/ack-frame.ts',
  ],
  // The sandbox needs the transport's sources and the unit tests only.
  ignorePatterns: ['bench', 'packages/server', 'packages/client', 'packages/forum-protocol', 'packages/*/dist', 'scripts', 'reports', '.vitest-tmp'],
  // The machine is shared: two workers at most.
  concurrency: 2,
  coverageAnalysis: 'perTest',
  timeoutMS: 10_000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 90, low: 80, break: null },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
