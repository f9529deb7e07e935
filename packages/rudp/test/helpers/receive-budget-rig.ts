/**
 * The rig of the receive-budget tests (`transport-receive-budget-*.test.ts`): one server endpoint and
 * any number of clients on a seeded simulated network, each client able to stop sending part way.
 */
import type { Connection } from '../../src/core/connection.js';
import { Endpoint, type EndpointConfig } from '../../src/core/endpoint.js';
import type { EndpointEvent } from '../../src/core/events.js';
import { SimNetwork } from '../../src/testing/sim-network.js';
import { deterministicCrypto } from '../../src/testing/deterministic-crypto.js';
import { defaultCryptoProvider } from '../../src/node/crypto-provider.js';

/** The server's address. */
export const SERVER = '10.0.0.2:4000';
/** A 1 MiB receive window, the tests' usual. */
export const WINDOW = 1024 * 1024;
/** A 4 MiB endpoint budget, the tests' usual. */
export const BUDGET = 4 * 1024 * 1024;

/** The byte at `offset` of client `i`'s message: a misplaced or foreign byte shows. */
export const byteAt = (i: number, offset: number): number => (offset * 131 + i * 17 + 7) & 0xff;
/** `byteAt(i, offset)` repeats every this many bytes of `offset` (256 × 131 is a multiple of 256): `filledBytes`'s period. */
export const BYTE_PERIOD = 256;

/** A client of the server, with a cut in what it sends. */
export interface Peer {
  readonly address: string;
  readonly endpoint: Endpoint;
  readonly conn: Connection;
  /** Datagrams past this many bytes sent are dropped (the sender stopped part way); `Infinity`: none. */
  cutAfter: number;
  sent: number;
}

/** A server and its clients on one simulated network. */
export interface Herd {
  readonly sim: SimNetwork;
  readonly server: Endpoint;
  readonly peers: Peer[];
  /** The server's connections, as they were accepted. */
  readonly accepted: Connection[];
  /** Messages the server read, per connection. */
  readonly received: Map<Connection, Uint8Array[]>;
  /** Adds a client (at 10.0.1.(i + 1), or `address`) and starts its handshake. */
  addPeer(address?: string): Peer;
  /** The server application reads what it has (as it does at each datagram and timer). */
  read(): void;
}

/** A server (`server` its config) on a seeded network with 20 ms links; clients are added with `addPeer`. */
export function herd(seed: number, server: Partial<EndpointConfig>): Herd {
  const sim = new SimNetwork({ seed, defaultLink: { delayMs: 20, jitterMs: 2 } });
  const endpoint = new Endpoint({ random: sim.random('server'), acceptIncoming: true, crypto: deterministicCrypto(defaultCryptoProvider, sim.random('server-crypto')), ...server });
  const accepted: Connection[] = [];
  const received = new Map<Connection, Uint8Array[]>();
  const read = (): void => {
    for (let e: EndpointEvent | undefined = endpoint.pollEvent(); e !== undefined; e = endpoint.pollEvent()) {
      if (e.type === 'incoming') accepted.push(e.connection);
      if (e.type === 'message') received.set(e.connection, [...(received.get(e.connection) ?? []), e.data]);
    }
  };
  sim.addNode(SERVER, endpoint, { onActivity: read });
  const peers: Peer[] = [];
  const addPeer = (at?: string): Peer => {
    const i = peers.length;
    const address = at ?? `10.0.1.${i + 1}:5000`;
    const client = new Endpoint({ random: sim.random(`client-${i}`), crypto: deterministicCrypto(defaultCryptoProvider, sim.random(`client-crypto-${i}`)) });
    const poll = client.pollTransmit.bind(client);
    const peer: Peer = { address, endpoint: client, conn: undefined as unknown as Connection, cutAfter: Number.POSITIVE_INFINITY, sent: 0 };
    client.pollTransmit = (now: number) => {
      for (let t = poll(now); t !== undefined; t = poll(now)) {
        peer.sent += t.data.length;
        if (peer.sent <= peer.cutAfter) return t;
      }
      return undefined;
    };
    sim.addNode(address, client, { onActivity: () => void drainEvents(client) });
    (peer as { conn: Connection }).conn = client.connect(sim.now, SERVER);
    sim.wake(address);
    peers.push(peer);
    return peer;
  };
  return { sim, server: endpoint, peers, accepted, received, addPeer, read };
}

/** Discards `e`'s events (the clients' applications read nothing). */
export function drainEvents(e: Endpoint): void {
  while (e.pollEvent() !== undefined);
}

/** What the server's connections hold: partial messages (their buffers or held pieces, and bits) and whole ones not read. */
export function heldBytes(h: Herd): number {
  let total = 0;
  for (const c of h.accepted) total += c.reassembly.partialBytes + c.reassembly.unreadBytes;
  return total;
}

/**
 * 24 peers (at `addressOf(i)`, else each its own address) whose server application never reads (paused, as
 * the Node API pauses a connection nothing consumes) each queue 2 MiB of 16 KiB messages; runs 5 s.
 */
export function floodUnread(h: Herd, addressOf?: (i: number) => string): Peer[] {
  const greedy = Array.from({ length: 24 }, (_, i) => h.addPeer(addressOf?.(i)));
  runUntil(h, () => greedy.every((p) => p.conn.state === 'established') && h.accepted.length === 24, 3_000);
  for (const c of h.accepted) c.pause();
  for (const [i, p] of greedy.entries()) {
    for (let k = 0; k < 128; k++) p.conn.send(new Uint8Array(16 * 1024).fill((i + k) & 0xff));
    h.sim.wake(p.address);
  }
  h.sim.runFor(5_000);
  return greedy;
}

/** The server's connection to `p`. */
export function serverConnection(h: Herd, p: Peer): Connection {
  return h.accepted.find((c) => c.localCid === p.conn.remoteCid) as Connection;
}

/** The credit the server's connection to `p` grants its peer now (what its limit lets the peer send). */
export function creditTo(h: Herd, p: Peer): number {
  return serverConnection(h, p).flow.credit;
}

/**
 * 30 connections from 6 addresses whose windows the server raised to 32 MiB, idle: under the default
 * budget they hold its 960 MiB (credit announced is never taken back). Returns their peers.
 */
export function holdBudgetIdle(h: Herd): Peer[] {
  const idle = Array.from({ length: 30 }, (_, i) => h.addPeer(`10.0.7.${1 + (i % 6)}:${5000 + i}`));
  runUntil(h, () => idle.every((p) => p.conn.state === 'established') && h.accepted.length === 30, 3_000);
  for (const c of h.accepted) c.raiseReceiveWindow(32 * 1024 * 1024);
  h.sim.runFor(500);
  return idle;
}

/** Runs the simulator in 100 ms steps until `done` or `limitMs` passed. */
export function runUntil(h: Herd, done: () => boolean, limitMs: number): void {
  const end = h.sim.now + limitMs;
  while (!done() && h.sim.now < end) h.sim.runFor(100);
}
