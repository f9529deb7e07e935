/**
 * Attack round 29, item 1: SECURITY.md's promise of what an attacker on the path can do to a live session
 * ("cannot alter, forge or replay a packet: … dropped and counted, never processed and never answered; a packet
 * number seen before is refused before its tag is checked and draws no ACK, so forgeries cannot make the endpoint
 * send anything"), against the built forum-server and forum-client over real UDP, where rounds 22 and 26
 * measured it in the simulator and in process.
 *
 *   npx tsx attack/onpath-inject-real.ts [perPhase=1500] [windowMs=3000]
 *
 * The client talks to the server through a userspace relay that records every sealed datagram both ways
 * (login, CRT, 6 MSGs, an RDT). Then, the session idle, phases of `windowMs` each: nothing injected (the idle
 * traffic: keep-alives and their ACKs), then `perPhase` datagrams injected towards one end, spread over the
 * window, from the relay's own sockets (the address the end already talks to):
 *   s-replay   the client's sealed datagrams again, as recorded                (to the server)
 *   s-forge    the same with a fresh packet number (past any sent) and a flipped ciphertext byte
 *   s-phase    fresh packet number, the key phase bit flipped, nothing else changed
 *   s-trunc    a recorded one cut to a random length (9 bytes up)
 *   s-init-hello   the client's first INITIALs (no token) again, within the session
 *   s-init-cookie  its INITIALs carrying the server's cookie again, within the session
 *   c-handshake    the server's RETRYs and ACCEPTs again, to the established client
 *   c-replay, c-forge, c-phase, c-trunc   as the s- ones, with the server's datagrams, to the client
 * Per phase: datagrams and bytes each end sent meanwhile (against the idle phase), then a MSG through the
 * session: answered or not, and how long it took.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './lib-path.js';
import { mulberry32 } from './lib-random.js';

const SERVER_BIN = new URL('../packages/server/bin/forum-server.js', import.meta.url).pathname;
const CLIENT_BIN = new URL('../packages/client/bin/forum-client.js', import.meta.url).pathname;
const perPhase = Number(process.argv[2] ?? 1500);
const windowMs = Number(process.argv[3] ?? 3000);
const rand = mulberry32(29);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Proc {
  readonly child: ChildProcess;
  readonly out: () => string;
  /** Whether it has ended and all of its output has been read. */
  readonly closed: () => boolean;
  readonly exited: Promise<number | null>;
}
const proc = (args: readonly string[]): Proc => {
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let closed = false;
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  child.stdin?.on('error', () => undefined);
  // 'close', not 'exit' (nor `exitCode` set): the output is read once it ended, and 'exit' may come before the last of its pipes is read.
  const exited = new Promise<number | null>((r) =>
    child.once('close', (c) => {
      closed = true;
      r(c);
    }),
  );
  return { child, out: () => out, closed: () => closed, exited };
};

/** Datagrams and bytes one end sent. */
interface Count {
  n: number;
  bytes: number;
}
const type = (d: Buffer): number => (d[0] as number) & 0x07;
const sealed = (d: Buffer): boolean => type(d) === 5 || type(d) === 6;

const dir = await mkdtemp(join(tmpdir(), 'a29-inject-'));
const server = proc([SERVER_BIN, '0', '--data-dir', dir, '--transfer-port', '0']);
try {
  await waitFor(() => server.out().includes('Waiting for clients'), 15_000);
  const serverPort = Number(/UDP [^ ]+:([0-9]+)/.exec(server.out())?.[1]);
  const front = dgram.createSocket('udp4');
  const up = dgram.createSocket('udp4');
  await new Promise<void>((r) => front.bind(0, '127.0.0.1', () => r()));
  await new Promise<void>((r) => up.bind(0, '127.0.0.1', () => r()));
  let client: { address: string; port: number } | undefined;
  const fromClient: Buffer[] = [];
  const fromServer: Buffer[] = [];
  const initials: Buffer[] = [];
  const serverHandshake: Buffer[] = [];
  const sentByClient: Count = { n: 0, bytes: 0 };
  const sentByServer: Count = { n: 0, bytes: 0 };
  let recording = true;
  front.on('message', (m, rinfo) => {
    client = { address: rinfo.address, port: rinfo.port };
    sentByClient.n++;
    sentByClient.bytes += m.length;
    if (type(m) === 1) initials.push(Buffer.from(m));
    if (recording && sealed(m)) fromClient.push(Buffer.from(m));
    up.send(m, serverPort, '127.0.0.1');
  });
  up.on('message', (m) => {
    sentByServer.n++;
    sentByServer.bytes += m.length;
    if (recording && sealed(m)) fromServer.push(Buffer.from(m));
    if (type(m) === 2 || type(m) === 3) serverHandshake.push(Buffer.from(m));
    if (client !== undefined) front.send(m, client.port, client.address);
  });
  const toServer = (b: Buffer): void => up.send(b, serverPort, '127.0.0.1');
  const toClient = (b: Buffer): void => {
    if (client !== undefined) front.send(b, client.port, client.address);
  };

  const kh = join(dir, 'kh');
  const c = proc([CLIENT_BIN, String((front.address() as { port: number }).port), '--known-hosts', kh]);
  c.child.stdin?.write('alice\npw\n');
  if (!(await waitFor(() => c.out().includes('Welcome'), 15_000))) throw new Error(`no login: ${c.out()}`);
  c.child.stdin?.write('CRT t\n');
  for (let i = 0; i < 6; i++) c.child.stdin?.write(`MSG t rec-${i} ${'y'.repeat(i * 300)}\n`);
  c.child.stdin?.write('RDT t\n');
  await waitFor(() => / alice: rec-5/.test(c.out()), 15_000);
  await sleep(500);
  recording = false;
  const posted = (): number => (c.out().match(/Message posted/g) ?? []).length;
  console.log(`recorded ${fromClient.length} sealed client datagrams, ${fromServer.length} sealed server ones, ${initials.length} INITIALs, ${serverHandshake.length} RETRYs and ACCEPTs; ${posted()} MSGs posted`);

  /** The largest packet number recorded in `ds` (four-byte numbers: flag 0x08; two-byte ones: the low 16 bits). */
  const largestPn = (ds: readonly Buffer[]): number => Math.max(...ds.map((d) => ((d[0] as number) & 0x08 ? d.readUInt32BE(5) : d.readUInt16BE(5))));
  /** `d` renumbered `ahead` past `base` (fresh: no packet of that number was ever sent). */
  const renumber = (d: Buffer, base: number, ahead: number): Buffer => {
    const b = Buffer.from(d);
    if ((b[0] as number) & 0x08) b.writeUInt32BE((base + ahead) >>> 0, 5);
    else b.writeUInt16BE((base + ahead) & 0xffff, 5);
    return b;
  };
  const headerEnd = (d: Buffer): number => ((d[0] as number) & 0x08 ? 9 : 7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const cBase = largestPn(fromClient) + 2000;
  const sBase = largestPn(fromServer) + 2000;
  const make: Record<string, () => Buffer> = {
    'idle': () => Buffer.alloc(0),
    's-replay': () => pick(fromClient),
    's-forge': () => {
      const b = renumber(pick(fromClient), cBase, Math.floor(rand() * 500));
      const at = headerEnd(b) + Math.floor(rand() * (b.length - headerEnd(b)));
      b[at] = (b[at] as number) ^ (1 + Math.floor(rand() * 255));
      return b;
    },
    's-phase': () => {
      const b = renumber(pick(fromClient), cBase, 500 + Math.floor(rand() * 500));
      b[0] = (b[0] as number) ^ 0x03;
      return b;
    },
    's-trunc': () => {
      const d = pick(fromClient);
      return Buffer.from(d.subarray(0, 9 + Math.floor(rand() * (d.length - 9))));
    },
    // An INITIAL's token length is the varint after its 7-byte header and 4-byte scid: 0 for the first, the cookie after.
    's-init-hello': () => pick(initials.filter((d) => d[11] === 0)),
    's-init-cookie': () => pick(initials.filter((d) => d[11] !== 0)),
    'c-handshake': () => pick(serverHandshake),
    'c-replay': () => pick(fromServer),
    'c-forge': () => {
      const b = renumber(pick(fromServer), sBase, Math.floor(rand() * 500));
      const at = headerEnd(b) + Math.floor(rand() * (b.length - headerEnd(b)));
      b[at] = (b[at] as number) ^ (1 + Math.floor(rand() * 255));
      return b;
    },
    'c-phase': () => {
      const b = renumber(pick(fromServer), sBase, 500 + Math.floor(rand() * 500));
      b[0] = (b[0] as number) ^ 0x03;
      return b;
    },
    'c-trunc': () => {
      const d = pick(fromServer);
      return Buffer.from(d.subarray(0, 9 + Math.floor(rand() * (d.length - 9))));
    },
  };
  let checks = 0;
  for (const phase of ['idle', 's-replay', 's-forge', 's-phase', 's-trunc', 's-init-hello', 's-init-cookie', 'idle', 'c-handshake', 'c-replay', 'c-forge', 'c-phase', 'c-trunc', 'idle']) {
    await sleep(1000);
    const c0 = { ...sentByClient };
    const s0 = { ...sentByServer };
    const t0 = Date.now();
    let injected = 0;
    let injectedBytes = 0;
    if (phase !== 'idle') {
      for (let i = 0; i < perPhase; i++) {
        const b = (make[phase] as () => Buffer)();
        if (phase.startsWith('s-')) toServer(b);
        else toClient(b);
        injected++;
        injectedBytes += b.length;
        const due = t0 + ((i + 1) * windowMs) / perPhase;
        if (due > Date.now()) await sleep(due - Date.now());
      }
    }
    const left = t0 + windowMs - Date.now();
    if (left > 0) await sleep(left);
    const byServer = { n: sentByServer.n - s0.n, bytes: sentByServer.bytes - s0.bytes };
    const byClient = { n: sentByClient.n - c0.n, bytes: sentByClient.bytes - c0.bytes };
    const before = posted();
    const m0 = Date.now();
    c.child.stdin?.write(`MSG t check-${checks++}\n`);
    const ok = await waitFor(() => posted() > before, 10_000);
    console.log(
      `${phase.padEnd(13)} injected ${String(injected).padStart(5)} (${injectedBytes} B); in ${windowMs} ms the server sent ${byServer.n} datagrams (${byServer.bytes} B), the client ${byClient.n} (${byClient.bytes} B); MSG after: ${ok ? `answered in ${Date.now() - m0} ms` : 'NOT answered in 10 s'}; client ${c.child.exitCode === null ? 'alive' : `exited ${c.child.exitCode}`}`,
    );
  }
  c.child.stdin?.write('XIT\n');
  await waitFor(() => c.closed(), 5_000);
  console.log(`client said last: ${JSON.stringify(c.out().trim().split('\n').slice(-2))}`);
  const serverLines = server.out().split('\n').filter((l) => /drop|forg|replay|error|warn/i.test(l));
  console.log(`server log lines naming drops/errors: ${serverLines.length}${serverLines.length > 0 ? ` ${JSON.stringify(serverLines.slice(0, 3))}` : ''}`);
  front.close();
  up.close();
  c.child.kill('SIGKILL');
} finally {
  server.child.kill('SIGTERM');
  await server.exited;
  await rm(dir, { recursive: true, force: true });
}
process.exit(0);
