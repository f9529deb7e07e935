import type { Connection, Endpoint, EndpointConfig } from 'rudpx/core';
import type { PeerAddress, RandomSource, Transmit } from '../lib/rudp-imports.js';
import type { MessageConnection, MessageEndpoint, MessageEvent, TransportCounters } from './message-endpoint.js';

/** How the bench builds rudp endpoints once rudp's core is loaded. */
export interface RudpModule {
  /**
   * `plaintext`: the explicit unencrypted mode (the default is encrypted, as users get it);
   * `redundancy`: fields that replace the default redundancy settings.
   */
  createEndpoint(random: RandomSource, acceptIncoming: boolean, plaintext: boolean, redundancy?: RedundancyOverrides): MessageEndpoint;
}

/** Redundancy settings a bench system changes from rudp's defaults. */
export interface RedundancyOverrides {
  readonly previousCopyShare?: number;
}

/** A rudp connection seen as a bench `MessageConnection` (a send marks the connection for polling by itself). */
class RudpConnectionHandle implements MessageConnection {
  constructor(readonly connection: Connection) {}

  get remote(): PeerAddress {
    return this.connection.remote;
  }

  send(data: Uint8Array): void {
    this.connection.send(data);
  }

  counters(): TransportCounters {
    const s = this.connection.stats();
    // Read only if this build of rudp counts spurious retransmissions (issue 13 adds the counter).
    const spurious = 'spuriousRetransmissions' in s && typeof s.spuriousRetransmissions === 'number' ? s.spuriousRetransmissions : undefined;
    return { packetsSent: s.packetsSent, packetsRetransmitted: s.packetsRetransmitted, spuriousRetransmissions: spurious };
  }
}

/** rudp's `Endpoint` seen through the bench's `MessageEndpoint` (default tuning, nothing bench-specific). */
class RudpMessageEndpoint implements MessageEndpoint {
  private readonly handles = new WeakMap<Connection, RudpConnectionHandle>();

  constructor(private readonly endpoint: Endpoint) {}

  connect(now: number, to: PeerAddress): MessageConnection {
    return this.handle(this.endpoint.connect(now, to));
  }

  pollEvent(): MessageEvent | undefined {
    for (let ev = this.endpoint.pollEvent(); ev; ev = this.endpoint.pollEvent()) {
      switch (ev.type) {
        case 'connected':
        case 'incoming':
          return { type: ev.type, connection: this.handle(ev.connection) };
        case 'closed':
          return { type: 'closed', connection: this.handle(ev.connection), reason: `${ev.reason.kind}: ${ev.reason.message}` };
        case 'message':
          return { type: 'message', connection: this.handle(ev.connection), data: ev.data };
        case 'acked':
          break;
      }
    }
    return undefined;
  }

  handleDatagram(now: number, data: Uint8Array, from: PeerAddress): void {
    this.endpoint.handleDatagram(now, data, from);
  }

  pollTransmit(now: number): Transmit | undefined {
    return this.endpoint.pollTransmit(now);
  }

  pollTimeout(): number | undefined {
    return this.endpoint.pollTimeout();
  }

  handleTimeout(now: number): void {
    this.endpoint.handleTimeout(now);
  }

  private handle(connection: Connection): RudpConnectionHandle {
    let h = this.handles.get(connection);
    if (!h) {
      h = new RudpConnectionHandle(connection);
      this.handles.set(connection, h);
    }
    return h;
  }
}

/** Loads rudp's core (built); `undefined` if it cannot be imported. */
export async function loadRudp(): Promise<RudpModule | undefined> {
  let mod: typeof import('rudpx/core');
  let testing: typeof import('rudpx/testing');
  let node: typeof import('rudpx');
  try {
    [mod, testing, node] = await Promise.all([import('rudpx/core'), import('rudpx/testing'), import('rudpx')]);
  } catch {
    return undefined;
  }
  const EndpointClass = mod.Endpoint;
  return {
    createEndpoint: (random, acceptIncoming, plaintext, redundancy = {}) => {
      // Keys from the run's seed (node:crypto's primitives, seeded randomness), so a run repeats.
      const crypto = testing.deterministicCrypto(node.nodeCryptoProvider, testing.createRandom(random()));
      const base: EndpointConfig = plaintext ? { random, acceptIncoming, plaintext: true } : { random, acceptIncoming, crypto };
      const config: EndpointConfig =
        Object.keys(redundancy).length === 0 ? base : { ...base, redundancy: { ...mod.DEFAULT_CONNECTION_CONFIG.redundancy, ...redundancy } };
      return new RudpMessageEndpoint(new EndpointClass(config));
    },
  };
}
