/**
 * Attack round 14: what a data directory's accounts cost the server that loads them. Writes
 * `credentials.txt` with `count` accounts (plain `uN pw-uN` lines, or scrypt-hash-sized secrets with
 * `hashed`), starts the built server on it and measures it after a forced GC (churn-probe.cjs), next
 * to the same server on an empty directory. Then one login, to show they are usable.
 *
 * Run: `npx tsx attack/churn-accounts.ts [count=100000] [plain|hashed] [server options…]`
 */
import { randomInt } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, rawSession, startChurnServer } from './churn-lib.js';

const count = Number(process.argv[2] ?? 100_000);
const hashed = process.argv[3] === 'hashed';
const extra = process.argv.slice(4);
// The shape of an scrypt secret (scrypt$<22+2 base64>$<43+1 base64>): what --hash-passwords stores.
const secret = (i: number): string => (hashed ? `scrypt$${'A'.repeat(22)}==$${String(i).padStart(43, 'B')}=` : `pw-u${i}`);

const empty = await startChurnServer(20000 + randomInt(20000), extra);
const base = await empty.probe(0);
await empty.stop();
console.log(`empty directory: ${describe(base)}`);
const t0 = performance.now();
const server = await startChurnServer(20000 + randomInt(20000), extra, (dir) => {
  writeFileSync(join(dir, 'credentials.txt'), Array.from({ length: count }, (_, i) => `u${i} ${secret(i)}\n`).join(''));
});
const startMs = performance.now() - t0;
const loaded = await server.probe(count);
console.log(`${count} accounts (${hashed ? 'hashed' : 'plain'}), started in ${(startMs / 1000).toFixed(1)} s: ${describe(loaded)}`);
console.log(`per account: heap ${((loaded.memory.heapUsed - base.memory.heapUsed) / count).toFixed(0)} B, rss ${((loaded.memory.rss - base.memory.rss) / count).toFixed(0)} B, file ${(loaded.dataBytes / count).toFixed(0)} B`);
if (!hashed) {
  const s = await rawSession(server.port, '127.0.0.5');
  const old = (await s.login(`u${count - 1}`, `pw-u${count - 1}`))?.lines.join('|');
  await s.conn.close().catch(() => undefined);
  const n = await rawSession(server.port, '127.0.0.6');
  console.log(`login of u${count - 1}: ${old}; a new name: ${(await n.login('newcomer', 'pw'))?.lines.join('|')}`);
  await n.conn.close().catch(() => undefined);
}
await server.stop();
process.exit(0);
