/**
 * Attack round 18, item 3b: the data directory on a small tmpfs (`mount -t tmpfs -o size=…`, as root) that
 * posters and an uploader fill: what clients read, whether the server stays up, whether it serves again
 * once room is made (the uploads' thread removed) without a restart, and what a restart finds.
 *
 *   [A18_SERVER_ARGS='--min-free-bytes 0'] npx tsx attack/disk-full.ts [sizeKiB=4096] [seconds=10] [uploadKiB=256]
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { session, startServer } from './forum-raw.js';
import { checkPosted, checkUploads, downloadBytes, runWorkload, tally, uploadAnswer, workloadParties } from './pg-fault-lib.js';

const sizeKiB = Number(process.argv[2] ?? 4096);
const seconds = Number(process.argv[3] ?? 10);
const uploadKiB = Number(process.argv[4] ?? 256);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const mnt = await mkdtemp(join(tmpdir(), 'a18-full-'));
execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k`, 'tmpfs', mnt]);
const dir = join(mnt, 'data');
await mkdir(dir);
const port = 20000 + Math.floor(Math.random() * 20000);
const free = (): string => {
  const s = statfsSync(mnt);
  return `${((s.bavail * s.bsize) / 1024).toFixed(0)} KiB free`;
};
const stop = new AbortController();
setMaxListeners(0, stop.signal);
const extra = (process.env.A18_SERVER_ARGS ?? '').split(' ').filter((x) => x !== '');
let server = await startServer(dir, port, port + 1, extra);
try {
  const seed = randomBytes(uploadKiB * 1024);
  const { posters, up, down, seeded } = await workloadParties(port, stop.signal, seed);
  console.log(`seed upload of ${uploadKiB} KiB: ${seeded}`);
  console.log(`tmpfs of ${sizeKiB} KiB: ${free()} before the load`);
  const w = runWorkload(posters, up, down, uploadKiB * 1024, seed, performance.now());
  await sleep(seconds * 1000);
  await w.stop();
  console.log(`after ${seconds} s: ${free()}; server running ${server.child.exitCode === null && server.child.signalCode === null}`);
  for (const l of tally(w.answers, 0)) console.log(`  ${l}`);
  const trouble = server.out.split('\n').filter((l) => /ENOSPC|EDQUOT|error|fail|Internal|full/i.test(l));
  const kinds = new Map<string, number>();
  for (const l of trouble) kinds.set(l.replace(/\d+/g, 'N').slice(0, 170), (kinds.get(l.replace(/\d+/g, 'N').slice(0, 170)) ?? 0) + 1);
  console.log(`server log lines of trouble (${trouble.length}):`);
  for (const [k, n] of [...kinds].sort((a, b) => b[1] - a[1]).slice(0, 10)) console.log(`  ${n} x ${k}`);
  // Room made the user's way: the uploads' thread removed by its creator.
  const rmv = await up.request('RMV', ['up']);
  await sleep(500);
  const m = await posters[0]?.request('MSG', ['p0', 'after room was made']);
  const c = await up.request('CRT', ['up2']);
  const u = await uploadAnswer(up, await up.request('UPD', ['up2', 'after']), seed);
  const d = await downloadBytes(up, await up.request('DWN', ['up2', 'after']));
  console.log(`RMV up: ${JSON.stringify(rmv.lines[0])}; ${free()}; then MSG ${JSON.stringify(m?.lines[0])}, CRT ${JSON.stringify(c.lines[0])}, UPD ${u}, DWN ${typeof d === 'string' ? d : 'OK'}`);
  console.log(`server's last lines: ${JSON.stringify(server.out.trim().split('\n').slice(-3))}`);
  stop.abort();
  server.child.kill('SIGTERM');
  await server.exited;
  const again = new AbortController();
  setMaxListeners(0, again.signal);
  server = await startServer(dir, port, port + 1, extra);
  console.log(`restart: ${server.out.split('\n').filter((l) => /recover|undo|deleted|left/i.test(l)).join(' | ') || '(nothing recovered)'}`);
  const checker = await session(port, 'checker', again.signal);
  const posted = await checkPosted(checker, w);
  // The uploads' thread was removed: only the MSGs are compared, and what the directory holds.
  const leftovers = (await readdir(dir)).filter((f) => f.startsWith('.') && !f.startsWith('.forum-server'));
  console.log(`MSGs acknowledged ${posted.checked}: lost ${posted.lost}, twice ${posted.dup}; refused but stored ${posted.storedUnacked}; dot files left ${JSON.stringify(leftovers)}; ${free()}`);
  for (const x of posted.details.slice(0, 6)) console.log(`  ${x}`);
  void checkUploads;
  again.abort();
} finally {
  stop.abort();
  server.child.kill('SIGTERM');
  await server.exited;
  execFileSync('umount', [mnt]);
  await rm(mnt, { recursive: true, force: true });
}
