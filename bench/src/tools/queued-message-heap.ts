/**
 * Heap bytes a rudp build keeps per message queued and not sent yet: a
 * client connection (encrypted, default options) whose handshake never
 * completes is handed 16,384 messages of 64 bytes (a 1 MiB high-water mark
 * of them, what a writer keeps queued), between two forced collections.
 * The messages share one byte array, so the figure is the queue's own.
 *
 * Usage (from bench/): node --expose-gc --import tsx src/tools/queued-message-heap.ts [dist=../packages/rudp/dist]
 */
import { fileURLToPath } from 'node:url';
import { createRandom } from '../lib/rudp-imports.js';

type CoreApi = typeof import('rudpx/core');
type RudpApi = typeof import('rudpx');

const QUEUED = 16_384;
const dist = process.argv[2] ?? fileURLToPath(new URL('../../../packages/rudp/dist', import.meta.url));
const { Endpoint, formatAddress } = (await import(`${dist}/core.js`)) as CoreApi;
const { defaultCryptoProvider } = (await import(`${dist}/index.js`)) as RudpApi;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

const client = new Endpoint({ random: createRandom(1), crypto: defaultCryptoProvider });
// Nobody answers at this address: the handshake never completes and nothing leaves the queue.
const conn = client.connect(0, formatAddress('10.0.0.1', 4000), { serverKey: new Uint8Array(32).fill(9) });
const msg = new Uint8Array(64);
gc();
gc();
const before = process.memoryUsage().heapUsed;
for (let i = 0; i < QUEUED; i++) conn.send(msg);
gc();
gc();
console.log(`${dist}: ${((process.memoryUsage().heapUsed - before) / QUEUED).toFixed(1)} heap bytes per queued message (${QUEUED} of 64 bytes)`);
