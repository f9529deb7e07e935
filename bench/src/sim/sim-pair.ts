import { SimNetwork, type LinkConfig, type LinkStats } from '../lib/rudp-imports.js';
import type { MessageConnection, MessageEndpoint } from '../peers/message-endpoint.js';
import type { EndpointTuning, SystemFactory, SystemId } from '../peers/systems.js';

/** Which end of a pair. */
export type Side = 'client' | 'server';

/** Address of the client and server nodes of a `SimPair`. */
export const CLIENT_ADDRESS = 'client:1';
export const SERVER_ADDRESS = 'server:1';

/** Bytes of IPv4 + UDP header added to each datagram when counting wire bytes. */
export const IP_UDP_HEADER_BYTES = 28;
/** Largest UDP payload the simulated path carries: a 1500-byte IPv4 MTU less the IP and UDP headers (rudp's path MTU discovery finds it; larger datagrams are dropped). */
export const PATH_MAX_UDP_PAYLOAD = 1472;

/** Options of a `SimPair`. */
export interface SimPairOptions {
  readonly factory: SystemFactory;
  readonly system: SystemId;
  readonly tuning?: EndpointTuning;
  readonly link: LinkConfig;
  readonly seed: number;
  /** Called for every message delivered to either side's application. */
  readonly onMessage: (side: Side, data: Uint8Array, now: number) => void;
  /** Called once both sides hold a connection handle (the server learns of the client from its traffic). */
  readonly onEstablished?: (now: number) => void;
}

/**
 * A client and a server endpoint of one system in a seeded `SimNetwork`,
 * both directions on the same impaired link. The client connects and sends
 * at once; the server's handle appears with its `incoming` event.
 */
export class SimPair {
  readonly sim: SimNetwork;
  readonly client: MessageEndpoint;
  readonly server: MessageEndpoint;
  private clientConn: MessageConnection | undefined;
  private serverConn: MessageConnection | undefined;
  private clientUp = false;
  private established = false;

  constructor(private readonly options: SimPairOptions) {
    // The bottleneck carries each datagram's IPv4 + UDP header too, as a real link does, and the path has a real MTU.
    this.sim = new SimNetwork({ seed: options.seed, defaultLink: { headerBytes: IP_UDP_HEADER_BYTES, mtu: PATH_MAX_UDP_PAYLOAD, ...options.link } });
    const { factory, system, tuning } = options;
    this.client = factory.create(system, this.sim.random('client'), false, tuning);
    this.server = factory.create(system, this.sim.random('server'), true, tuning);
    this.sim.addNode(CLIENT_ADDRESS, this.client, { onActivity: (now) => this.drain('client', now) });
    this.sim.addNode(SERVER_ADDRESS, this.server, { onActivity: (now) => this.drain('server', now) });
  }

  /** Opens the client's connection (sends queue until it is up). */
  connect(): void {
    this.clientConn = this.client.connect(this.sim.now, SERVER_ADDRESS);
    this.sim.wake(CLIENT_ADDRESS);
    this.drain('client', this.sim.now);
  }

  /** The connection handle of `side`, once it has one. */
  connection(side: Side): MessageConnection | undefined {
    return side === 'client' ? this.clientConn : this.serverConn;
  }

  /** Whether `side` can send now. */
  canSend(side: Side): boolean {
    return (side === 'client' ? this.clientConn : this.serverConn) !== undefined;
  }

  /** Sends one message from `side` and lets the simulator see the change. */
  send(side: Side, data: Uint8Array): void {
    const conn = side === 'client' ? this.clientConn : this.serverConn;
    if (!conn) throw new Error(`${side} has no connection yet`);
    conn.send(data);
    this.sim.wake(side === 'client' ? CLIENT_ADDRESS : SERVER_ADDRESS);
  }

  /** Datagrams and bytes sent so far in both directions, headers counted as `IP_UDP_HEADER_BYTES` each. */
  wireBytes(): number {
    return wireBytesOf(this.sim.totals());
  }

  private drain(side: Side, now: number): void {
    const endpoint = side === 'client' ? this.client : this.server;
    for (let ev = endpoint.pollEvent(); ev; ev = endpoint.pollEvent()) {
      switch (ev.type) {
        case 'connected':
        case 'incoming':
          if (side === 'client') this.clientUp = true;
          else this.serverConn ??= ev.connection;
          this.checkEstablished(now);
          break;
        case 'message':
          if (side === 'server') this.serverConn ??= ev.connection;
          this.checkEstablished(now);
          this.options.onMessage(side, ev.data, now);
          break;
        case 'closed':
          break;
      }
    }
  }

  private checkEstablished(now: number): void {
    if (this.established || !this.clientUp || !this.serverConn) return;
    this.established = true;
    this.options.onEstablished?.(now);
  }
}

/** UDP payload bytes plus an IPv4 + UDP header per datagram. */
export function wireBytesOf(stats: LinkStats): number {
  return stats.sentBytes + stats.sentDatagrams * IP_UDP_HEADER_BYTES;
}
