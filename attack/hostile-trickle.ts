/**
 * Attack round 8, angle 3: the real forum-client (piped, as a script runs it)
 * against a hostile server that grants a DWN or UPD and then trickles its
 * sealed answer on the TCP transfer port one byte every TRICKLE_MS (under the
 * client's 30 s inactivity limit).
 *
 *   npx tsx attack/hostile-trickle.ts dwn-header [seconds=70] [trickleMs=10000]   # the `OK SIZE` line, a byte at a time
 *   npx tsx attack/hostile-trickle.ts dwn-body   [seconds=70] [trickleMs=10000]   # `OK 100` at once, then the body a byte at a time
 *   npx tsx attack/hostile-trickle.ts upd-answer [seconds=70] [trickleMs=10000]   # the upload's answer line, a byte at a time
 *   npx tsx attack/hostile-trickle.ts upd-body   [seconds=70] [trickleMs=10000]   # a 64 MiB upload read from the socket a byte at a time
 *
 * Prints whether the client was still waiting when the run ended, and what it printed.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode, deriveTransferKeys, encodeServerMessage, SecureTransferChannel, sessionExporter, simpleReply, type Reply } from '../packages/forum-protocol/dist/index.js';
import { listen, type RudpConnection } from '../packages/rudp/dist/index.js';

const CLIENT_BIN = new URL('../packages/client/bin/forum-client.js', import.meta.url).pathname;
const mode = process.argv[2] ?? 'dwn-header';
const seconds = Number(process.argv[3] ?? 70);
const trickleMs = Number(process.argv[4] ?? 10_000);
const TOKEN = 'cd'.repeat(32);

let session: RudpConnection | undefined;
const tcp = net.createServer({ allowHalfOpen: true }, (socket) => {
  socket.on('error', () => undefined);
  let head = '';
  const onData = (d: Buffer): void => {
    head += d.toString('latin1');
    if (!head.includes('\n') || session === undefined) return;
    socket.off('data', onData);
    if (mode === 'upd-body') {
      // Reads the upload off the socket a byte at a time: the client's sends wait on TCP's flow control.
      socket.pause();
      const timer = setInterval(() => (socket.destroyed ? clearInterval(timer) : socket.read(1)), trickleMs);
      return;
    }
    const ch = new SecureTransferChannel(socket, deriveTransferKeys(sessionExporter(session), TOKEN), 'server');
    ch.on('error', () => undefined);
    ch.resume();
    const text = mode === 'dwn-header' ? 'OK 100\n' : mode === 'dwn-body' ? 'x'.repeat(100) : 'ERR ' + 'z'.repeat(4000);
    if (mode === 'dwn-body') ch.write('OK 100\n');
    let i = 0;
    const start = (): void => {
      const timer = setInterval(() => {
        if (i >= text.length || socket.destroyed) return clearInterval(timer);
        ch.write(text[i++] as string);
      }, trickleMs);
      ch.write(text[i++] as string);
    };
    // An upload's answer comes once the whole file (its final record) is in.
    if (mode === 'upd-answer') ch.once('end', start);
    else start();
  };
  socket.on('data', onData);
});
await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
const tcpPort = (tcp.address() as net.AddressInfo).port;
const udp = await listen({ port: 0 });
udp.on('connection', (conn) => {
  session = conn;
  conn.on('message', (bytes) => {
    const r = decode(bytes);
    if (r._tag === 'Left') return;
    const { id, cmd } = r.right;
    const transfer = (direction: 'upload' | 'download'): Reply =>
      simpleReply(id, 'ok', [], { kind: 'transfer', direction, thread: 't', filename: 'f.bin', port: tcpPort, token: TOKEN, size: 100, completionLine: 'done' });
    const reply: Reply =
      cmd === 'username'
        ? simpleReply(id, 'ok', [], { kind: 'auth', next: 'password' })
        : cmd === 'password'
          ? simpleReply(id, 'ok', ['Welcome to the forum'], { kind: 'auth', next: 'command' })
          : cmd === 'DWN'
            ? transfer('download')
            : cmd === 'UPD'
              ? transfer('upload')
              : simpleReply(id, 'ok', ['Goodbye'], { kind: 'goodbye' });
    conn.send(encodeServerMessage(reply)).catch(() => undefined);
  });
});
const cwd = await mkdtemp(join(tmpdir(), 'a8-trickle-'));
// An upload read slowly must not fit in the socket buffers of both ends (a few MiB on loopback).
await writeFile(join(cwd, 'f.bin'), Buffer.alloc(mode === 'upd-body' ? 64 * 1024 * 1024 : 100, 1));
const cmd = mode === 'upd-answer' || mode === 'upd-body' ? 'UPD t f.bin' : 'DWN t f.bin';
const child = spawn(process.execPath, [CLIENT_BIN, String(udp.address().port), '--known-hosts', join(cwd, 'kh')], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
let out = '';
child.stdout.on('data', (d: Buffer) => (out += d.toString()));
child.stderr.on('data', (d: Buffer) => (out += d.toString()));
child.stdin.end(`yoda\npw\n${mode === 'dwn-header' || mode === 'dwn-body' ? 'DWN t f.bin --overwrite' : cmd}\nXIT\n`);
const started = Date.now();
const exited = new Promise<number | null>((r) => child.once('close', (c) => r(c)));
const result = await Promise.race([exited, new Promise<'running'>((r) => setTimeout(() => r('running'), seconds * 1000))]);
const waited = Math.round((Date.now() - started) / 1000);
console.log(`[${mode}] trickle 1 byte / ${trickleMs} ms: after ${waited} s the client is ${result === 'running' ? 'STILL WAITING' : `done (exit ${String(result)})`}`);
console.log(`[${mode}] client output (last lines): ${JSON.stringify(out.split('\n').slice(-3).join(' | ').slice(-300))}`);
console.log(`[${mode}] files in its directory: ${(await readdir(cwd)).join(', ')}`);
child.kill('SIGKILL');
await udp.close();
tcp.close();
process.exit(0);
