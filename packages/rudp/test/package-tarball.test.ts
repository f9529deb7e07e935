/**
 * The package as a user gets it: packed with `pnpm pack`, installed from the
 * tarball into an empty project (offline: its one dependency is optional), imported
 * from ESM, CommonJS and TypeScript under every `moduleResolution` people use.
 * Packs the `dist` that `pnpm build` made (scripts off: rebuilding here would
 * wipe `dist` under tests running beside this one).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const repoRoot = join(pkgDir, '..', '..');
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { name: string; license: string };
const name = pkg.name;
const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
const built = existsSync(join(pkgDir, 'dist', 'index.js'));
/** The OpenSSL addon's file here; CI requires it, a machine without a C compiler builds none. */
const ADDON = `openssl-aead-${process.platform}-${process.arch}.node`;
const withAddon = process.env.RUDP_REQUIRE_NATIVE === '1' || existsSync(join(pkgDir, 'dist', ADDON));
const UDP_ADDON = `udp-batch-${process.platform}-${process.arch}.node`;
const withUdpAddon = process.platform === 'linux' && (process.env.RUDP_REQUIRE_NATIVE === '1' || existsSync(join(pkgDir, 'dist', UDP_ADDON)));
/** What the round trip reports moving its datagrams with the packed addons. */
const firstIo = withUdpAddon ? 'batched' : 'node:dgram';
/** What the consumer's default seals with before sodium-native is installed. */
const firstCipher = withAddon ? 'openssl' : 'node:crypto';

let work = '';
let project = '';

const execFileAsync = promisify(execFile);

/** The pnpm the project pins (package.json's packageManager). */
const PNPM_VERSION = '10.34.8';
/**
 * How to run that pnpm: the one running the suite where it is that version (`pnpm test`, as CI runs it, names its
 * script in npm_execpath), else through npx. npx's own start, resolving the package, is ~1.5 s of CPU.
 */
const pnpm: readonly [string, readonly string[]] =
  process.env.npm_execpath?.endsWith('pnpm.cjs') === true && process.env.npm_config_user_agent?.startsWith(`pnpm/${PNPM_VERSION} `) === true
    ? [process.execPath, [process.env.npm_execpath]]
    : ['npx', ['--yes', `pnpm@${PNPM_VERSION}`]];

/** Runs a command without blocking the test worker (vitest talks to it meanwhile); its stdout. */
async function sh(cmd: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  // Without the NODE_PATH pnpm and vitest set (it reaches the workspace's packages): the consumer resolves only what it installed.
  const { NODE_PATH: _workspacePath, ...inherited } = process.env;
  try {
    const { stdout } = await execFileAsync(cmd, args, { cwd, encoding: 'utf8', timeout: 180_000, env: { ...inherited, ...env } });
    return stdout;
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${x.message}\n${x.stdout ?? ''}\n${x.stderr ?? ''}`);
  }
}

/** A script that connects to its own server over loopback and prints what came back. */
const roundTrip = (imp: string, core: string, testing: string): string => `
${imp}
${core}
${testing}
if (typeof Endpoint !== 'function' || typeof SimNetwork !== 'function') throw new Error('subpath exports missing');
const server = await listen({ port: 0 });
server.on('connection', (c) => c.on('message', (m) => void c.send(m).catch(() => {})));
const conn = await connect({ host: 'localhost', port: server.address().port });
const back = new Promise((resolve) => conn.once('message', resolve));
await conn.send('round trip');
const m = await back;
// One copy of the core behind every entry point: the connection is the subpath's class.
console.log(Buffer.isBuffer(m), m.toString(), new RudpError('ETIMEDOUT', 'x').code, packetCipherLibrary, datagramIoLibrary, conn.core instanceof Connection);
await conn.close();
await server.close();
`;

beforeAll(async () => {
  if (!built) return;
  work = mkdtempSync(join(tmpdir(), 'rudp-pack-'));
  await sh(pnpm[0], [...pnpm[1], 'pack', '--pack-destination', work], pkgDir, { npm_config_ignore_scripts: 'true' });
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error('pnpm pack wrote no tarball');
  project = join(work, 'consumer');
  await sh('mkdir', [project], work);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  // Without the optional sodium-native first, so the node:crypto fallback is what runs; a later test adds it.
  await sh('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', '--omit=optional', join(work, tarball)], project);
}, 240_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!built)(`the packed tarball, installed into an empty project`, () => {
  it('holds dist, the LICENSE its `license` names, and no sources or tests', () => {
    const dir = join(project, 'node_modules', name);
    const files = readdirSync(dir);
    expect(files).toEqual(expect.arrayContaining(['dist', 'LICENSE', 'README.md', 'package.json', 'examples', 'native', 'scripts']));
    // The OpenSSL packet cipher as built here, and its source and build script for other machines.
    if (withAddon) expect(readdirSync(join(dir, 'dist'))).toContain(ADDON);
    if (withUdpAddon) expect(readdirSync(join(dir, 'dist'))).toContain(UDP_ADDON);
    expect(readdirSync(join(dir, 'native'))).toEqual(['openssl-aead.c', 'udp-batch.c']);
    expect(readdirSync(join(dir, 'scripts'))).toEqual(['build-native.mjs']);
    expect(files).not.toContain('src');
    expect(files).not.toContain('test');
    expect(readFileSync(join(dir, 'LICENSE'), 'utf8')).toMatch(new RegExp(`^${pkg.license} License`));
  });

  it('ships a source map beside each script: mappings only, no path of the machine that built it', () => {
    const dir = join(project, 'node_modules', name, 'dist');
    const scripts = readdirSync(dir).filter((f) => /\.c?js$/.test(f));
    expect(scripts.length).toBeGreaterThan(8);
    for (const f of scripts) {
      expect(readFileSync(join(dir, f), 'utf8')).toMatch(new RegExp(`//# sourceMappingURL=${f.replace(/\./g, '\\.')}\\.map\\s*$`));
      const map = JSON.parse(readFileSync(join(dir, `${f}.map`), 'utf8')) as { file?: string; sources: string[]; sourcesContent?: unknown };
      // Without the sources inside (once for ESM, once for CommonJS): they more than doubled the tarball (tsup.config.ts).
      expect(map.sourcesContent).toBeUndefined();
      expect([map.file ?? '', ...map.sources].filter((p) => isAbsolute(p))).toEqual([]);
    }
  });

  it('puts a stack trace under --enable-source-maps in the TypeScript source, from ESM and CommonJS', async () => {
    // The line of src/core/config.ts that throws for an option out of range.
    const configLines = readFileSync(join(pkgDir, 'src', 'core', 'config.ts'), 'utf8').split('\n');
    const throwLine = configLines.findIndex((l) => l.includes("throw new RangeError(`rudp: option '${field}' must be")) + 1;
    expect(throwLine).toBeGreaterThan(0);
    const bad = `new Endpoint({ random: () => 4, plaintext: true, mtu: 5 })`;
    writeFileSync(join(project, 'trace.mjs'), `import { Endpoint } from '${name}/core';\ntry { ${bad}; } catch (e) { console.log(e.stack.split('\\n')[1].trim()); }\n`);
    writeFileSync(join(project, 'trace.cjs'), `const { Endpoint } = require('${name}/core');\ntry { ${bad}; } catch (e) { console.log(e.stack.split('\\n')[1].trim()); }\n`);
    const frame = new RegExp(`^at checkNumber \\(.*/node_modules/${name}/src/core/config\\.ts:${throwLine}:\\d+\\)$`);
    expect((await sh(process.execPath, ['--enable-source-maps', 'trace.mjs'], project)).trim()).toMatch(frame);
    expect((await sh(process.execPath, ['--enable-source-maps', 'trace.cjs'], project)).trim()).toMatch(frame);
    // Without the flag, Node reads no map: the frame is the bundle's.
    expect((await sh(process.execPath, ['trace.mjs'], project)).trim()).toMatch(/^at checkNumber \(file:.*\/dist\/chunk-[\w-]+\.js:\d+:\d+\)$/);
  });

  it('ships no scripts that need the source tree', () => {
    const dir = join(project, 'node_modules', name);
    // build and typecheck need tsup, tsc and src/, which the tarball does not hold (.pnpmfile.cjs drops them when packing).
    const published = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
    expect(published.scripts).toBeUndefined();
  });

  it('refuses to be packed by npm, which does not run the hook that drops those scripts', async () => {
    // --dry-run writes nothing; prepack's guard runs first, before any build.
    const refused = await sh('npm', ['pack', '--dry-run', '--no-audit', '--no-fund'], pkgDir).then(
      () => '',
      (e: Error) => e.message,
    );
    expect(refused).toContain('rudpx: pack and publish with pnpm');
  });

  it('imports from ESM and runs a round trip', async () => {
    writeFileSync(
      join(project, 'esm.mjs'),
      roundTrip(
        `import { listen, connect, RudpError, packetCipherLibrary, datagramIoLibrary } from '${name}';`,
        `import { Endpoint, Connection } from '${name}/core';`,
        `import { SimNetwork } from '${name}/testing';`,
      ),
    );
    expect(await sh(process.execPath, ['esm.mjs'], project)).toBe(`true round trip ETIMEDOUT ${firstCipher} ${firstIo} true\n`);
  });

  it('requires from CommonJS and runs a round trip', async () => {
    writeFileSync(
      join(project, 'cjs.cjs'),
      `(async () => {${roundTrip(
        `const { listen, connect, RudpError, packetCipherLibrary, datagramIoLibrary } = require('${name}');`,
        `const { Endpoint, Connection } = require('${name}/core');`,
        `const { SimNetwork } = require('${name}/testing');`,
      )}})().catch((e) => { console.error(e); process.exit(1); });`,
    );
    expect(await sh(process.execPath, ['cjs.cjs'], project)).toBe(`true round trip ETIMEDOUT ${firstCipher} ${firstIo} true\n`);
  });

  it('names its classes in the CommonJS build as in the ESM one (util.inspect, stack traces, constructor.name)', async () => {
    // tsup turns the CommonJS chunks into CommonJS with sucrase, which made every class with field
    // initializers an anonymous expression: RudpConnection.name was '_class3', a connection printed as
    // '_class3 { … }', and stack traces read '_class2.dispatch'. `keepNames` (tsup.config.ts) names them again.
    const names = `[RudpConnection.name, RudpServer.name, RudpError.name, Endpoint.name, Connection.name, Bbr.name, SimNetwork.name]`;
    writeFileSync(
      join(project, 'names.cjs'),
      `const { RudpConnection, RudpServer, RudpError, listen, connect } = require('${name}');
const { Endpoint, Connection, Bbr } = require('${name}/core');
const { SimNetwork } = require('${name}/testing');
(async () => {
  const server = await listen({ port: 0 });
  const conn = await connect({ port: server.address().port });
  console.log([...${names}, require('node:util').inspect(conn, { depth: 0 }).split(' ')[0], server.constructor.name].join(' '));
  await conn.close();
  await server.close();
})().catch((e) => { console.error(e); process.exit(1); });`,
    );
    writeFileSync(
      join(project, 'names.mjs'),
      `import { RudpConnection, RudpServer, RudpError } from '${name}';
import { Endpoint, Connection, Bbr } from '${name}/core';
import { SimNetwork } from '${name}/testing';
console.log(${names}.join(' '));`,
    );
    const expected = 'RudpConnection RudpServer RudpError Endpoint Connection Bbr SimNetwork';
    expect(await sh(process.execPath, ['names.mjs'], project)).toBe(`${expected}\n`);
    // inspect() of a live connection prints a `<ref *1>` marker first when it refers to itself.
    expect((await sh(process.execPath, ['names.cjs'], project)).replace('<ref *1> ', '')).toBe(`${expected} RudpConnection RudpServer\n`);
  });

  it("keeps instanceof across the two builds: an ESM app checks what a CommonJS dependency's rudpx made, and a subclass of its own stays ordinary", async () => {
    // The dependency hazard: `import` loads dist/index.js, the dependency's `require` dist/index.cjs, each with its own classes.
    writeFileSync(
      join(project, 'cross.mjs'),
      `
import { createRequire } from 'node:module';
import { RudpError, ServerKeyMismatchError, RudpConnection, RudpServer } from '${name}';
const dep = createRequire(import.meta.url)('${name}');
if (dep.RudpError === RudpError) throw new Error('one build loaded: nothing to check');
const server = await dep.listen({ port: 0 });
const port = server.address().port;
const conn = await dep.connect({ port });
const live = [conn instanceof RudpConnection, server instanceof RudpServer, conn instanceof RudpServer, server instanceof RudpConnection];
await conn.close();
await server.close();
// Nothing listens there now: the dependency's connect rejects with its own RudpError.
const refused = await dep.connect({ port }).then(() => undefined, (e) => e);
const key = new Uint8Array(32);
class AppError extends RudpError {}
const checks = [
  ...live,
  refused instanceof RudpError, refused.code,
  new dep.ServerKeyMismatchError(key, key, 'x') instanceof ServerKeyMismatchError,
  new dep.ServerKeyMismatchError(key, key, 'x') instanceof RudpError,
  new dep.RudpError('ETIMEDOUT', 'x') instanceof ServerKeyMismatchError,
  new RudpError('ETIMEDOUT', 'x') instanceof dep.RudpError,
  new AppError('ETIMEDOUT', 'x') instanceof AppError,
  new AppError('ETIMEDOUT', 'x') instanceof dep.RudpError,
  new RudpError('ETIMEDOUT', 'x') instanceof AppError,
  new dep.RudpError('ETIMEDOUT', 'x') instanceof AppError,
  new Error('x') instanceof RudpError,
  Object.assign(new Error('x'), { code: 'ETIMEDOUT' }) instanceof RudpError,
  null instanceof RudpError,
  5 instanceof RudpError,
  Reflect.ownKeys(refused).some((k) => typeof k === 'symbol'),
];
console.log(checks.join(' '));
`,
    );
    expect((await sh(process.execPath, ['cross.mjs'], project)).trim().split(' ')).toEqual([
      // live objects: the connection and the server are the app's classes', and not each other's
      'true', 'true', 'false', 'false',
      // a rejection, and the pinned-key error, are the app's RudpError and ServerKeyMismatchError; a plain RudpError is no ServerKeyMismatchError
      'true', 'ECONNREFUSED', 'true', 'true', 'false',
      // and the other way round
      'true',
      // a subclass of the app's own: its instances are RudpErrors of both builds; a RudpError of either build is no instance of it
      'true', 'true', 'false', 'false',
      // other errors, an error that only looks like one, and values that are no objects are not RudpErrors
      'false', 'false', 'false', 'false',
      // the brand is no own property of an error
      'false',
    ]);
  });

  it('seals packets with libsodium from ESM and CommonJS where the addons are missing and the optional sodium-native is installed', async () => {
    rmSync(join(project, 'node_modules', name, 'dist', ADDON), { force: true });
    rmSync(join(project, 'node_modules', name, 'dist', UDP_ADDON), { force: true });
    expect(await sh(process.execPath, ['esm.mjs'], project)).toBe('true round trip ETIMEDOUT node:crypto node:dgram true\n');
    // The workspace's copy (a prebuilt binary from the registry), linked in as npm would install it.
    symlinkSync(realpathSync(join(pkgDir, 'node_modules', 'sodium-native')), join(project, 'node_modules', 'sodium-native'), 'dir');
    expect(await sh(process.execPath, ['esm.mjs'], project)).toBe('true round trip ETIMEDOUT libsodium node:dgram true\n');
    expect(await sh(process.execPath, ['cjs.cjs'], project)).toBe('true round trip ETIMEDOUT libsodium node:dgram true\n');
  });

  it.skipIf(!withAddon)("rebuilds the addons in the user's project with the shipped script, and seals with OpenSSL again", async () => {
    const out = await sh(process.execPath, [join('node_modules', name, 'scripts', 'build-native.mjs')], project, { RUDP_REQUIRE_NATIVE: '1' });
    expect(out).toContain(`rudpx: built ${join(project, 'node_modules', name, 'dist', ADDON)}`);
    if (withUdpAddon) expect(out).toContain(`rudpx: built ${join(project, 'node_modules', name, 'dist', UDP_ADDON)}`);
    expect(await sh(process.execPath, ['esm.mjs'], project)).toBe(`true round trip ETIMEDOUT openssl ${firstIo} true\n`);
    expect(await sh(process.execPath, ['cjs.cjs'], project)).toBe(`true round trip ETIMEDOUT openssl ${firstIo} true\n`);
  });

  const consumerTs = `
import { connect, listen, RudpError, type RudpConnection, type ConnectOptions } from '${name}';
import { Endpoint, type Connection, type ConnectionConfig } from '${name}/core';
import { SimNetwork } from '${name}/testing';
import { fingerprint, type CryptoProvider } from '${name}/crypto';
const options: ConnectOptions = { host: 'localhost', port: 4000, signal: AbortSignal.timeout(1000), highWaterMark: 1 << 20 };
export async function use(conn: RudpConnection): Promise<number> {
  await conn.send(new Uint16Array([1, 2]));
  for await (const m of conn) return m.readUInt8(0);
  return conn.bufferedAmount;
}
export const refs: readonly unknown[] = [connect, options, Endpoint, SimNetwork, fingerprint, (p: CryptoProvider) => p.sha256, (c: Partial<ConnectionConfig>) => c.mtu];
export const code: string = new RudpError('ENOTFOUND', 'x').code;
// A core connection's public fields, declared on the base class it extends (core/connection/members.ts), which no entry names.
export const described = (c: Connection): string => \`\${c.role} \${c.localCid} \${c.remoteCid} \${c.state} \${String(c.userData)} \${c.closeReason?.kind ?? ''} \${c.keyMismatch === undefined}\`;
// Options read from a configuration that may leave them out: under exactOptionalPropertyTypes an option
// typed \`?: string\` refused \`string | undefined\`, though every option takes undefined as "the default".
declare const env: { readonly [name: string]: string | undefined };
const maybe = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));
export const fromConfig: ConnectOptions = { host: env['HOST'], port: 4000, signal: undefined, serverKey: undefined, idleTimeoutMs: maybe(env['IDLE']), highWaterMark: maybe(env['HWM']) };
export async function sendFromConfig(conn: RudpConnection, signal: AbortSignal | undefined): Promise<void> {
  await conn.send('x', { channel: maybe(env['CHANNEL']), reliable: undefined, signal });
  conn.write('x', { ordered: undefined });
  await conn.close({ signal });
}
// \`await using\` with lib es2022 and no esnext.disposable: @types/node declares Symbol.asyncDispose and AsyncDisposable.
export async function scoped(): Promise<void> {
  await using server = await listen({ port: 0 });
  await using conn = await connect({ port: server.address().port });
  conn.write('x');
}
`;
  const typeRoots = join(repoRoot, 'node_modules', '@types');
  /** What every check shares (exactOptionalPropertyTypes: a consumer may turn it on, and the published types must hold under it). */
  const base = { noEmit: true, strict: true, exactOptionalPropertyTypes: true, skipLibCheck: false, typeRoots: [typeRoots], types: ['node'], target: 'es2022', lib: ['es2022'] };

  const internals = `
import { RudpConnection, RudpServer } from '${name}';
import type { Connection, ConnectionMembers, Endpoint } from '${name}/core';
import type { ConnectionMembers as Members } from '${name}';
export type Bases = ConnectionMembers | Members;
export function misuse(conn: RudpConnection, core: Connection, ep: Endpoint): void {
  new RudpServer();
  new RudpConnection();
  conn.setHold('x' as never, true);
  conn.fail(new Error('x') as never, { kind: 'local', code: 0, message: '' });
  conn.onAcked(0, 1);
  ep.emit({ type: 'connected', connection: core });
  ep.wake(core);
  void core.pollQueued;
  core.acked(0 as never);
  // State the functions in core/connection/, core/endpoint/ and node/ modules reach: marked internal, not private.
  conn.closedWith = undefined;
  conn.buffered = 0;
  core.nextPn = 0;
  core.protection = undefined;
  void core.sendQueue;
  void ep.drops;
  void ep.stateless;
}
`;
  /**
   * The consumer checked under each `moduleResolution`, one tsconfig each: node16 with a CommonJS and an ESM
   * consumer and one misusing the internals, bundler and node10 with a consumer of their own (a file name
   * each, so a diagnostic names its check).
   */
  const CHECKS = {
    node16: { options: { module: 'node16', moduleResolution: 'node16' }, files: ['consumer.ts', 'consumer.mts', 'internals.ts'] },
    bundler: { options: { module: 'esnext', moduleResolution: 'bundler' }, files: ['consumer-bundler.ts'] },
    node10: { options: { module: 'commonjs', moduleResolution: 'node', ignoreDeprecations: '5.0' }, files: ['consumer-node10.ts'] },
  } as const;
  type Check = keyof typeof CHECKS;
  /** tsc's diagnostics by check, then by the file they are in ('' for a file of none of the check's: a published declaration's, tsc's own); `outside` what no check printed. */
  interface Diagnostics {
    readonly byCheck: ReadonlyMap<Check, ReadonlyMap<string, readonly string[]>>;
    readonly outside: readonly string[];
  }
  /**
   * The three checks in one `tsc -b` of a solution referencing them, not three tsc runs: each checks every
   * declaration file (skipLibCheck off), @types/node's above all, and three processes each loaded and warmed
   * up tsc anew (about 7 s of CPU more in all). Build mode checks each tsconfig as its own program, as
   * `tsc -p` does; --verbose's "Building project" line starts each one's diagnostics (a line at the margin,
   * `file(line,col): error …` or a bare `error …`, and the indented lines after it), its other status lines
   * are dropped.
   */
  let typeChecked: Promise<Diagnostics> | undefined;
  const typeCheck = () =>
    (typeChecked ??= (async () => {
      writeFileSync(join(project, 'consumer.ts'), consumerTs);
      writeFileSync(join(project, 'consumer.mts'), consumerTs);
      writeFileSync(join(project, 'consumer-bundler.ts'), consumerTs);
      writeFileSync(join(project, 'consumer-node10.ts'), consumerTs);
      writeFileSync(join(project, 'internals.ts'), internals);
      const checks = Object.keys(CHECKS) as Check[];
      for (const c of checks) writeFileSync(join(project, `tsconfig.${c}.json`), JSON.stringify({ compilerOptions: { ...base, ...CHECKS[c].options }, files: CHECKS[c].files }));
      writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ files: [], references: checks.map((c) => ({ path: `tsconfig.${c}.json` })) }));
      // internals.ts does not type-check, so tsc exits non-zero: its output is all that is read.
      const out = await execFileAsync(process.execPath, [tsc, '-b', '--verbose', '--force', '--pretty', 'false', 'tsconfig.json'], { cwd: project, encoding: 'utf8', timeout: 120_000 }).then(
        (r) => r.stdout + r.stderr,
        (e: { stdout?: string; stderr?: string }) => `${e.stdout ?? ''}${e.stderr ?? ''}`,
      );
      const byCheck = new Map<Check, Map<string, string[]>>();
      const outside: string[] = [];
      let current: Map<string, string[]> | undefined;
      let files: readonly string[] = [];
      for (const d of out.split(/\n(?=\S)/).map((l) => l.trimEnd()).filter((l) => l !== '')) {
        const status = /^\S.*? - (?:Projects in this build:|Project '[^']*' is being forcibly rebuilt|Building project '[^']*[/]tsconfig\.(\w+)\.json'\.\.\.)\s*$/.exec(d.split('\n')[0] ?? '');
        if (status) {
          const c = checks.find((x) => x === status[1]);
          if (c) {
            files = CHECKS[c].files;
            current = new Map([...files, ''].map((f) => [f, []]));
            byCheck.set(c, current);
          }
        } else if (current) current.get(files.find((f) => d.startsWith(`${f}(`)) ?? '')?.push(d);
        else outside.push(d);
      }
      return { byCheck, outside };
    })());

  it.each([
    ['node16 (CommonJS consumer)', 'node16', 'consumer.ts'],
    ['node16 (ESM consumer)', 'node16', 'consumer.mts'],
    ['bundler', 'bundler', 'consumer-bundler.ts'],
    ['node (node10, typesVersions)', 'node10', 'consumer-node10.ts'],
  ] as const)('type-checks under moduleResolution %s', async (_label, check, file) => {
    const { byCheck, outside } = await typeCheck();
    // The check ran, and found nothing in the consumer nor outside its files; tsc printed nothing of no check's.
    const diagnostics = byCheck.get(check);
    expect(diagnostics?.get(file)).toEqual([]);
    expect(diagnostics?.get('')).toEqual([]);
    expect(outside).toEqual([]);
    // That run checked: internals.ts's errors are there.
    expect(byCheck.get('node16')?.get('internals.ts')?.length).toBeGreaterThan(0);
  }, 180_000);

  it('keeps the internals out of the published types: a consumer calling them does not type-check', async () => {
    const out = (await typeCheck()).byCheck.get('node16')?.get('internals.ts')?.join('\n') ?? '';
    for (const member of ['setHold', 'fail', 'onAcked', 'emit', 'wake', 'pollQueued', 'acked', 'closedWith', 'buffered', 'nextPn', 'protection', 'sendQueue', 'drops', 'stateless']) {
      expect(out).toMatch(new RegExp(`Property '${member}' does not exist on type`));
    }
    // Connection's base class (its fields, core/connection/members.ts) is in the published types, as a class extended
    // must be, but no entry exports it: an application cannot name it, extend it or make one.
    expect(out.match(/has no exported member(?: named)? 'ConnectionMembers'/g)?.length).toBe(2);
    // Only made by listen and connect: a bare `new` is refused (it was taken for EventEmitter's constructor).
    expect(out.match(/error TS2554: Expected [0-9]+(-[0-9]+)? arguments, but got 0/g)).toHaveLength(2);
  }, 180_000);
});
