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
  'packages/forum-protocol/test/{account-policy,codec,command-deadline,commands-file,commands-memory,grammar,host-of,known-hosts,layers,login-checks,migration-pin,names-identity,rate-limit,readme-limits,record-framing,registries,reply-bytes-properties,semaphore,session-exporter,terminal-text,thread-entries-limit,thread-format,thread-limits,thread-reply-size,token-buckets,undo-journal,undo-journal-bound,upload-name-space,write-budget}.test.ts',
  // The data-directory store in a temporary directory of each test's.
  'packages/forum-protocol/test/file-store{,-foreign-append,-rmv-namespace,-thread-bytes,-upload-discard,-upload-share,-write-budget}.test.ts',
  'packages/server/test/{args-limits,args-store,client-connection-close-reason,client-connection-large-replies,client-connection-lines-cache,client-connection-request-turns,client-connection-request-work,disk-quota,comparable-files,fake-clock-rate,fenced-store,large-reply-rate,lock-renew,log-limiter,login-room,memory-budget,queue-budget,readme-options,reply-budget,request-pacer,session-lease,stop-grace,terminal-foreground,transfer-activity,transport-idle,transport-receive-budget,upload-reservation}.test.ts',
];

/**
 * Test files that start servers, clients, PostgreSQL or nginx as child processes, or open sockets and temporary
 * directories, but touch nothing of their own process: no vi.mock, faked timers, signal or exit handlers,
 * process.exit, environment writes, stderr patched, heap, GC, event-loop or open-handle measurements, and no
 * addon that loads in one thread only (bench's node-kcp, udx-native). Spawning and sockets work from a worker
 * thread; each of these closes what it starts (forum-processes.ts's scopes, usePostgres's afterAll) and keeps
 * its data in a temporary directory of its own. They run in the shared threads too, saving a fork and a module
 * graph each (about 0.45 s of CPU a file). rudp's socket files keep their processes (ownProcess). Kept in forks:
 * client's upload-source (process.seteuid, which workers lack); server's kernel-tcp-table and e2e-upload-reservation
 * (each failed once in threads at load 11-15, a 2 s wait for two table reads and a transfer token expired after 30 s:
 * load, most likely, but not shown); transfer-stall and transfer-upload-stall (in-process transfer servers timed
 * against the kernel's socket queues: one test of each failed in threads at load 11-14, in 2 runs of 3);
 * e2e-server-reply-budget (a 9 s bound took 9.23 s once in threads at load 11-17).
 */
const SHARED_THREAD_PROCESS_TESTS = [
  'bench/test/{encryption-pairs,integrity,relay-host,summary}.test.ts',
  'packages/client/test/{e2e-client-signals,e2e-client-ux,e2e-local-environment,e2e-login-backoff-signals,e2e-overlong-input,e2e-piped-input,e2e-server-restart,e2e-terminal-text,e2e-transfer-refusal,e2e-unanswered-write,e2e-upload-special-files,e2e-version-skew,server-link-unsent}.test.ts',
  // One PostgreSQL each, in a cluster of the file's own (usePostgres): schemas named by pid do not meet.
  'packages/forum-protocol/test/{commands-postgres,file-store-account-share-fuzz,file-store-account-share,file-store-crash,file-store-open-abort,file-store-over-limit,file-store-restart,file-store-thread-lines,postgres-change-message,postgres-claim-undo-close,postgres-claim-undo,postgres-command-deadline,postgres-commit-answer-lost,postgres-commit-question,postgres-create-thread,postgres-doomed-uploads,postgres-lines-cache,postgres-reconnect,postgres-rmv-large,postgres-rmv-upload-lock-order,postgres-rolling-upgrade,postgres-share-counters-migration,postgres-share-counters-sweeps,postgres-share-counters,postgres-silent-database,postgres-store,postgres-termination-cause,postgres-thread-counts,postgres-thread-share-race,postgres-thread-share-read,postgres-thread-share-stale,postgres-thread-size-race,postgres-thread-size,postgres-throttle-locks,postgres-throttles,postgres-timeouts,postgres-upload-begin-remade,postgres-upload-begin-rmv,postgres-upload-commit-sweep,postgres-upload-lease-order,postgres-upload-leases,postgres-upload-quota,postgres-upload-share,postgres-upload-slot-deadline,postgres-upload-slots,readme-examples,recent-threads-lines,secure-transfer-channel}.test.ts',
  'packages/server/test/{bundled-binaries,client-connection-session-tokens,data-dir-lock,deploy-config,e2e-account-limit,e2e-balancer-client-address,e2e-cluster-limits,e2e-cluster,e2e-commands,e2e-connection-limit,e2e-crash,e2e-credentials-by-hand,e2e-data-dir-lock,e2e-exit-logs,e2e-failures,e2e-foreign-files,e2e-forged-transfer-reply,e2e-hostile-names,e2e-hostile-server-text,e2e-identity,e2e-killed-client,e2e-large-file,e2e-lease-takeover,e2e-log-volume,e2e-login-race,e2e-login-room,e2e-memory-bounds,e2e-name-identity,e2e-nat-rebinding,e2e-onpath,e2e-partition,e2e-passwords,e2e-pg-schema-upgrade,e2e-pg-timeouts,e2e-protocol,e2e-queued-bytes,e2e-reply-budget,e2e-same-server-id,e2e-sessions,e2e-start-refusals,e2e-start-signal,e2e-terminal-hangup,e2e-thread-share,e2e-transfer-limits,e2e-transfer-port,e2e-transfer-tamper,e2e-unwritable-files,forum-server-options,identity-key-sweep,lock-full-disk,ownerless-threads,reply-turns,transfer-admission,transfer-arrival-refusal,transfer-backpressure,transfer-silent-database,transfer-silent-start}.test.ts',
  'packages/udp-relay/test/{readme-examples,relay-buffers,relay-partition,relay-rebind,relay}.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Temporary files on a memory file system where there is one and TMPDIR is not set (why: the script's header).
    globalSetup: ['./scripts/test-temp-dir.mjs'],
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
      { extends: true, test: { name: 'all', include: ['packages/*/test/**/*.test.ts', 'bench/test/**/*.test.ts'], exclude: [...configDefaults.exclude, ...SHARED_MODULE_TESTS, ...SHARED_THREAD_PROCESS_TESTS], sequence: { groupOrder: 1 } } },
      { extends: true, test: { name: 'node:dgram sockets', include: SOCKET_TESTS, env: { RUDP_SOCKET_BATCHING: '0' }, sequence: { groupOrder: 1 } } },
      // Runs before the others (groupOrder): the two pools would otherwise run side by side, twice the workers.
      { extends: true, test: { name: 'shared modules', include: [...SHARED_MODULE_TESTS, ...SHARED_THREAD_PROCESS_TESTS], pool: 'threads', sequence: { groupOrder: 0 } } },
    ],
  },
});
