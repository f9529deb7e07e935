import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropsOf } from '../src/udp/socket-drops.js';
import { RelayHost } from '../src/udp/relay-host.js';

describe('dropsOf', () => {
  it('sums the drops column of the rows whose inode is given', () => {
    const table = [
      '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops            ',
      '  123: 0100007F:A1B2 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4242 2 0000000000000000 307        ',
      '  124: 0100007F:A1B3 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000     0        0 4243 2 0000000000000000 5          ',
      '  125: 0100007F:A1B4 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 9999 2 0000000000000000 1000       ',
    ].join('\n');
    expect(dropsOf(table, new Set(['4242', '4243']))).toBe(312);
    expect(dropsOf(table, new Set())).toBe(0);
  });
});

describe('RelayHost', () => {
  let host: RelayHost;
  beforeAll(async () => {
    host = await RelayHost.start();
  });
  afterAll(async () => {
    await host.stop();
  });

  it('runs a relay in its own process that forwards and counts', async () => {
    const target = dgram.createSocket('udp4');
    const got: string[] = [];
    target.on('message', (m) => got.push(m.toString()));
    await new Promise<void>((resolve) => target.bind(0, '127.0.0.1', resolve));
    const relay = await host.startRelay({ targetPort: target.address().port, seed: 1, socketBufferBytes: 1 << 20 });
    const client = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
    for (let i = 0; i < 10; i++) client.send(`m${i}`, relay.port, '127.0.0.1');
    const by = Date.now() + 10_000;
    while (got.length < 10 && Date.now() < by) await new Promise((r) => setTimeout(r, 10));
    const stats = await relay.stats();
    expect(got).toHaveLength(10);
    expect(stats.clientToServer.sentDatagrams).toBe(10);
    expect(stats.clientToServer.deliveredDatagrams).toBe(10);
    expect(stats.kernelDrops).toBe(0);
    expect(stats.cpuSeconds).toBeGreaterThan(0);
    await relay.close();
    await new Promise<void>((resolve) => client.close(() => resolve()));
    await new Promise<void>((resolve) => target.close(() => resolve()));
  });
});
