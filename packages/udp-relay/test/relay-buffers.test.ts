import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { startLossyRelay } from '../src/index.js';
import { until } from './helpers/until.js';
import type { LossyRelay } from '../src/index.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const BURST = 600;
const BUFFER = 4 * 1024 * 1024;

/** The kernel's cap on SO_RCVBUF: a smaller one cannot hold the burst whatever the relay asks for. */
function rmemMax(): number {
  try {
    return Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
  } catch {
    return 0;
  }
}

async function socket(recvBufferSize?: number): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: 'udp4', ...(recvBufferSize !== undefined ? { recvBufferSize } : {}) });
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => s.close(() => resolve())));
  return s;
}

/** Writes `BURST` full-size datagrams to a relay while its (this) event loop cannot read; returns how many the relay received. */
async function burstThrough(socketBufferBytes: number | undefined): Promise<number> {
  const target = await socket(BUFFER);
  let got = 0;
  target.on('message', () => got++);
  const relay: LossyRelay = await startLossyRelay({ targetPort: target.address().port, seed: 1, ...(socketBufferBytes !== undefined ? { socketBufferBytes } : {}) });
  cleanups.push(() => relay.close());
  const client = await socket();
  await new Promise<void>((resolve) => client.connect(relay.port, '127.0.0.1', resolve));
  const datagram = Buffer.alloc(1200, 7);
  // Connected: each send reaches the kernel at once, before the relay's next read.
  for (let i = 0; i < BURST; i++) client.send(datagram);
  // Settled: the relay has read all it will (its count stood still for 200 ms) and forwarded it.
  let last = -1;
  let stillSince = Date.now();
  await until(() => {
    const n = relay.stats().clientToServer.sentDatagrams;
    if (n !== last) {
      last = n;
      stillSince = Date.now();
    }
    return n === BURST || (n > 0 && got === n && Date.now() - stillSince >= 200);
  });
  return relay.stats().clientToServer.sentDatagrams;
}

describe('socket buffers', () => {
  it.runIf(process.platform === 'linux' && rmemMax() >= 2 * 1024 * 1024)('socketBufferBytes lets a burst written while the relay is busy wait in the kernel instead of being dropped', async () => {
    expect(await burstThrough(BUFFER)).toBe(BURST);
    // The system default (about 208 KiB) holds some 90 of them: the rest are dropped before the relay sees them.
    expect(await burstThrough(undefined)).toBeLessThan(BURST / 2);
  });
});
