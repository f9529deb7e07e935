/**
 * Bulk through `udp-relay` on loopback, for before/after comparisons of rudp
 * builds: one connection through a relay that delays each datagram
 * `delayMs` each way (and drops `loss` of them), `count` messages of 64 KiB
 * written as rudp's README shows (`write()` until it returns false, then
 * `'drain'`), timed from the first write to the last delivery. Each build
 * runs in this process in turn, `rounds` times, order reversed on odd rounds.
 *
 * Usage (from bench/): node --import tsx src/tools/relay-bulk.ts
 *   [loss=0] [delayMs=25] [rounds=2] [count=512] [builds='base=…/dist/index.js;new=rudpx']
 */
import { startLossyRelay } from 'udp-relay';

type RudpApi = typeof import('rudpx');

const SIZE = 64 * 1024;

/** One transfer of `count` messages with the build at `path`; Mbit/s of payload. */
async function runOne(path: string, loss: number, delayMs: number, count: number): Promise<number> {
  const api = (await import(path)) as RudpApi;
  const server = await api.listen({ port: 0 });
  let got = 0;
  let done = (): void => {};
  const finished = new Promise<void>((resolve) => (done = resolve));
  server.on('connection', (c) => c.on('message', () => void (++got === count && done())));
  const relay = await startLossyRelay({ targetPort: server.address().port, seed: 1, delayMs, loss });
  const client = await api.connect({ port: relay.port });
  const msg = new Uint8Array(SIZE).fill(7);
  let sent = 0;
  const pump = (): void => {
    while (sent < count) {
      sent++;
      if (!client.write(msg)) break;
    }
  };
  const start = performance.now();
  client.on('drain', pump);
  pump();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([finished, new Promise((resolve) => (timer = setTimeout(resolve, 120_000)))]);
  clearTimeout(timer);
  const ms = performance.now() - start;
  client.destroy();
  await relay.close();
  await server.close();
  if (got < count) throw new Error(`${path}: ${got} of ${count} messages in 120 s`);
  return (got * SIZE * 8) / ms / 1000;
}

const loss = Number(process.argv[2] ?? '0');
const delayMs = Number(process.argv[3] ?? '25');
const rounds = Number(process.argv[4] ?? '2');
const count = Number(process.argv[5] ?? '512');
const builds = (process.argv[6] ?? 'new=rudpx').split(';').map((b) => ({ name: b.slice(0, b.indexOf('=')), path: b.slice(b.indexOf('=') + 1) }));
const results = new Map<string, number[]>(builds.map((b) => [b.name, []]));
for (let round = 0; round < rounds; round++) {
  for (const b of round % 2 === 1 ? [...builds].reverse() : builds) results.get(b.name)?.push(await runOne(b.path, loss, delayMs, count));
}
for (const [name, rates] of results) console.log(`${name}: ${rates.map((r) => r.toFixed(1)).join(', ')} Mbit/s (loss ${loss}, ${2 * delayMs} ms RTT, ${count} × 64 KiB)`);
