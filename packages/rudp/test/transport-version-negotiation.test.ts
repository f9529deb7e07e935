/**
 * Peers of different protocol versions (attack round 20), in the simulator:
 * a server and client of one version connect as before, no VERSION packet
 * between them. The rule itself (a server answers another version's INITIAL,
 * a client in its handshake ends its attempt) is checked endpoint by endpoint
 * in unit/version-negotiation.test.ts, where its named mutants run.
 */
import { describe, expect, it } from 'vitest';
import { Endpoint } from '../src/core/endpoint.js';
import { SimNetwork } from '../src/testing/sim-network.js';
import { deterministicCrypto } from '../src/testing/deterministic-crypto.js';
import { nodeCryptoProvider } from '../src/node/crypto-provider.js';
import { PROTOCOL_VERSION } from '../src/wire/packet.js';
import { decodeVersionPacket } from '../src/wire/version-packet.js';
import { asVersion, drain } from './helpers/other-version.js';

const SERVER = '10.0.0.2:4000';
const CLIENT = '10.0.0.1:5000';

function endpoints() {
  const sim = new SimNetwork({ seed: 20 });
  const crypto = (label: string) => deterministicCrypto(nodeCryptoProvider, sim.random(`${label}-crypto`));
  const server = new Endpoint({ random: sim.random('server'), acceptIncoming: true, crypto: crypto('server') });
  const client = new Endpoint({ random: sim.random('client'), crypto: crypto('client') });
  return { server, client };
}

describe('protocol version negotiation', () => {
  it("an encrypting client's INITIAL, to a server of another version, is answered with the id its attempt is known by", () => {
    const { server, client } = endpoints();
    const conn = client.connect(0, SERVER);
    // The INITIAL as a client of the next version would send it: the id stays at bytes 7 to 10 with a Noise hello after it.
    for (const d of drain(client, 0)) server.handleDatagram(0, asVersion(d, PROTOCOL_VERSION + 1), CLIENT);
    const answers = drain(server, 0);
    expect(answers.map((a) => decodeVersionPacket(a))).toEqual([{ clientCid: conn.localCid, versions: [PROTOCOL_VERSION] }]);
    expect(server.connectionCount).toBe(0);
  });

  it('a server and client of one version connect as before, no VERSION packet between them', () => {
    const sim = new SimNetwork({ seed: 21, defaultLink: { delayMs: 20 } });
    const crypto = (label: string) => deterministicCrypto(nodeCryptoProvider, sim.random(`${label}-crypto`));
    const server = new Endpoint({ random: sim.random('server'), acceptIncoming: true, crypto: crypto('server') });
    const client = new Endpoint({ random: sim.random('client'), crypto: crypto('client') });
    sim.addNode(SERVER, server, { onActivity: () => void drainEvents(server) });
    sim.addNode(CLIENT, client, { onActivity: () => void drainEvents(client) });
    const conn = client.connect(sim.now, SERVER);
    sim.wake(CLIENT);
    sim.runFor(300);
    expect(conn.state).toBe('established');
    expect(server.stats().dropped.version + client.stats().dropped.version).toBe(0);
  });
});

function drainEvents(ep: Endpoint): void {
  while (ep.pollEvent() !== undefined);
}
