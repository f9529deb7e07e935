import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { expect, it } from 'vitest';
import { startLossyRelay } from '../src/index.js';
import { until } from './helpers/until.js';

// Its own file, so its worker process starts with no sockets left over by other tests.

const count = (kind: string): number => process.getActiveResourcesInfo().filter((r) => r === kind).length;

async function bound(onMessage: (msg: Buffer, rinfo: dgram.RemoteInfo, s: dgram.Socket) => void): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  s.on('message', (msg, rinfo) => onMessage(msg, rinfo, s));
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  return s;
}

it('close() releases every socket and timer of the relay', async () => {
  let got = 0;
  const server = await bound((msg, rinfo, s) => s.send(msg, rinfo.port, rinfo.address));
  const client = await bound(() => got++);
  const udpBefore = count('UDPWrap');
  const timersBefore = count('Timeout');
  expect(udpBefore).toBe(2);

  const relay = await startLossyRelay({ targetPort: (server.address() as AddressInfo).port, seed: 5, delayMs: 200 });
  client.send(Buffer.from('one'), relay.port, '127.0.0.1');
  client.send(Buffer.from('two'), relay.port, '127.0.0.1');
  await until(() => relay.stats().pending === 2);
  // Listening socket + one upstream socket; an idle sweep and a delay timer.
  expect(count('UDPWrap')).toBe(udpBefore + 2);
  expect(count('Timeout')).toBeGreaterThanOrEqual(timersBefore + 1);

  await relay.close();
  await until(() => count('UDPWrap') === udpBefore && count('Timeout') === timersBefore);
  expect(relay.stats()).toMatchObject({ clients: 0, pending: 0 });
  expect(got).toBe(0);
  await relay.close(); // idempotent

  await Promise.all([server, client].map((s) => new Promise<void>((r) => s.close(() => r()))));
  await until(() => count('UDPWrap') === 0);
});
