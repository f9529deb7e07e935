import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/*
 * node-kcp is a C addon built by node-gyp. The workspace tells pnpm not to run
 * its install script (pnpm-workspace.yaml, `ignoredBuiltDependencies`): only
 * the benchmark needs it, and its build printed ~50 lines at every install.
 * It is built here instead, once, the first time the benchmark or its tests
 * load KCP, with the compiler's output kept unless the build fails.
 */

const require = createRequire(import.meta.url);

/** Where node-kcp's compiled binding lands (its index.js requires `./build/Release/kcp`). */
const bindingPath = (packageDir: string): string => join(packageDir, 'build', 'Release', 'kcp.node');

/**
 * node-gyp's CLI script, from the tools that are installed anyway: the one a
 * package manager names in `npm_config_node_gyp` when it runs a script, the
 * one bundled with pnpm (beside `npm_execpath`), or the one npm ships beside
 * Node. `undefined` when none is there.
 */
const findNodeGyp = (): string | undefined => {
  const npmExecPath = process.env.npm_execpath;
  const prefix = dirname(dirname(process.execPath));
  const candidates = [
    process.env.npm_config_node_gyp,
    npmExecPath === undefined ? undefined : join(dirname(npmExecPath), 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    // Unix layout (<prefix>/bin/node, <prefix>/lib/node_modules/npm) and Windows (node.exe beside node_modules).
    join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    join(dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((c): c is string => c !== undefined && c.endsWith('.js') && existsSync(c));
};

/** A build older than this is taken to be dead (its lock is broken). */
const STALE_LOCK_MS = 180_000;

const sleepSync = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

/**
 * Runs `build` holding a lock directory in `dir`, so that test workers that
 * load KCP at the same time do not run two node-gyp builds in one folder:
 * the others wait until `done()` holds.
 */
const withBuildLock = (dir: string, done: () => boolean, build: () => void): void => {
  const lock = join(dir, '.kcp-build-lock');
  for (;;) {
    if (done()) return;
    try {
      mkdirSync(lock);
      break;
    } catch {
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > STALE_LOCK_MS) rmSync(lock, { recursive: true, force: true });
      else sleepSync(250);
    }
  }
  try {
    build();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
};

/** Why the KCP binding could not be built: the command to run by hand and the compiler's output. */
export class KcpBuildError extends Error {
  override readonly name = 'KcpBuildError';
  readonly code = 'ERR_KCP_BUILD';
}

/**
 * Makes sure node-kcp's native binding exists, building it with node-gyp
 * (quietly, ~10 s) when it does not. Returns the package directory. Throws a
 * {@link KcpBuildError} that says what to run by hand when it cannot.
 */
export const ensureKcpBinding = (): string => {
  const packageDir = dirname(require.resolve('node-kcp/package.json'));
  if (existsSync(bindingPath(packageDir))) return packageDir;
  const manual = `cd ${packageDir} && npx node-gyp rebuild`;
  const nodeGyp = findNodeGyp();
  if (nodeGyp === undefined) throw new KcpBuildError(`node-kcp's native binding is not built and node-gyp was not found; build it with: ${manual}`);
  withBuildLock(
    packageDir,
    () => existsSync(bindingPath(packageDir)),
    () => {
      process.stderr.write('Building node-kcp (the KCP baseline, once)… ');
      try {
        execFileSync(process.execPath, [nodeGyp, 'rebuild'], { cwd: packageDir, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
      } catch (e) {
        process.stderr.write('failed\n');
        const output = typeof e === 'object' && e !== null && 'stderr' in e ? `${String(e.stderr)}${'stdout' in e ? String(e.stdout) : ''}` : String(e);
        throw new KcpBuildError(`building node-kcp's native binding failed (${manual}):\n${output}`);
      }
      process.stderr.write('done\n');
    },
  );
  return packageDir;
};
