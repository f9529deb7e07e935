/**
 * Attack round 9, angle 3: the wall clock stepped forward (NTP's first sync
 * after boot, a VM resumed) while a forum-server of another pid namespace
 * (a container) holds a data directory's lock and renews it every RENEW_MS.
 * A server starting on the directory before that holder's next renewal
 * judges the lock by its modification time against the stepped clock.
 *
 *   npx tsx attack/clock-step.ts [stepSeconds=3600] [renewMs=5000]
 *
 * No clock of the machine is touched: this process stands for the starting
 * server, and its Date is stepped (`Date.now` + step) after the holder's last
 * renewal; the holder (a timer of this process on the real clock) keeps
 * renewing every renewMs, as a live server does, its mtime set from the real
 * clock (which the step would move too, from its next renewal on). Prints
 * whether the start took the live lock over, and how long it took.
 */
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOCK_FILE, lockDataDir } from '../packages/server/src/data-dir-lock.js';
import { currentPlace } from '../packages/server/src/lock-record.js';

const step = Number(process.argv[2] ?? 3600) * 1000;
const renewMs = Number(process.argv[3] ?? 5000);
const dir = await mkdtemp(join(tmpdir(), 'a9-clock-'));
const lock = join(dir, LOCK_FILE);
const here = await currentPlace();
// A live server in another container: same host and boot, another pid namespace.
await writeFile(lock, `${JSON.stringify({ pid: 1, host: here.host, boot: here.boot ?? null, pidns: 'pid:[4026532999]', token: 'live' })}\n`);
const realNow = Date.now.bind(Date);
let stepped = 0;
const renew = async (): Promise<void> => {
  // The holder's renewal: after the step, its clock reads stepped too.
  const t = new Date(realNow() + stepped);
  await utimes(lock, t, t);
};
await renew();
const holder = setInterval(() => void renew(), renewMs);
// The step lands just after a renewal: the next one is renewMs away.
stepped = step;
Date.now = () => realNow() + stepped;
const t0 = performance.now();
let verdict: string;
try {
  const taken = await lockDataDir(dir, { renewMs, onWait: (m) => console.log(`  start said: ${m}`) });
  verdict = `TOOK OVER the live lock after ${Math.round(performance.now() - t0)} ms: ${taken.tookOver ?? ''}`;
  await taken.release();
} catch (e) {
  verdict = `refused after ${Math.round(performance.now() - t0)} ms: ${e instanceof Error ? e.message : String(e)}`;
}
clearInterval(holder);
Date.now = realNow;
console.log(`clock stepped ${step / 1000} s forward just after the holder's renewal (every ${renewMs} ms): ${verdict}`);
await rm(dir, { recursive: true, force: true });
process.exit(0);
