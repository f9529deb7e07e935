/**
 * Two rudp endpoints (a client and a server) on a SimNetwork, with every
 * event recorded at its virtual time. The shared fixture of transport tests.
 */
import { Endpoint, type EndpointConfig } from '../../src/core/endpoint.js';
import type { Connection } from '../../src/core/connection.js';
import type { EndpointEvent } from '../../src/core/events.js';
import { SimNetwork } from '../../src/testing/sim-network.js';
import { deterministicCrypto } from '../../src/testing/deterministic-crypto.js';
import { defaultCryptoProvider } from '../../src/node/crypto-provider.js';
import type { RandomSource } from '../../src/core/sans-io.js';
import type { LinkConfig } from '../../src/testing/impairment.js';

export const CLIENT = '10.0.0.1:5000';
export const SERVER = '10.0.0.2:4000';

export interface Recorded {
  readonly at: number;
  readonly event: EndpointEvent;
}

export interface Pair {
  readonly sim: SimNetwork;
  readonly client: Endpoint;
  readonly server: Endpoint;
  readonly clientEvents: Recorded[];
  readonly serverEvents: Recorded[];
  /** The client's connection (made by `connect`). */
  readonly conn: Connection;
  /** The server's side, once accepted. */
  serverConn(): Connection | undefined;
  /** Hook run on each server event (e.g. echo). */
  onServerEvent: ((e: EndpointEvent, now: number) => void) | undefined;
  onClientEvent: ((e: EndpointEvent, now: number) => void) | undefined;
}

export interface PairOptions {
  readonly seed?: number;
  readonly link?: LinkConfig;
  readonly client?: Partial<EndpointConfig>;
  readonly server?: Partial<EndpointConfig>;
  /** Do not poll server events automatically (a receiver that does not read). */
  readonly serverReads?: () => boolean;
  /** Both nodes read datagrams in batches of this window, ms (`SimNodeOptions.receiveBatchMs`), as the Node adapter reads its socket. */
  readonly receiveBatchMs?: number;
}

/**
 * A seeded crypto provider, unless `options` asks for plaintext. Packets seal through the fastest
 * ChaCha20-Poly1305 that loads (the OpenSSL addon's where built): the same bytes as node:crypto's, so
 * the same runs, but node:crypto's cipher object a packet was a quarter of a bulk simulation's CPU.
 */
function secure(random: RandomSource, options: Partial<EndpointConfig> | undefined): Partial<EndpointConfig> {
  return options?.plaintext === true ? {} : { crypto: deterministicCrypto(defaultCryptoProvider, random) };
}

/** Builds the pair and starts the handshake at t = 0. */
export function makePair(options: PairOptions = {}): Pair {
  const sim = new SimNetwork({ seed: options.seed ?? 1, defaultLink: options.link ?? { delayMs: 35, jitterMs: 5 } });
  // Encrypted, as every rudp connection is by default; the keys come from the seed, so runs repeat.
  const client = new Endpoint({ random: sim.random('client'), ...secure(sim.random('client-crypto'), options.client), ...options.client });
  const server = new Endpoint({ random: sim.random('server'), acceptIncoming: true, ...secure(sim.random('server-crypto'), options.server), ...options.server });
  const clientEvents: Recorded[] = [];
  const serverEvents: Recorded[] = [];
  let serverConn: Connection | undefined;
  const pair: Pair = {
    sim,
    client,
    server,
    clientEvents,
    serverEvents,
    conn: undefined as unknown as Connection,
    serverConn: () => serverConn,
    onServerEvent: undefined,
    onClientEvent: undefined,
  };
  const drain = (ep: Endpoint, log: Recorded[], now: number, hook: () => ((e: EndpointEvent, now: number) => void) | undefined): void => {
    for (let e = ep.pollEvent(); e; e = ep.pollEvent()) {
      if (e.type === 'incoming') serverConn = e.connection;
      log.push({ at: now, event: e });
      hook()?.(e, now);
    }
  };
  const batch = options.receiveBatchMs === undefined ? {} : { receiveBatchMs: options.receiveBatchMs };
  sim.addNode(SERVER, server, {
    ...batch,
    onActivity: (now) => {
      if (options.serverReads && !options.serverReads()) return;
      drain(server, serverEvents, now, () => pair.onServerEvent);
    },
  });
  sim.addNode(CLIENT, client, { ...batch, onActivity: (now) => drain(client, clientEvents, now, () => pair.onClientEvent) });
  (pair as { conn: Connection }).conn = client.connect(0, SERVER);
  sim.wake(CLIENT);
  return pair;
}

/** Messages (payloads) an event log received, in order. */
export function messagesOf(log: readonly Recorded[]): Uint8Array[] {
  // A loop, not flatMap's array a record: tests poll this every few simulated ms over logs of many thousand events.
  const out: Uint8Array[] = [];
  for (const r of log) if (r.event.type === 'message') out.push(r.event.data);
  return out;
}

/** Ids of the messages an event log heard acknowledged, in the order heard (an `acked` event reports a run of them), each with when. */
export function ackedOf(log: readonly Recorded[]): { readonly id: number; readonly at: number }[] {
  return log.flatMap((r) => (r.event.type === 'acked' ? Array.from({ length: r.event.count }, (_, k) => ({ id: (r.event as { messageId: number }).messageId + k, at: r.at })) : []));
}

/** The first event of a type, if any. */
export function firstOf(log: readonly Recorded[], type: EndpointEvent['type']): Recorded | undefined {
  return log.find((r) => r.event.type === type);
}
