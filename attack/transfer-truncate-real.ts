/**
 * Attack round 29, item 4: an attacker on the path truncating the TCP transfer cleanly (its FIN after the first k
 * bytes, the rest withheld), against the built forum-server and forum-client. SECURITY.md (What an attacker on the
 * path can do): it "can drop, delay or reorder traffic and reset the TCP transfer connection: a connection or a
 * transfer then fails, never succeeds wrongly". Round 11 (`onpath-transfer.ts`) forged refusals, stole and
 * replayed tokens and swapped streams, with the client's transfer code from source; no round cut a stream short.
 *
 *   npx tsx attack/transfer-truncate-real.ts [fileBytes=300000]
 *
 * The client runs with `--host 127.0.0.5`: its UDP goes through a relay there to the server on 127.0.0.1, and its
 * transfer connections to 127.0.0.5:T reach a TCP relay that passes them to the server's transfer port T. A first
 * UPD and DWN pass whole (the streams' lengths); then for each cut point k a DWN whose server → client stream is
 * ended after k bytes, and an UPD (a file of its own name) whose client → server stream is ended after k bytes,
 * the other direction passed on. Per trial: what the client said, whether the downloaded file (or a temporary
 * one) is left in its directory, and (at the end, by RDT) whether the server listed the upload.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtemp, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './lib-path.js';

const SERVER_BIN = new URL('../packages/server/bin/forum-server.js', import.meta.url).pathname;
const CLIENT_BIN = new URL('../packages/client/bin/forum-client.js', import.meta.url).pathname;
const fileBytes = Number(process.argv[2] ?? 300_000);
const FRONT = '127.0.0.5';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Proc {
  readonly child: ChildProcess;
  readonly out: () => string;
}
const proc = (args: readonly string[], cwd: string): Proc => {
  const child = spawn(process.execPath, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  child.stdin?.on('error', () => undefined);
  return { child, out: () => out };
};

/** The next transfer connection's cut: which direction, after how many bytes; `undefined` passes it whole. */
interface Cut {
  readonly dir: 'to-client' | 'to-server';
  readonly at: number;
}
let nextCut: Cut | undefined;
/** Bytes each direction carried on the last transfer connection. */
const last = { toClient: 0, toServer: 0 };

const dataDir = await mkdtemp(join(tmpdir(), 'a29-trunc-'));
const cwd = await mkdtemp(join(tmpdir(), 'a29-trunc-cwd-'));
const tcpPort = 30_000 + (process.pid % 20_000);
const server = proc([SERVER_BIN, '0', '--data-dir', dataDir, '--transfer-port', String(tcpPort)], dataDir);
try {
  await waitFor(() => server.out().includes('Waiting for clients'), 15_000);
  const udpPort = Number(/UDP [^ ]+:([0-9]+)/.exec(server.out())?.[1]);
  // UDP relay: FRONT:any <-> 127.0.0.1:udpPort.
  const front = dgram.createSocket('udp4');
  const up = dgram.createSocket('udp4');
  await new Promise<void>((r) => front.bind(0, FRONT, () => r()));
  await new Promise<void>((r) => up.bind(0, '127.0.0.1', () => r()));
  let client: dgram.RemoteInfo | undefined;
  front.on('message', (m, rinfo) => {
    client = rinfo;
    up.send(m, udpPort, '127.0.0.1');
  });
  up.on('message', (m) => {
    if (client !== undefined) front.send(m, client.port, client.address);
  });
  // TCP relay: FRONT:tcpPort -> 127.0.0.1:tcpPort, cutting as `nextCut` says.
  const tcp = net.createServer({ allowHalfOpen: true }, (c) => {
    const cut = nextCut;
    nextCut = undefined;
    last.toClient = 0;
    last.toServer = 0;
    const s = net.connect({ port: tcpPort, host: '127.0.0.1', allowHalfOpen: true });
    c.on('error', () => undefined);
    s.on('error', () => undefined);
    const pass = (from: net.Socket, to: net.Socket, dir: Cut['dir']): void => {
      let done = false;
      from.on('data', (d: Buffer) => {
        if (done) return;
        const seen = dir === 'to-client' ? last.toClient : last.toServer;
        if (cut !== undefined && cut.dir === dir && seen + d.length >= cut.at) {
          to.write(d.subarray(0, cut.at - seen));
          if (dir === 'to-client') last.toClient = cut.at;
          else last.toServer = cut.at;
          done = true;
          to.end();
          return;
        }
        if (dir === 'to-client') last.toClient += d.length;
        else last.toServer += d.length;
        to.write(d);
      });
      from.on('end', () => {
        if (!done) to.end();
      });
      from.on('close', () => {
        // The sender gone: the receiver's side closes too once what was passed is written.
        if (!done) to.end();
      });
    };
    pass(c, s, 'to-server');
    pass(s, c, 'to-client');
  });
  await new Promise<void>((r) => tcp.listen(tcpPort, FRONT, () => r()));

  const c = proc([CLIENT_BIN, String((front.address() as { port: number }).port), '--host', FRONT, '--known-hosts', join(cwd, '..', `a29-kh-${process.pid}`), '--timeout', '10'], cwd);
  c.child.stdin?.write('alice\npw\n');
  if (!(await waitFor(() => c.out().includes('Welcome'), 20_000))) throw new Error(`no login: ${c.out()}`);
  c.child.stdin?.write('CRT t\n');
  await waitFor(() => /Thread t created/.test(c.out()), 10_000);
  const body = randomBytes(fileBytes);
  /** Runs `line` and returns what the client printed for it, once `done` matches (or 40 s). */
  const run = async (line: string, done: RegExp): Promise<string> => {
    const from = c.out().length;
    c.child.stdin?.write(`${line}\n`);
    await waitFor(() => done.test(c.out().slice(from)), 40_000);
    await sleep(200);
    return c
      .out()
      .slice(from)
      .replace(/Enter one of the following commands:[^:]*: /g, '')
      .replace(/\s+/g, ' ')
      .trim();
  };
  const outcome = /successfully downloaded|uploaded to t thread|failed|may or may not|unreachable|rror/;
  await writeFile(join(cwd, 'full'), body);
  console.log(`UPD whole: ${await run('UPD t full', outcome)}; ${last.toServer} B to the server, ${last.toClient} B back`);
  const upLen = last.toServer;
  await unlink(join(cwd, 'full'));
  console.log(`DWN whole: ${await run('DWN t full', outcome)}; ${last.toServer} B to the server, ${last.toClient} B back`);
  const downLen = last.toClient;
  await unlink(join(cwd, 'full'));
  const points = (len: number): number[] => [...new Set([0, 1, 60, 65, 66, 67, 100, Math.floor(len / 2), len - 100, len - 17, len - 16, len - 15, len - 1])].filter((k) => k >= 0 && k < len).sort((a, b) => a - b);
  let wrong = 0;
  for (const k of points(downLen)) {
    nextCut = { dir: 'to-client', at: k };
    const said = await run('DWN t full', outcome);
    const files = await readdir(cwd);
    const kept = files.includes('full');
    const temps = files.filter((f) => f.startsWith('.forum-download')).length;
    if (kept || /successfully downloaded/.test(said)) wrong++;
    console.log(`DWN cut after ${String(k).padStart(7)} of ${downLen} B: ${said.slice(0, 160)}; file kept: ${kept}; temporary files: ${temps}`);
    if (kept) await unlink(join(cwd, 'full'));
  }
  const upNames: [string, number, string][] = [];
  for (const k of points(upLen)) {
    const name = `u${k}`;
    await writeFile(join(cwd, name), body);
    nextCut = { dir: 'to-server', at: k };
    const said = await run(`UPD t ${name}`, outcome);
    upNames.push([name, k, said]);
  }
  const rdt = await run('RDT t', /uploaded full|Thread t is empty|does not exist/);
  const uploadsDir = await readdir(dataDir, { recursive: true });
  console.log(`control: RDT lists the whole upload (alice uploaded full): ${/alice uploaded full\b/.test(rdt)}; its file t-full in the data directory: ${uploadsDir.some((p) => /(^|\/)t-full$/.test(String(p)))}`);
  for (const [name, k, said] of upNames) {
    const listed = new RegExp(`alice uploaded ${name}\\b`).test(rdt);
    // The data directory keeps an upload as `<thread>-<name>` (store/thread.ts uploadFileName); a temporary one carries a suffix.
    const onDisk = uploadsDir.some((p) => new RegExp(`(^|/)t-${name}($|[.-])`).test(String(p)));
    if (listed || /uploaded to t thread/.test(said)) wrong++;
    console.log(`UPD cut after ${String(k).padStart(7)} of ${upLen} B: ${said.slice(0, 160)}; listed by RDT: ${listed}; a file of that name in the data directory: ${onDisk}`);
  }
  console.log(`trials that succeeded wrongly (a cut transfer reported done, kept or listed): ${wrong}`);
  c.child.stdin?.write('XIT\n');
  await waitFor(() => c.child.exitCode !== null, 5_000);
  c.child.kill('SIGKILL');
  front.close();
  up.close();
  tcp.close();
} finally {
  server.child.kill('SIGTERM');
  await sleep(300);
  await rm(dataDir, { recursive: true, force: true });
  await rm(cwd, { recursive: true, force: true });
}
process.exit(0);
