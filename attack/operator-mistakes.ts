/**
 * Attack round 19: the operator and the machine's file system. Runs the built forum-server and forum-client
 * (as root, some steps as `nobody` through spawn's uid) against the mistakes an operator makes and a local
 * environment that is not as expected, and prints one line per attempt: its exit status, the first line it
 * printed on stderr (or the answer that matters), and what was left in the data directory.
 *
 *   npx tsx attack/operator-mistakes.ts [flags|datadir|credentials|client|all=all]
 *
 * A tiny full tmpfs is mounted (and unmounted) for the full-disk start: root only; skipped otherwise.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SERVER_BIN = new URL('../packages/server/bin/forum-server.js', import.meta.url).pathname;
const CLIENT_BIN = new URL('../packages/client/bin/forum-client.js', import.meta.url).pathname;
const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;
const which = process.argv[2] ?? 'all';
const root = await mkdtemp(join(tmpdir(), 'a19-'));
await chmod(root, 0o755);
const knownHosts = join(root, 'known_hosts');
let portSeed = 20000 + Math.floor(Math.random() * 20000);
const freshPort = (): number => (portSeed += 3);

const firstLine = (text: string): string => text.trim().split('\n')[0] ?? '';
const report = (what: string, status: number | null | string, said: string, extra = ''): void => console.log(`${what.padEnd(58)} | ${String(status).padEnd(4)} | ${said}${extra === '' ? '' : ` | ${extra}`}`);
const freshDir = async (label: string): Promise<string> => {
  const d = join(root, `${label}-${freshPort()}`);
  await mkdir(d, { recursive: true });
  return d;
};
const listing = async (dir: string): Promise<string> => (await readdir(dir).catch(() => [] as string[])).sort().join(' ');

/** A server run with `args` for at most `ms` (then SIGINT): its status and stderr. */
const serverRun = (args: readonly string[], ms = 4000, uid?: number): { status: number | string | null; stderr: string } => {
  const r = spawnSync(process.execPath, [SERVER_BIN, ...args], { encoding: 'utf8', timeout: ms, killSignal: 'SIGINT', ...(uid === undefined ? {} : { uid, gid: uid }) });
  // Still running when the time was up (stopped by the SIGINT): it started.
  const ran = (r.error as { code?: unknown } | undefined)?.code === 'ETIMEDOUT';
  return { status: ran ? 'ran' : r.status, stderr: r.stderr };
};

/** A server started in the background, ready; `stop` sends SIGINT and waits. */
const startServer = async (dir: string, extra: readonly string[] = [], uid?: number): Promise<{ port: number; stderr: () => string; stdout: () => string; stop: () => Promise<void> }> => {
  const port = freshPort();
  const child = spawn(process.execPath, [SERVER_BIN, String(port), '--data-dir', dir, ...extra], { stdio: ['ignore', 'pipe', 'pipe'], ...(uid === undefined ? {} : { uid, gid: uid }) });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  for (let i = 0; i < 200 && !/UDP \S+:\d+/.test(err) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 50));
  return { port, stderr: () => err, stdout: () => out, stop: async () => void (child.kill('SIGINT'), await exited) };
};

/** forum-client with `lines` piped in: status, stdout without prompts, stderr. */
const clientRun = (port: number, lines: readonly string[], options: { cwd?: string; args?: readonly string[]; uid?: number; knownHosts?: string } = {}): { status: number | null; out: string; err: string; ms: number } => {
  const started = Date.now();
  const r = spawnSync(process.execPath, [CLIENT_BIN, String(port), '--known-hosts', options.knownHosts ?? knownHosts, ...(options.args ?? [])], {
    input: lines.map((l) => `${l}\n`).join(''),
    encoding: 'utf8',
    timeout: 30_000,
    cwd: options.cwd ?? root,
    ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.uid }),
  });
  const out = r.stdout.replace(/Enter (one of the following commands: [A-Z, ]+|username|password|New user, enter password): /g, '').trim().split('\n').join(' / ');
  const err = r.stderr.split('\n').filter((l) => !/not in .* yet|fingerprint is|Trusting it/.test(l)).join(' ').trim();
  return { status: r.status, out, err, ms: Date.now() - started };
};

if (which === 'all' || which === 'flags') {
  console.log('\n# forum-server and forum-client arguments (status | first stderr line)');
  const data = await freshDir('flags');
  for (const args of [[], ['-5'], ['70000'], ['abc'], [''], ['4000', '4001'], ['4000', '--port', '4001'], ['4000', '--idle-timeout', '0'], ['4000', '--idle-timeout=-1'], ['4000', '--idle-timeout', '1e9'], ['4000', '--idle-timeout='], ['4000', '--max-upload-bytes', '99999999999999999999'], ['4000', '--max-data-bytes', '0'], ['4000', '--host', 'a', '--host', 'b'], ['4000', '--transfer-port', '70000'], ['4000', '--bogus'], ['4000', '--hash-passwords=yes'], ['4000', '--data-dir', '']]) {
    const r = serverRun([...args, ...(args.includes('--data-dir') ? [] : ['--data-dir', data])]);
    report(`forum-server ${args.map((a) => (a === '' ? "''" : a)).join(' ')}`, r.status, firstLine(r.stderr));
  }
  for (const host of ['1.2.3.4', 'nonexistent.invalid', 'fe80::1', '[::1]', '::1', '0.0.0.0']) {
    const r = serverRun([String(freshPort()), '--host', host, '--data-dir', data], 3000);
    report(`forum-server P --host ${host}`, r.status, firstLine(r.stderr.replace(/^forum-server: identity.*\n/m, '')));
  }
  for (const args of [['0'], ['70000'], ['-1'], ['4000', '--timeout', '0'], ['4000', '--timeout', '1e3'], ['4000', '--host', ''], ['4000', '--bogus'], ['4000', '--timeout', '1', '--timeout', '2']]) {
    const s = spawnSync(process.execPath, [CLIENT_BIN, ...args], { encoding: 'utf8', input: '' });
    report(`forum-client ${args.join(' ')}`, s.status, firstLine(s.stderr));
  }
}

if (which === 'all' || which === 'datadir') {
  console.log('\n# the data directory (status | first stderr line | files left)');
  const file = join(root, 'a-file');
  await writeFile(file, 'x');
  let r = serverRun([String(freshPort()), '--data-dir', file]);
  report('--data-dir naming a file', r.status, firstLine(r.stderr));
  const typo = join(root, 'typo', 'deeper');
  r = serverRun([String(freshPort()), '--data-dir', typo], 3000);
  report('--data-dir that does not exist (a typo)', r.status, r.stderr.split('\n').find((l) => l.includes('created the data directory')) ?? firstLine(r.stderr), await listing(typo));
  if (asRoot) {
    const ro = await freshDir('ro');
    await writeFile(join(ro, 'credentials.txt'), 'alice secret\n');
    await chmod(ro, 0o555);
    r = serverRun([String(freshPort()), '--data-dir', ro], 4000, NOBODY);
    report('a read-only data directory (0555, as nobody)', r.status, firstLine(r.stderr), await listing(ro));
    const files = await freshDir('rofiles');
    await writeFile(join(files, 'credentials.txt'), 'alice secret\n');
    await writeFile(join(files, 'news'), 'alice\n1 alice: hi\n');
    for (const f of ['', 'credentials.txt', 'news']) await chown(join(files, f), NOBODY, NOBODY);
    await chmod(join(files, 'news'), 0o444);
    await chmod(join(files, 'credentials.txt'), 0o444);
    const s = await startServer(files, [], NOBODY);
    const c = clientRun(s.port, ['alice', 'secret', 'MSG news hello', 'CRT other', 'MSG other x', 'XIT']);
    const n = clientRun(s.port, ['carol', 'pw', 'XIT']);
    await chmod(join(files, 'news'), 0o644);
    const again = clientRun(s.port, ['alice', 'secret', 'MSG news hello again', 'XIT']);
    await s.stop();
    report('read-only credentials.txt and thread file (as nobody)', 'up', s.stderr().split('\n').filter((l) => l.startsWith('Warning')).join(' '), '');
    report('  alice: MSG news, CRT other, MSG other', c.status, c.out);
    report('  carol (new account)', n.status, n.err);
    report('  news made writable, no restart: MSG news', again.status, again.out);
  }
  const link = join(root, `link-${freshPort()}`);
  const target = await freshDir('target');
  execFileSync('ln', ['-s', target, link]);
  const a = await startServer(target);
  r = serverRun([String(freshPort()), '--data-dir', link]);
  await a.stop();
  report('two servers, the second through a symlink', r.status, firstLine(r.stderr));
  const foreign = await freshDir('foreign');
  await writeFile(join(foreign, 'notes.txt'), 'shopping list\n');
  await writeFile(join(foreign, 'README'), 'bob\n');
  await writeFile(join(foreign, '.forum-tmp-keep'), 'another program\'s file\n');
  r = serverRun([String(freshPort()), '--data-dir', foreign], 3000);
  report('a directory of another program', r.status, r.stderr.split('\n').filter((l) => l.startsWith('Warning')).join(' '), await listing(foreign));
  if (asRoot) {
    const full = await freshDir('full');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', full]);
    try {
      await writeFile(join(full, 'credentials.txt'), 'alice secret\n');
      await writeFile(join(full, 'filler'), Buffer.alloc(60 * 1024)).catch(() => undefined);
      r = serverRun([String(freshPort()), '--data-dir', full]);
      report('a full 64 KiB tmpfs at start', r.status, firstLine(r.stderr), await listing(full));
    } finally {
      execFileSync('umount', [full]);
    }
  }
  const hand = await freshDir('hand');
  await writeFile(join(hand, 'credentials.txt'), 'alice secret\n');
  await writeFile(join(hand, 'good'), 'alice\n1 alice: one\nalice uploaded f.txt\n');
  await writeFile(join(hand, 'nulbyte'), 'alice\n1 alice: a\0b\n');
  await writeFile(join(hand, 'garbage'), Buffer.from([0xff, 0xfe, 0x00, 0x41, 0x0a]));
  await writeFile(join(hand, 'huge'), `alice\n1 alice: ${'x'.repeat(17 * 2 ** 20)}\n`);
  await writeFile(join(hand, 'bom'), '\uFEFFalice\r\n1 alice: bom and crlf\r\n');
  await writeFile(join(hand, 'stray-name.bin'), 'x');
  const s = await startServer(hand);
  const c = clientRun(s.port, ['alice', 'secret', 'LST', 'RDT bom', 'DWN good f.txt', 'CRT nulbyte', 'MSG bom more', 'XIT']);
  await s.stop();
  report('thread files edited by hand: warnings', 'up', s.stderr().split('\n').filter((l) => l.startsWith('Warning')).map((l) => l.replace(/ nor an upload.*/, '')).join(' ; '));
  report('  LST, RDT bom, DWN (never uploaded), CRT nulbyte, MSG bom', c.status, c.out);
}

if (which === 'all' || which === 'credentials') {
  console.log('\n# credentials.txt by hand (what a login as alice with a new password gets)');
  for (const [label, text] of [
    ['BOM and CRLF (Notepad)', '\uFEFFalice secret\r\nbob pw\r\n'],
    ['a trailing blank', 'alice secret \nbob pw\n'],
    ['a tab', 'alice\tsecret\nbob pw\n'],
    ['no password', 'alice\nbob pw\n'],
  ] as const) {
    const dir = await freshDir('creds');
    await writeFile(join(dir, 'credentials.txt'), text);
    const s = await startServer(dir);
    // No XIT: after a refusal at the username prompt a script's next line is read as a username.
    const thief = clientRun(s.port, ['alice', 'hacked']);
    const bob = clientRun(s.port, ['bob', 'pw', 'XIT']);
    await s.stop();
    const after = await readFile(join(dir, 'credentials.txt'), 'utf8');
    report(label, thief.status, thief.out, `bob: ${bob.out.split(' / ')[0] ?? ''}; file ${after === text ? 'unchanged' : `now ${JSON.stringify(after)}`}`);
  }
}

if (which === 'all' || which === 'client') {
  console.log('\n# forum-client (status | answer | stderr | ms)');
  const dir = await freshDir('cl');
  const s = await startServer(dir);
  const cwd = await freshDir('cwd');
  await chmod(cwd, 0o777);
  await writeFile(join(cwd, 'up.txt'), 'data\n');
  await mkdir(join(cwd, 'adir'));
  let c = clientRun(s.port, ['alice', 'pw', 'CRT t', 'UPD t missing.txt', 'UPD t adir', 'UPD t up.txt', 'DWN t up.txt', 'XIT'], { cwd });
  report('UPD missing / directory / ok, DWN onto an existing file', c.status, c.out);
  await rm(join(cwd, 'up.txt'));
  await mkdir(join(cwd, 'up.txt'));
  c = clientRun(s.port, ['alice', 'pw', 'DWN t up.txt --overwrite', 'XIT'], { cwd });
  report('DWN --overwrite onto a directory', c.status, c.out);
  if (asRoot) {
    const ro = join(cwd, 'ro');
    await mkdir(ro);
    await chmod(ro, 0o555);
    c = clientRun(s.port, ['bob', 'pw', 'DWN t up.txt', 'XIT'], { cwd: ro, uid: NOBODY, knownHosts: join(cwd, 'kh') });
    report('DWN into a read-only directory (as nobody)', c.status, c.out);
  }
  const silent = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', () => resolve()));
  for (const [label, port, args] of [
    ['a host name that does not resolve', s.port, ['--host', 'nonexistent.invalid']],
    ['a port with nothing on it', freshPort(), []],
    ['a silent port (--timeout 1)', silent.address().port, ['--timeout', '1']],
  ] as const) {
    const r = clientRun(port, ['alice'], { args });
    report(label, r.status, r.err, `${r.ms} ms`);
  }
  silent.close();
  for (const input of [[], ['alice'], ['bob'], ['alice', 'pw']]) {
    const r = clientRun(s.port, input);
    report(`stdin closed after ${JSON.stringify(input)}`, r.status, r.out, r.err);
  }
  for (const [signal, lines] of [
    ['SIGTERM', []],
    ['SIGTERM', ['carol', 'pw']],
    ['SIGINT', ['dave', 'pw']],
    ['SIGHUP', ['erin', 'pw']],
  ] as const) {
    const child = spawn(process.execPath, [CLIENT_BIN, String(s.port), '--known-hosts', knownHosts], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (x: string) => (out += x));
    child.stderr.setEncoding('utf8').on('data', (x: string) => (err += x));
    child.stdin.write(lines.map((l) => `${l}\n`).join(''));
    const prompt = lines.length === 0 ? 'Enter username: ' : 'XIT: ';
    for (let i = 0; i < 200 && !out.endsWith(prompt); i++) await new Promise((r) => setTimeout(r, 25));
    const sent = Date.now();
    child.kill(signal);
    const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const again = lines.length === 0 ? undefined : clientRun(s.port, [lines[0] ?? '', 'pw', 'XIT']);
    report(`${signal} at the ${lines.length === 0 ? 'username' : 'command'} prompt`, status, err.split('\n').filter((l) => /SIGTERM|SIGINT|SIGHUP/.test(l)).join(' '), `${Date.now() - sent} ms${again === undefined ? '' : `; same user again: ${again.out.split(' / ')[0] ?? ''}`}`);
  }
  await s.stop();
}

await rm(root, { recursive: true, force: true }).catch(() => undefined);
