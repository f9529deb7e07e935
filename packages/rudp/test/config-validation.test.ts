import { describe, expect, it } from 'vitest';
import { DEFAULT_CONNECTION_CONFIG, MIN_MTU } from '../src/core/config.js';
import { Bbr } from '../src/core/congestion/bbr.js';
import { Endpoint, type EndpointConfig } from '../src/core/endpoint.js';
import { createRandom } from '../src/testing/prng.js';
import { CLIENT, SERVER, makePair } from './helpers/pair.js';

const random = createRandom(1);
const endpoint = (extra: Record<string, unknown>): Endpoint => new Endpoint({ random, plaintext: true, ...extra } as EndpointConfig);

describe('configuration is validated when an endpoint or connection is created', () => {
  it('refuses an unknown option name and suggests the one meant', () => {
    expect(() => endpoint({ handshakeTimeoutMS: 100 })).toThrow(new TypeError("rudp: unknown connection option 'handshakeTimeoutMS' (did you mean 'handshakeTimeoutMs'?)"));
    expect(() => endpoint({ colour: 'red' })).toThrow(/unknown connection option 'colour'$/);
    const e = endpoint({});
    expect(() => e.connect(0, SERVER, { idleTimeoutMS: 5 } as never)).toThrow(TypeError);
    expect(() => endpoint({ redundancy: { ...DEFAULT_CONNECTION_CONFIG.redundancy, maxcopies: 1 } })).toThrow(/unknown redundancy option 'maxcopies' \(did you mean 'maxCopies'\?\)/);
  });

  it('says a missing redundancy field is missing (it read "got undefined undefined"), and the defaults cannot be changed from outside', () => {
    expect(() => endpoint({ redundancy: { maxCopies: 1 } })).toThrow(/\(got undefined\)$/);
    expect(Object.isFrozen(DEFAULT_CONNECTION_CONFIG) && Object.isFrozen(DEFAULT_CONNECTION_CONFIG.redundancy)).toBe(true);
    expect(() => {
      (DEFAULT_CONNECTION_CONFIG as { idleTimeoutMs: number }).idleTimeoutMs = -1;
    }).toThrow(TypeError);
  });

  it('names the field and its range for a value out of range (mtu 1500 used to loop forever)', () => {
    expect(() => endpoint({ mtu: 1500 })).toThrow(new RangeError(`rudp: option 'mtu' must be an integer from ${MIN_MTU} to 1200 (got 1500)`));
    const e = endpoint({});
    expect(() => e.connect(0, SERVER, { mtu: 1500 })).toThrow(RangeError);
    expect(e.connectionCount).toBe(0);
    expect(() => endpoint({ mtu: 1000.5 })).toThrow(/'mtu' must be an integer/);
    expect(() => endpoint({ receiveWindow: -1 })).toThrow(/'receiveWindow' must be an integer from 1024/);
    expect(() => endpoint({ idleTimeoutMs: Number.NaN })).toThrow(RangeError);
    expect(() => endpoint({ timeThreshold: 0.5 })).toThrow(/'timeThreshold' must be a number from 1 to 100 \(got 0.5\)/);
    expect(() => endpoint({ packetThreshold: 0 })).toThrow(RangeError);
    expect(() => endpoint({ maxConnections: 0 })).toThrow(/'maxConnections'/);
    expect(() => endpoint({ maxReceiveBufferBytes: -1 })).toThrow(new RangeError(`rudp: option 'maxReceiveBufferBytes' must be an integer from 0 to ${2 ** 50} (got -1)`));
    expect(() => endpoint({ maxReceiveBufferBytes: 1.5 })).toThrow(RangeError);
    expect(() => endpoint({ maxReceiveBufferBytes: '1' })).toThrow(TypeError);
    expect(() => endpoint({ maxReceiveBufferBytes: 0 })).not.toThrow();
    expect(() => endpoint({ maxReceiveBuferBytes: 1 })).toThrow(/unknown connection option 'maxReceiveBuferBytes'/);
    expect(() => endpoint({ redundancy: { ...DEFAULT_CONNECTION_CONFIG.redundancy, highLossThreshold: 2 } })).toThrow(/'redundancy.highLossThreshold'/);
    // previousCopyShare may be left out (off), but when given it is a share.
    expect(() => endpoint({ redundancy: { ...DEFAULT_CONNECTION_CONFIG.redundancy, previousCopyShare: 1 } })).not.toThrow();
    expect(() => endpoint({ redundancy: { ...DEFAULT_CONNECTION_CONFIG.redundancy, previousCopyShare: 1.5 } })).toThrow(
      /'redundancy.previousCopyShare' must be a number from 0 to 1 \(got 1.5\)/,
    );
  });

  it('names the field and the expected type for a value of the wrong type', () => {
    expect(() => endpoint({ mtu: '1200' })).toThrow(new TypeError(`rudp: option 'mtu' must be an integer from ${MIN_MTU} to 1200 (got the string "1200")`));
    expect(() => endpoint({ congestion: 5 })).toThrow(/'congestion' must be a function/);
    // A factory whose product is no controller: refused here, not found out by each connection's first packet (a throw out of the poll).
    expect(() => endpoint({ congestion: () => null })).toThrow(new TypeError(`rudp: option 'congestion' must return a CongestionController (got null, without a method 'window')`));
    expect(() => endpoint({ congestion: () => ({ name: 'half', window: () => 1e6 }) })).toThrow(/must return a CongestionController .*without a method 'pacingRate'/);
    // Checked once per factory, not at every check of options carrying it (the Node API checks them, then its endpoint).
    let made = 0;
    const counted = (mtu: number): Bbr => {
      made++;
      return new Bbr(mtu);
    };
    const e = endpoint({ congestion: counted });
    endpoint({ congestion: counted });
    expect(made).toBe(1);
    e.connect(0, SERVER, { mtu: 1200 });
    expect(made).toBe(2);
    expect(() => endpoint({ redundancy: null })).toThrow(/'redundancy' must be an object \(got null\)/);
    expect(() => new Endpoint({} as EndpointConfig)).toThrow(/'random' must be a function/);
    expect(() => endpoint({ acceptIncoming: 'yes' })).toThrow(/'acceptIncoming' must be a boolean/);
  });

  it('accepts every default and an explicit undefined', () => {
    expect(() => endpoint({ ...DEFAULT_CONNECTION_CONFIG, mtu: undefined })).not.toThrow();
  });

  it(`the smallest mtu (${MIN_MTU}) carries messages both ways, including a close with a long reason`, () => {
    const p = makePair({ client: { mtu: MIN_MTU }, server: { mtu: MIN_MTU } });
    const sent = [new Uint8Array(5_000).fill(7), new Uint8Array(3).fill(1)];
    for (const m of sent) p.conn.send(m);
    p.sim.wake(CLIENT);
    p.sim.runFor(3_000);
    const got = p.serverEvents.flatMap((r) => (r.event.type === 'message' ? [r.event.data] : []));
    expect(got).toEqual(sent);
    p.conn.destroy(p.sim.now, 7, 'x'.repeat(300));
    p.sim.wake(CLIENT);
    p.sim.runFor(3_000);
    const closed = p.serverEvents.find((r) => r.event.type === 'closed');
    expect(closed?.event.type === 'closed' && closed.event.reason.code).toBe(7);
    // Cut to what a CLOSE always has room for at this mtu beside an ACK (half the packet): 48 bytes, the same at both ends.
    expect(closed?.event.type === 'closed' && closed.event.reason.message).toBe('x'.repeat(48));
    expect(p.conn.closeReason?.message).toBe('x'.repeat(48));
  });
});

describe('server connection ids in the QUIC-LB layout', () => {
  it('every connection the server accepts has an id that carries its server id; the generator is validated', async () => {
    const { decodeQuicLbCid, quicLbCidGenerator } = await import('../src/wire/quic-lb-cid.js');
    const config = { configRotation: 0, serverIdBytes: 1, selfEncodeLength: true } as const;
    const ids: number[] = [];
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const p = makePair({ seed, server: { connectionIds: quicLbCidGenerator(config, 42) } });
      p.sim.runFor(500);
      const conn = p.serverConn();
      expect(conn).toBeDefined();
      ids.push(conn?.localCid as number);
      // The client learned that id: every packet it sends names it.
      expect(p.conn.remoteCid).toBe(conn?.localCid);
    }
    for (const id of ids) expect(decodeQuicLbCid(config, id)).toMatchObject({ ok: true, value: { serverId: 42 } });
    expect(new Set(ids).size).toBe(ids.length);
    expect(() => endpoint({ connectionIds: 7 })).toThrow(/'connectionIds' must be a function/);
  });

  it('a generator that gives no usable id makes the server refuse the connection (counted as full), not loop', () => {
    // 0 is reserved: every draw is refused, and after a bounded number the client is told the server is full.
    const p = makePair({ server: { connectionIds: () => 0 } });
    p.sim.runFor(1_000);
    expect(p.serverConn()).toBeUndefined();
    expect(p.conn.closeReason?.kind).toBe('refused');
    expect(p.server.stats().dropped.full).toBeGreaterThan(0);
  });
});
