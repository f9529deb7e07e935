/**
 * The cheapest way for one host to make the built forum server run Noise
 * handshakes: raw INITIALs from `sockets` UDP sockets on 127.0.0.1, each
 * doing the cookie exchange and then sending a client hello computed once
 * in advance (`hellos` of them, one per client connection id: a hello is
 * bound to its id and the INITIAL's window and first limit, not to the
 * address, so one serves every port). The
 * server answers each with a full handshake and a connection (which the
 * forum sheds later, never logged in), or with a refusal; the flood never
 * finishes a handshake itself, so it spends no X25519 per attempt.
 * Reports handshakes a second (ACCEPTs with a server hello), refusals a
 * second by reason, attempts that got no answer within 500 ms, and the CPU
 * the server process and this one used (user + system, from /proc: Linux).
 * Meanwhile a neighbour at the same address tries an honest `connect`
 * every 250 ms: how many got in, were refused or timed out.
 *
 * Usage (from bench/): [FLOOD_PAUSE_MS=ms] node --import tsx src/tools/handshake-flood.ts
 *   [seconds=10] [sockets=128] [server flags, e.g. --handshake-rate 0]
 * FLOOD_PAUSE_MS: each socket waits this long after an answer before its
 * next attempt (default 0: at once), to compare at one attempt rate.
 */
import { createSocket, type Socket } from 'node:dgram';
import { connect } from 'rudpx';
import { cpuSeconds, startForumServerChild } from './forum-server-child.js';
import { nodeCryptoProvider } from '../../../packages/rudp/src/node/crypto-provider.js';
import { startClientHandshake } from '../../../packages/rudp/src/crypto/index.js';
import { handshakePrologue } from '../../../packages/rudp/src/core/security.js';
import { AcceptKind, MAX_DATAGRAM, PacketType, decodeAccept, decodeRetry, encodeInitial, parseHeader } from '../../../packages/rudp/src/wire/packet.js';

const seconds = Number(process.argv[2] ?? '10');
const socketCount = Number(process.argv[3] ?? '128');
const serverFlags = process.argv.slice(4);
const ATTEMPT_TIMEOUT_MS = 500;
/** Client connection ids per socket, each with its hello: none is used twice from one port in a run of ~100 attempts a socket. */
const HELLOS = 512;
const PAUSE_MS = Number(process.env['FLOOD_PAUSE_MS'] ?? '0');

const server = await startForumServerChild('handshake-flood', serverFlags);
const port = server.port;

const params = { receiveWindow: 1 << 20, initialLimit: 1 << 20 };
const hellos = Array.from({ length: HELLOS }, (_, i) => {
  const cid = 0x1000_0000 + i;
  // The prologue binds the figures the INITIAL carries (rudpx protocol version 7), as a real client's does.
  return { cid, hello: startClientHandshake(nodeCryptoProvider, { prologue: handshakePrologue(cid, params) }).hello };
});
const initial = (cid: number, token: Uint8Array, hello: Uint8Array): Buffer => Buffer.from(encodeInitial(new Uint8Array(MAX_DATAGRAM), 0, { scid: cid, token, params, hello }));

const tally = { handshakes: 0, refused: new Map<number, number>(), unanswered: 0, other: 0 };
let running = true;

/** One socket's loop: an attempt at a time, the next on its answer or after the timeout. */
async function flood(index: number): Promise<void> {
  const socket: Socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  let next = (index * 7) % HELLOS;
  let current: { cid: number; hello: Uint8Array; phase: 'retry' | 'accept'; timer: NodeJS.Timeout } | undefined;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((r) => (done = r));
  const start = (): void => {
    if (!running) {
      socket.close();
      done();
      return;
    }
    const h = hellos[next] as { cid: number; hello: Uint8Array };
    next = (next + 1) % HELLOS;
    const timer = setTimeout(() => {
      tally.unanswered++;
      start();
    }, ATTEMPT_TIMEOUT_MS);
    current = { ...h, phase: 'retry', timer };
    socket.send(initial(h.cid, new Uint8Array(0), new Uint8Array(0)), port, '127.0.0.1');
  };
  socket.on('message', (msg) => {
    const h = parseHeader(new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength));
    if (typeof h === 'string' || current === undefined || h.dcid !== current.cid) return;
    if (h.type === PacketType.Retry && current.phase === 'retry') {
      const token = decodeRetry(h.payload);
      if (token === undefined) return;
      current.phase = 'accept';
      socket.send(initial(current.cid, token, current.hello), port, '127.0.0.1');
    } else if (h.type === PacketType.Accept && current.phase === 'accept') {
      const a = decodeAccept(h.payload);
      if (a === undefined) return;
      if (a.kind === AcceptKind.ServerHello) tally.handshakes++;
      else if (a.kind === AcceptKind.Busy) tally.refused.set(a.handshake[0] ?? -1, (tally.refused.get(a.handshake[0] ?? -1) ?? 0) + 1);
      else tally.other++;
      clearTimeout(current.timer);
      current = undefined;
      if (PAUSE_MS > 0) setTimeout(start, PAUSE_MS);
      else start();
    }
  });
  start();
  await finished;
}

const neighbour = { in: 0, refused: 0, other: 0 };
/** The neighbour's tries, one every 250 ms while the flood runs. */
async function neighbourTries(): Promise<void> {
  while (running) {
    const started = Date.now();
    try {
      const c = await connect({ port, host: '127.0.0.1', handshakeTimeoutMs: 2000 });
      neighbour.in++;
      c.destroy();
    } catch (e) {
      if ((e as { code?: string }).code === 'ECONNREFUSED') neighbour.refused++;
      else neighbour.other++;
    }
    await new Promise((r) => setTimeout(r, Math.max(0, 250 - (Date.now() - started))));
  }
}

const serverCpu0 = await cpuSeconds(server.pid);
const selfCpu0 = process.cpuUsage();
const t0 = Date.now();
setTimeout(() => (running = false), seconds * 1000);
await Promise.all([...Array.from({ length: socketCount }, (_, i) => flood(i)), neighbourTries()]);
const wall = (Date.now() - t0) / 1000;
const serverCpu = (await cpuSeconds(server.pid)) - serverCpu0;
const self = process.cpuUsage(selfCpu0);
await server.stop();
const per = (n: number): string => (n / wall).toFixed(0);
const refused = [...tally.refused].map(([reason, n]) => `reason ${reason}: ${n} (${per(n)}/s)`).join(', ') || 'none';
console.log(
  `server flags [${serverFlags.join(' ')}], ${socketCount} sockets, ${wall.toFixed(1)} s: handshakes ${tally.handshakes} (${per(tally.handshakes)}/s), refused ${refused}, unanswered ${tally.unanswered}, other ${tally.other}; neighbour in ${neighbour.in}, refused ${neighbour.refused}, other ${neighbour.other}; ` +
    `server CPU ${serverCpu.toFixed(2)} s (${((serverCpu / wall) * 100).toFixed(0)} % of a core), flood CPU ${((self.user + self.system) / 1e6).toFixed(2)} s`,
);
