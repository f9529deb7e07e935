import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeRetry } from '../src/wire/packet.js';
import {
  decodeQuicLbCid,
  encodeQuicLbCid,
  nonceBytes,
  quicLbCidGenerator,
  serverIdOfDatagram,
  type QuicLbConfig,
} from '../src/wire/quic-lb-cid.js';

const configs = fc.record({
  configRotation: fc.integer({ min: 0, max: 6 }),
  serverIdBytes: fc.constantFrom(1 as const, 2 as const),
  selfEncodeLength: fc.boolean(),
});

describe('QUIC-LB connection ids (unencrypted, 32-bit)', () => {
  it('lays out config rotation, length, server id and nonce from the high bits down', () => {
    const one: QuicLbConfig = { configRotation: 1, serverIdBytes: 1, selfEncodeLength: true };
    // 001 00011 | 0xAB | 0x1234
    expect(encodeQuicLbCid(one, 0xab, 0x1234)).toBe(0x23ab1234);
    const two: QuicLbConfig = { configRotation: 6, serverIdBytes: 2, selfEncodeLength: false };
    // 110 10101 | 0xBEEF | 0x07
    expect(encodeQuicLbCid(two, 0xbeef, 0x07, 0b10101)).toBe(0xd5beef07);
    expect(nonceBytes(one)).toBe(2);
    expect(nonceBytes(two)).toBe(1);
  });

  it('decodes what it encodes, for every configuration and field value', () => {
    fc.assert(
      fc.property(configs, fc.nat(), fc.nat(), fc.integer({ min: 0, max: 31 }), (config, s, n, bits) => {
        const serverId = s % 2 ** (8 * config.serverIdBytes);
        const nonce = n % 2 ** (8 * nonceBytes(config));
        const cid = encodeQuicLbCid(config, serverId, nonce, bits);
        expect(cid).toBeGreaterThanOrEqual(0);
        expect(cid).toBeLessThan(2 ** 32);
        expect(decodeQuicLbCid(config, cid)).toEqual({
          ok: true,
          value: { configRotation: config.configRotation, serverId, nonce, lengthBits: config.selfEncodeLength ? 3 : bits },
        });
      }),
    );
  });

  it('refuses CIDs it cannot route: unroutable, another configuration, a wrong self-encoded length', () => {
    const config: QuicLbConfig = { configRotation: 2, serverIdBytes: 1, selfEncodeLength: true };
    expect(decodeQuicLbCid(config, 0xe3000001)).toEqual({ ok: false, error: { kind: 'unroutable' } });
    expect(decodeQuicLbCid(config, encodeQuicLbCid({ ...config, configRotation: 3 }, 9, 9))).toEqual({ ok: false, error: { kind: 'otherConfig', configRotation: 3 } });
    expect(decodeQuicLbCid(config, 0x47000001)).toEqual({ ok: false, error: { kind: 'badLength', lengthBits: 7 } });
  });

  it('throws a RangeError with code ERR_OUT_OF_RANGE for a field that does not fit', () => {
    const config: QuicLbConfig = { configRotation: 0, serverIdBytes: 1, selfEncodeLength: true };
    expect(() => encodeQuicLbCid(config, 256, 0)).toThrow(expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }));
    expect(() => encodeQuicLbCid(config, 1, 65536)).toThrow(RangeError);
    expect(() => encodeQuicLbCid({ ...config, configRotation: 7 }, 1, 1)).toThrow(/configRotation/);
    expect(() => quicLbCidGenerator({ ...config, serverIdBytes: 2 }, 70000)).toThrow(/serverId/);
  });

  it('the generator gives ids of its server with random nonces, never 0', () => {
    const config: QuicLbConfig = { configRotation: 0, serverIdBytes: 2, selfEncodeLength: false };
    // A source that starts with zeros: with server id 0, the first draws would make the reserved id 0.
    const draws = [0, 0, 0x12345678];
    let i = 0;
    const gen = quicLbCidGenerator(config, 0);
    const cid = gen(() => draws[i++] ?? 0);
    expect(cid).not.toBe(0);
    expect(i).toBe(3);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 65535 }), fc.array(fc.nat({ max: 2 ** 32 - 1 }), { minLength: 20, maxLength: 20 }), (serverId, randoms) => {
        let k = 0;
        const g = quicLbCidGenerator(config, serverId);
        const ids = randoms.map(() => g(() => randoms[k++ % randoms.length] ?? 1));
        for (const id of ids) {
          const d = decodeQuicLbCid(config, id);
          expect(d.ok && d.value.serverId).toBe(serverId);
        }
      }),
    );
  });

  it('a balancer reads the server id from the destination CID of a real rudp datagram', () => {
    const config: QuicLbConfig = { configRotation: 1, serverIdBytes: 1, selfEncodeLength: true };
    const cid = encodeQuicLbCid(config, 42, 0xbeef);
    const datagram = encodeRetry(new Uint8Array(64), cid, new Uint8Array([1, 2, 3]));
    expect(serverIdOfDatagram(config, datagram)).toBe(42);
    // A client's first INITIAL has no server-chosen CID: no server id, route by address.
    expect(serverIdOfDatagram(config, encodeRetry(new Uint8Array(64), 0, new Uint8Array(0)))).toBeUndefined();
    expect(serverIdOfDatagram(config, new Uint8Array(3))).toBeUndefined();
  });
});
