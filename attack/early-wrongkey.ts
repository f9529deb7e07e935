/**
 * Attack round 22, item 1 on real sockets: the built forum-client, pinned to the
 * built forum-server's key, through a UDP relay on the path that forges a
 * `WrongKey` ACCEPT (another 32-byte key) to the client's connection id:
 *
 *   npx tsx attack/early-wrongkey.ts [rounds=3]
 *
 *   pin     no forgery: the client meets the server through the relay and records its key (control)
 *   early   the forgery answers the client's first INITIAL (no cookie yet), ahead of the server's RETRY
 *   late    the forgery answers the client's cookie INITIAL, ahead of the server's ACCEPT
 *
 * Each run pipes `alice`, a password, `LST`, `XIT`. Prints the exit status, the
 * time and the client's first line that says why it stopped. `early` must log
 * in (a server never answers a hello before its cookie, so the forgery is
 * dropped: fixed in round 22, the client exited 5 with the changed-key refusal
 * before); `late` is what SECURITY.md says an attacker on the path can still
 * do (the WrongKey cannot be authenticated): exit 5, naming both fingerprints.
 */
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AcceptKind, MAX_DATAGRAM, PacketType, decodeInitial, encodeAccept, parseHeader } from '../packages/rudp/dist/core.js';
import { startServer } from './forum-raw.js';
import { runClient } from './hostile-server-lib.js';

const rounds = Number(process.argv[2] ?? 3);
type Mode = 'pin' | 'early' | 'late';

const dir = await mkdtemp(join(tmpdir(), 'a22-wrongkey-'));
await writeFile(join(dir, 'credentials.txt'), 'alice pw-alice\n');
const port = 40_000 + Math.floor(Math.random() * 20_000);
const server = await startServer(dir, port, port + 1);

/** A relay on `relayPort` to the server that forges one WrongKey per connection id in `mode`. */
const relay = async (relayPort: number, mode: () => Mode): Promise<{ readonly forged: () => number; readonly close: () => void }> => {
  const front = dgram.createSocket('udp4');
  const back = dgram.createSocket('udp4');
  let client: { address: string; port: number } | undefined;
  let forged = 0;
  const done = new Set<number>();
  front.on('message', (msg, rinfo) => {
    client = { address: rinfo.address, port: rinfo.port };
    const h = parseHeader(new Uint8Array(msg));
    const init = typeof h !== 'string' && h.type === PacketType.Initial ? decodeInitial(h.payload) : undefined;
    const m = mode();
    if (init !== undefined && m !== 'pin' && !done.has(init.scid) && (m === 'early') === (init.token.length === 0)) {
      done.add(init.scid);
      forged++;
      const wrongKey = encodeAccept(new Uint8Array(MAX_DATAGRAM), init.scid, { scid: 1 + Math.floor(Math.random() * 1e9), params: { receiveWindow: 0, initialLimit: 0 }, kind: AcceptKind.WrongKey, handshake: randomBytes(32) });
      front.send(wrongKey, rinfo.port, rinfo.address);
    }
    back.send(msg, port, '127.0.0.1');
  });
  back.on('message', (msg) => {
    if (client !== undefined) front.send(msg, client.port, client.address);
  });
  await new Promise<void>((r) => front.bind(relayPort, '127.0.0.1', () => r()));
  await new Promise<void>((r) => back.bind(0, '127.0.0.1', () => r()));
  return { forged: () => forged, close: () => (front.close(), back.close()) };
};

let mode: Mode = 'pin';
const relayPort = port + 2;
const r = await relay(relayPort, () => mode);
const knownHosts = join(dir, '..', `a22-kh-${process.pid}`);
const why = (out: string): string =>
  out
    .split('\n')
    .find((l) => /Welcome|identity|key|refused|unreachable|Goodbye/i.test(l))
    ?.slice(0, 160) ?? '(nothing)';
try {
  for (let i = 0; i < rounds; i++) {
    for (const m of ['pin', 'early', 'late'] as const) {
      mode = m;
      const before = r.forged();
      const run = await runClient(relayPort, ['alice', 'pw-alice', 'LST', 'XIT'], 30, { args: ['--known-hosts', knownHosts] });
      const text = run.stdout + run.stderr;
      console.log(`${m.padEnd(6)} round ${i + 1}: exit ${String(run.code)} after ${run.seconds} s, forged ${r.forged() - before}, welcomed ${text.includes('Welcome to the forum')}; ${why(text)}`);
    }
  }
} finally {
  r.close();
  server.child.kill('SIGTERM');
  await server.exited;
}
