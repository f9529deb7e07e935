import { readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { configDefaults, defineConfig } from 'vitest/config';

/** The Node API's socket tests, run a second time on the node:dgram fallback (what runs where rudp's UDP addon is not built). */
const SOCKET_TESTS = ['packages/rudp/test/node-api-*.test.ts', 'packages/rudp/test/node-udp.test.ts'];

const RUDP_TESTS = 'packages/rudp/test';
/** rudp's test files (paths under RUDP_TESTS) that need a process and modules of their own. */
const ownProcess = (file: string): boolean =>
  // Sockets, child processes, worker threads, the environment, the tarball.
  /^(node-api-|node-udp|batch-socket)/.test(file) ||
  ['examples', 'open-sockets', 'package-tarball', 'readme-examples', 'segment-offload'].some((f) => file === `${f}.test.ts`) ||
  ['aead-providers', 'key-generation-gc', 'openssl-aead'].some((f) => file === `crypto/${f}.test.ts`) ||
  // The heap measured or a collection awaited: a class's fields boxed by an earlier file would go unseen.
  file.endsWith('-boxing.test.ts') ||
  ['endpoint-release', 'fuzz-endpoint', 'shown-servers-bounded', 'transport-close-lets-go'].some((f) => file === `${f}.test.ts`) ||
  // A module mocked (vi.mock): in threads that share modules, an earlier file had loaded the real one.
  file === 'transport-key-limit.test.ts';

/**
 * Test files that touch nothing of the process (no sockets, child processes, PostgreSQL, environment,
 * signals, mocks, heap or GC measurements, addons that load in one thread only, as bench's node-kcp): run in threads that load the modules once for all their
 * files (isolate: false). A fresh process and module graph cost a file about 0.45 s of CPU, more than
 * most of these files' tests. rudp's simulator and unit tests, and the other packages' pure ones.
 */
const SHARED_MODULE_TESTS = [
  ...readdirSync(new URL(`./${RUDP_TESTS}/`, import.meta.url), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.test.ts') && !ownProcess(f))
    .map((f) => `${RUDP_TESTS}/${f}`),
  'packages/client/test/{args,client-output,command-line,error-code,known-hosts-file,line-bound,line-input,login-pauses,screen-rows,server-link,transfer-direction,transfer-refusal,transfer-status}.test.ts',
  'packages/forum-protocol/test/{account-policy,codec,command-deadline,commands-file,commands-memory,grammar,host-of,known-hosts,layers,login-checks,names-identity,rate-limit,readme-limits,record-framing,registries,reply-bytes-properties,semaphore,session-exporter,terminal-text,thread-entries-limit,thread-format,thread-limits,thread-reply-size,token-buckets,undo-journal,undo-journal-bound,upload-name-space,write-budget}.test.ts',
  // The data-directory store in a temporary directory of each test's.
  'packages/forum-protocol/test/file-store{,-foreign-append,-rmv-namespace,-thread-bytes,-upload-discard,-write-budget}.test.ts',
  'packages/server/test/{args-limits,args-store,client-connection-close-reason,client-connection-large-replies,client-connection-lines-cache,client-connection-request-turns,client-connection-request-work,disk-quota,comparable-files,fake-clock-rate,fenced-store,large-reply-rate,log-limiter,login-room,memory-budget,queue-budget,readme-options,reply-budget,request-pacer,session-lease,transfer-activity,transport-idle,transport-receive-budget,upload-reservation}.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // vitest's default is one worker less than the cores: a single one on a 2-core CI machine, where most
    // test time is waiting on sockets, processes and timers (the suite took 599 s; on two workers 350-360 s,
    // clean). Two at least. Three forks on 2 cores (VITEST_MAX_FORKS=3) were tried: 552 s against 812 s back to back
    // (load ~5), but each of three runs at three had a failure the two-worker runs did not (a lossy-relay client
    // unable to connect in 20 s, a node:dgram close never heard, vitest's own onTaskUpdate RPC timing out), so two.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // One pool of each kind serves all projects, with the root's options: threads shared, forks one a file.
    poolOptions: { threads: { isolate: false }, forks: { isolate: true } },
    // The workspace packages' builds (packages/*/dist: what `forum-protocol`, `rudpx`, `udp-relay` resolve to) are
    // loaded by Node itself, as a user's program loads them, not transformed and run module by module through
    // vite-node: they are plain JavaScript already, and every forked file loaded them anew (collect time).
    // Tests mock globals and spy on objects only, which reach them either way; vi.mock of a module reaches the
    // sources (packages/*/src), still transformed.
    server: { deps: { external: [/\/packages\/[^/]+\/dist\//] } },
    projects: [
      { extends: true, test: { name: 'all', include: ['packages/*/test/**/*.test.ts', 'bench/test/**/*.test.ts'], exclude: [...configDefaults.exclude, ...SHARED_MODULE_TESTS], sequence: { groupOrder: 1 } } },
      { extends: true, test: { name: 'node:dgram sockets', include: SOCKET_TESTS, env: { RUDP_SOCKET_BATCHING: '0' }, sequence: { groupOrder: 1 } } },
      // Runs before the others (groupOrder): the two pools would otherwise run side by side, twice the workers.
      { extends: true, test: { name: 'shared modules', include: SHARED_MODULE_TESTS, pool: 'threads', sequence: { groupOrder: 0 } } },
    ],
  },
});
