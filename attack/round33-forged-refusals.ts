/**
 * Attack round 33, item 3: what a forged datagram before the handshake completes makes the built forum-client print
 * and do. A UDP relay on the path to the built forum-server forwards everything and, per mode, answers the client's
 * INITIAL itself first:
 *
 *   npx tsx attack/round33-forged-refusals.ts
 *
 *   none            no forgery (control): the client logs in
 *   version-early   a VERSION packet naming the 14 other versions to the first INITIAL (no cookie yet)
 *   version-late    the same to the INITIAL that carries the server's cookie (its RETRY came in our version: dropped)
 *   busy-B          a `Busy` ACCEPT of reason byte B (0–4, 255) to the cookie INITIAL, ahead of the server's ACCEPT
 *
 * Each run pipes `alice`, a password, `LST`, `XIT`. Printed: exit status, time, whether it logged in, the client's
 * line that says why it stopped, whether that line says the refusal was unauthenticated, and raw control characters.
 * What the forger chooses is only which of the fixed reasons (a byte) and which version numbers (1–15, at most 15):
 * never words. Loopback only; stops by itself.
 */
import dgram from 'node:dgram';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AcceptKind, MAX_DATAGRAM, PacketType, decodeInitial, encodeAccept, encodeVersionPacket, parseHeader, PROTOCOL_VERSION } from '../packages/rudp/dist/core.js';
import { startServer } from './forum-raw.js';
import { runClient } from './hostile-server-lib.js';

const dir = await mkdtemp(join(tmpdir(), 'a33-forged-'));
await writeFile(join(dir, 'credentials.txt'), 'alice pw-alice\n');
const port = 40_000 + Math.floor(Math.random() * 20_000);
const server = await startServer(dir, port, port + 1);

type Forge = (init: { readonly scid: number; readonly token: Uint8Array }) => Uint8Array | undefined;

/** A relay on `relayPort` to the server that answers a client's INITIAL with `forge()`'s datagram, once per connection id. */
const relay = async (relayPort: number, forge: () => Forge): Promise<{ readonly forged: () => number; readonly close: () => void }> => {
  const front = dgram.createSocket('udp4');
  const back = dgram.createSocket('udp4');
  let client: { address: string; port: number } | undefined;
  let forged = 0;
  const done = new Set<string>();
  front.on('message', (msg, rinfo) => {
    client = { address: rinfo.address, port: rinfo.port };
    const h = parseHeader(new Uint8Array(msg));
    const init = typeof h !== 'string' && h.type === PacketType.Initial ? decodeInitial(h.payload) : undefined;
    if (init !== undefined) {
      const key = `${init.scid}/${init.token.length > 0}`;
      const answer = done.has(key) ? undefined : forge()(init);
      if (answer !== undefined) {
        done.add(key);
        forged++;
        front.send(answer, rinfo.port, rinfo.address);
      }
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

const others = Array.from({ length: 15 }, (_, i) => i + 1).filter((v) => v !== PROTOCOL_VERSION);
const busy =
  (reason: number): Forge =>
  (init) =>
    init.token.length === 0
      ? undefined
      : // As the server's own (admission.ts `refuse`): connection id 0, no window.
        encodeAccept(new Uint8Array(MAX_DATAGRAM), init.scid, { scid: 0, params: { receiveWindow: 0, initialLimit: 0 }, kind: AcceptKind.Busy, handshake: Uint8Array.of(reason) }).slice();
const modes: readonly (readonly [string, Forge])[] = [
  ['none', () => undefined],
  ['version-early', (init) => (init.token.length === 0 ? encodeVersionPacket(init.scid, others) : undefined)],
  ['version-late', (init) => (init.token.length > 0 ? encodeVersionPacket(init.scid, others) : undefined)],
  ...[0, 1, 2, 3, 4, 255].map((b) => [`busy-${b}`, busy(b)] as const),
];

let forge: Forge = () => undefined;
const relayPort = port + 2;
const r = await relay(relayPort, () => forge);
const why = (out: string): string =>
  out
    .split('\n')
    .find((l) => /Unable|refused|Welcome/i.test(l))
    ?.slice(0, 400) ?? '(nothing)';
try {
  for (const [name, f] of modes) {
    forge = f;
    const before = r.forged();
    const run = await runClient(relayPort, ['alice', 'pw-alice', 'LST', 'XIT'], 40, { args: ['--known-hosts', join(dir, '..', `a33-kh-${process.pid}`)] });
    const text = run.stdout + run.stderr;
    const line = why(text);
    console.log(
      `${name.padEnd(14)} exit ${String(run.code)} after ${run.seconds} s, forged ${r.forged() - before}, logged in ${text.includes('Welcome to the forum')}, says unauthenticated ${/unauthenticated/i.test(line)}, raw controls ${run.rawControls}: ${line}`,
    );
  }
} finally {
  r.close();
  server.child.kill('SIGTERM');
  await server.exited;
}
