/**
 * Attack round 17, item 1b: transfer tokens across a step of the server's wall clock (the token's 60 s life is
 * `Date.now() + 60 s` at the grant, checked against `Date.now()` as the transfer connection presents it).
 *
 *   npx tsx attack/clock-tokens.ts [forwardSeconds=120] [backSeconds=3600] [waitSeconds=65]
 *
 * Forward: an UPD granted, the server's clock stepped forward, the upload sent at once (an honest client a moment
 * after its grant). Back: a DWN granted, the clock set back, the download sent after `waitSeconds` (past the
 * token's life as the server's own monotonic time counts it).
 */
import { setMaxListeners } from 'node:events';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { download, session, startServer, upload } from './forum-raw.js';

const forward = Number(process.argv[2] ?? 120) * 1000;
const back = Number(process.argv[3] ?? 3600) * 1000;
const waitMs = Number(process.argv[4] ?? 65) * 1000;
const dir = await mkdtemp(join(tmpdir(), 'a17-tokens-'));
const clockFile = join(dir, 'clock-offset');
const data = join(dir, 'data');
await mkdir(data);
await writeFile(clockFile, '0');
const port = 20000 + Math.floor(Math.random() * 20000);
const server = await startServer(data, port, port + 1, ['--min-free-bytes', '0'], { nodeArgs: ['--import', new URL('./clock-offset.mjs', import.meta.url).pathname], env: { A17_CLOCK_FILE: clockFile } });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const abort = new AbortController();
setMaxListeners(0, abort.signal);
try {
  const s = await session(port, 'a', abort.signal);
  await s.request('CRT', ['t']);
  const g0 = await s.request('UPD', ['t', 'before.bin']);
  console.log(`upload with no step: ${(await upload(s, g0, Buffer.alloc(1000, 1), abort.signal)) ? 'OK' : 'refused'}`);
  const g1 = await s.request('UPD', ['t', 'f.bin']);
  await writeFile(clockFile, String(forward));
  await sleep(300);
  console.log(`upload granted, clock stepped +${forward / 1000} s, sent at once: ${(await upload(s, g1, Buffer.alloc(1000, 2), abort.signal)) ? 'OK' : 'refused'}`);
  const g2 = await s.request('UPD', ['t', 'f.bin']);
  console.log(`the same asked again: ${(await upload(s, g2, Buffer.alloc(1000, 2), abort.signal)) ? 'OK' : 'refused'}`);
  const d = await s.request('DWN', ['t', 'f.bin']);
  await writeFile(clockFile, String(forward - back));
  await sleep(waitMs);
  const got = await download(s, d, abort.signal);
  console.log(`download granted, clock set back ${back / 1000} s, sent ${waitMs / 1000} s later: ${got instanceof Buffer ? `${got.length} bytes` : got}`);
} finally {
  abort.abort();
  server.child.kill('SIGTERM');
  await server.exited;
  console.log(server.out.split('\n').filter((l) => /token|expired/i.test(l)).slice(0, 5).join('\n'));
  await rm(dir, { recursive: true, force: true });
}
