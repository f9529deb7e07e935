/**
 * Attack round 11: forum-client's known-hosts file, damaged or huge (a disk error, a sync tool's
 * merge, another program writing it, a hostile user with write access to a shared home).
 *
 *   npx tsx attack/known-hosts-abuse.ts damaged [lines=1000000]  # that many unreadable lines, then connect
 *   npx tsx attack/known-hosts-abuse.ts huge [MiB=300]           # that many MiB of well-formed lines of other hosts
 *   npx tsx attack/known-hosts-abuse.ts race [clients=8]         # that many first contacts at once, then one more connect
 *
 * Prints the client's exit, time, peak RSS and how many lines it wrote to stderr.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fakeServer, login, runClient, summary } from './hostile-server-lib.js';

const mode = process.argv[2] ?? 'damaged';
const n = Number(process.argv[3] ?? (mode === 'huge' ? 300 : mode === 'race' ? 8 : 1_000_000));
const dir = await mkdtemp(join(tmpdir(), 'a11-kh-'));
const kh = join(dir, 'known_hosts');
const server = await fakeServer((req) => login(req));

const write = async (lines: () => string | undefined): Promise<void> => {
  const out = createWriteStream(kh);
  for (let l = lines(); l !== undefined; l = lines()) if (!out.write(l)) await new Promise<void>((r) => out.once('drain', () => r()));
  await new Promise<void>((r) => out.end(() => r()));
};

if (mode === 'damaged') {
  let i = 0;
  await write(() => (i++ < n ? `garbage line ${i}\n` : undefined));
} else if (mode === 'huge') {
  const line = (k: number): string => `host-${k}.example:9000 x25519 ${randomBytes(32).toString('hex')}\n`;
  let bytes = 0;
  let k = 0;
  await write(() => {
    if (bytes >= n * 2 ** 20) return undefined;
    // 1,000 lines per write.
    const chunk = Array.from({ length: 1000 }, () => line(k++)).join('');
    bytes += chunk.length;
    return chunk;
  });
}

if (mode === 'race') {
  const runs = await Promise.all(Array.from({ length: n }, () => runClient(server.port, ['XIT'], 30, { args: ['--known-hosts', kh] })));
  const text = await readFile(kh, 'utf8');
  console.log(`[race] ${n} first contacts at once: exits ${runs.map((r) => r.code).join(',')}; the file has ${text.split('\n').filter((l) => l !== '').length} line(s)`);
  const after = await runClient(server.port, ['XIT'], 30, { args: ['--known-hosts', kh] });
  console.log(`[race] the next connect's stderr: ${JSON.stringify(after.stderr)}`);
} else {
  const run = await runClient(server.port, ['XIT'], 120, { args: ['--known-hosts', kh] });
  console.log(summary(mode, run));
  console.log(`[${mode}] ${mode === 'huge' ? `${n} MiB` : `${n} damaged lines`}: stderr ${run.stderr.split('\n').length - 1} lines, ${(run.stderr.length / 2 ** 20).toFixed(1)} MiB; first: ${JSON.stringify(run.stderr.split('\n')[0])}`);
}
await server.close();
process.exit(0);
