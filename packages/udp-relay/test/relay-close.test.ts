import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { startLossyRelay } from '../src/index.js';
import { until } from './helpers/until.js';

// Its own file, so its worker process starts with no sockets left over by other tests.

const count = (kind: string): number => process.getActiveResourcesInfo().filter((r) => r === kind).length;

const RELAY_SOURCE = '/udp-relay/src/lossy-relay.ts';

/** The global timer functions as they were before `trackTimers` wrapped them. */
const real = { setTimeout, setInterval, clearTimeout, clearInterval } as const;
afterEach(() => void Object.assign(globalThis, real));

/**
 * The timers (timeouts and intervals) that `file`'s code has started and that are still pending, seen through
 * the global timer functions. Not the process's count of `Timeout` resources: vitest's own timers (its RPC calls'
 * timeouts) come and go in the same process, and at load one outlived the relay's close here (CI).
 */
function trackTimers(file: string): ReadonlySet<NodeJS.Timeout> {
  const live = new Set<NodeJS.Timeout>();
  const fromFile = (): boolean => (new Error().stack ?? '').includes(file);
  const wrappedTimeout = (cb: (...a: unknown[]) => void, ms?: number, ...args: unknown[]): NodeJS.Timeout => {
    const t = real.setTimeout((...a: unknown[]) => (live.delete(t), cb(...a)), ms, ...args);
    if (fromFile()) live.add(t);
    return t;
  };
  const wrappedInterval = (cb: (...a: unknown[]) => void, ms?: number, ...args: unknown[]): NodeJS.Timeout => {
    const t = real.setInterval(cb, ms, ...args);
    if (fromFile()) live.add(t);
    return t;
  };
  const cleared = (t: string | number | NodeJS.Timeout | undefined): void => {
    if (typeof t === 'object') live.delete(t);
  };
  Object.assign(globalThis, {
    setTimeout: wrappedTimeout,
    setInterval: wrappedInterval,
    clearTimeout: (t?: string | number | NodeJS.Timeout) => (cleared(t), real.clearTimeout(t)),
    clearInterval: (t?: string | number | NodeJS.Timeout) => (cleared(t), real.clearInterval(t)),
  });
  return live;
}

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
  expect(udpBefore).toBe(2);

  const relayTimers = trackTimers(RELAY_SOURCE);
  const relay = await startLossyRelay({ targetPort: (server.address() as AddressInfo).port, seed: 5, delayMs: 200 });
  client.send(Buffer.from('one'), relay.port, '127.0.0.1');
  client.send(Buffer.from('two'), relay.port, '127.0.0.1');
  await until(() => relay.stats().pending === 2);
  // Listening socket + one upstream socket; the idle sweep and the upstream pipe's delay timer.
  expect(count('UDPWrap')).toBe(udpBefore + 2);
  expect(relayTimers.size).toBe(2);

  await relay.close();
  expect(relayTimers.size).toBe(0);
  await until(() => count('UDPWrap') === udpBefore);
  expect(relay.stats()).toMatchObject({ clients: 0, pending: 0 });
  expect(got).toBe(0);
  await relay.close(); // idempotent

  await Promise.all([server, client].map((s) => new Promise<void>((r) => s.close(() => r()))));
  await until(() => count('UDPWrap') === 0);
});
