import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

/** The Node API's socket tests, run a second time on the node:dgram fallback (what runs where rudp's UDP addon is not built). */
const SOCKET_TESTS = ['packages/rudp/test/node-api-*.test.ts', 'packages/rudp/test/node-udp.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // vitest's default is one worker less than the cores: a single one on a 2-core CI machine, where most
    // test time is waiting on sockets, processes and timers (the suite took 599 s; on two workers 350-360 s,
    // clean). Two at least.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    projects: [
      { extends: true, test: { name: 'all', include: ['packages/*/test/**/*.test.ts', 'bench/test/**/*.test.ts'] } },
      { extends: true, test: { name: 'node:dgram sockets', include: SOCKET_TESTS, env: { RUDP_SOCKET_BATCHING: '0' } } },
    ],
  },
});
