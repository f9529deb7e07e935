/**
 * Attack round 34, item 2: an attacker on the path records a whole forum session (its handshake included) and
 * replays it once the session has ended: the client's datagrams again, in their order and at their pace, from
 * the address the server knew them from. Round 29 (`onpath-inject-real.ts`) replayed datagrams into a session
 * still live; nothing had replayed a finished one, whose connection id the server has forgotten and whose
 * cookie INITIAL may still verify (30 s).
 *
 *   npx tsx attack/round34-replay-after-end.ts [lateSeconds=35]
 *
 * The built forum-client logs in through a userspace relay (a new account), CRT, 3 MSGs, XIT; every datagram
 * the client sent is recorded with its time. Then, each phase replaying the whole recording from the relay:
 *   soon      1 s after the client exited (its cookie still valid)
 *   other     the same, from another port of 127.0.0.1 (a cookie is bound to its address and port)
 *   late      `lateSeconds` after the session (its cookie expired)
 *   live      a minute after `soon` (the host's stateless resets a minute spent again), while a new forum-client
 *             session runs through the same relay port (a MSG before and after): the resets of the old
 *             connection id reach the live client
 * Per phase: what the server sent back, by packet type (RETRY, ACCEPT, sealed: the last may be a stateless
 * reset), the server's log lines that followed (a replayed login or MSG would show), and the thread's lines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './lib-path.js';

const SERVER_BIN = new URL('../packages/server/bin/forum-server.js', import.meta.url).pathname;
const CLIENT_BIN = new URL('../packages/client/bin/forum-client.js', import.meta.url).pathname;
const lateSeconds = Number(process.argv[2] ?? 35);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const TYPES: Readonly<Record<number, string>> = { 1: 'INITIAL', 2: 'RETRY', 3: 'ACCEPT', 4: 'DATA', 5: 'sealed', 6: 'sealed' };
const kind = (d: Buffer): string => TYPES[(d[0] as number) & 0x07] ?? `type ${(d[0] as number) & 0x07}`;

interface Proc {
  readonly child: ChildProcess;
  readonly out: () => string;
  readonly exited: Promise<number | null>;
}
const proc = (args: readonly string[]): Proc => {
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  child.stdin?.on('error', () => undefined);
  return { child, out: () => out, exited: new Promise((r) => child.once('close', (c) => r(c))) };
};

const dir = await mkdtemp(join(tmpdir(), 'a34-replay-'));
const server = proc([SERVER_BIN, '0', '--data-dir', dir, '--transfer-port', '0']);
try {
  await waitFor(() => server.out().includes('Waiting for clients'), 15_000);
  const serverPort = Number(/UDP [^ ]+:([0-9]+)/.exec(server.out())?.[1]);
  // The relay: the client talks to `front`; `up` talks to the server, so the server knows every client by `up`'s address.
  const front = dgram.createSocket('udp4');
  const up = dgram.createSocket('udp4');
  const other = dgram.createSocket('udp4');
  await Promise.all([front, up, other].map((s) => new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()))));
  let client: { address: string; port: number } | undefined;
  const recorded: { readonly at: number; readonly d: Buffer }[] = [];
  let recording = true;
  /** What the server sent to `up` (forwarded to the client) and to `other`, by kind, counted from the last reset. */
  let back: Record<string, number> = {};
  const count = (d: Buffer, where: string): void => {
    const k = `${where} ${kind(d)} ${d.length} B`;
    back[k] = (back[k] ?? 0) + 1;
  };
  front.on('message', (m, rinfo) => {
    client = { address: rinfo.address, port: rinfo.port };
    if (recording) recorded.push({ at: performance.now(), d: Buffer.from(m) });
    up.send(m, serverPort, '127.0.0.1');
  });
  up.on('message', (m) => {
    if (!recording) count(m, 'to up');
    if (client !== undefined) front.send(m, client.port, client.address);
  });
  other.on('message', (m) => count(m, 'to other'));
  const kh = join(dir, 'kh');
  const threadLines = async (): Promise<number> => (await readFile(join(dir, 't'), 'utf8').catch(() => '')).split('\n').filter((l) => l !== '').length;

  const c = proc([CLIENT_BIN, String((front.address() as { port: number }).port), '--known-hosts', kh]);
  c.child.stdin?.end('alice\npw\nCRT t\nMSG t one\nMSG t two\nMSG t three\nXIT\n');
  await c.exited;
  recording = false;
  const span = (recorded.at(-1)?.at ?? 0) - (recorded[0]?.at ?? 0);
  const kinds = new Map<string, number>();
  for (const r of recorded) kinds.set(kind(r.d), (kinds.get(kind(r.d)) ?? 0) + 1);
  console.log(`recorded ${recorded.length} client datagrams over ${Math.round(span)} ms (${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')}); the client said ${JSON.stringify(c.out().trim().split('\n').slice(-1)[0])}; thread t has ${await threadLines()} lines`);
  const ended = performance.now();

  const replay = async (via: dgram.Socket): Promise<void> => {
    const t0 = performance.now();
    const first = recorded[0]?.at ?? 0;
    for (const r of recorded) {
      const due = t0 + (r.at - first);
      if (due > performance.now()) await sleep(due - performance.now());
      via.send(r.d, serverPort, '127.0.0.1');
    }
    await sleep(2000);
  };
  const phase = async (name: string, via: dgram.Socket, during?: () => Promise<string>): Promise<void> => {
    back = {};
    const logFrom = server.out().length;
    const linesBefore = await threadLines();
    const [, note] = await Promise.all([replay(via), during?.() ?? Promise.resolve('')]);
    const log = server.out().slice(logFrom).trim().split('\n').filter((l) => l !== '');
    console.log(`${name.padEnd(6)} ${Math.round((performance.now() - ended) / 1000)} s after the session: the server sent back ${JSON.stringify(back)}; its log: ${JSON.stringify(log)}; thread t ${linesBefore} -> ${await threadLines()} lines${note === '' ? '' : `; ${note}`}`);
  };

  await sleep(1000);
  const soonAt = performance.now();
  await phase('soon', up);
  await phase('other', other);
  const wait = ended + lateSeconds * 1000 - performance.now();
  if (wait > 0) await sleep(wait);
  await phase('late', up);
  // A minute after the first replay, so that the host's 16 stateless resets a minute are there to be spent again.
  const fresh = soonAt + 61_000 - performance.now();
  if (fresh > 0) await sleep(fresh);
  await phase('live', up, async () => {
    const live = proc([CLIENT_BIN, String((front.address() as { port: number }).port), '--known-hosts', kh]);
    live.child.stdin?.write('bob\npw2\nMSG t before\n');
    await waitFor(() => live.out().includes('Message posted'), 15_000);
    await sleep(Math.max(0, span));
    live.child.stdin?.end('MSG t after\nXIT\n');
    const code = await live.exited;
    return `the live session (bob): ${(live.out().match(/Message posted/g) ?? []).length} of 2 MSGs posted, exit ${String(code)}, last line ${JSON.stringify(live.out().trim().split('\n').slice(-1)[0])}`;
  });
  front.close();
  up.close();
  other.close();
} finally {
  server.child.kill('SIGTERM');
  await server.exited;
  await rm(dir, { recursive: true, force: true });
}
process.exit(0);
