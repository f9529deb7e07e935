/**
 * Attack round 15: the data directory's undo journal (`.forum-journal`) is deleted only when no thread change
 * is under way at the end of one of its group commits. Accounts that keep changes overlapping (EDTs of the
 * middle message of large threads, each appending the whole replaced tail to the journal) keep it from ever being
 * deleted, so it grows by every rewritten tail, outside every disk bound (`--max-thread-bytes`, the write
 * budget's rate bounds how fast, not how much; `--min-free-bytes` is checked by uploads only).
 *
 *   npx tsx attack/journal-growth.ts [accounts=6] [thread KiB=1024] [seconds=60] [in flight each=2] [cap MiB=4096] [server options…]
 *
 * Prints every 5 s: the journal's size (or "absent"), the data directory's bytes, the server's RSS, EDTs done.
 */
import { setMaxListeners } from 'node:events';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { session, startServer, type Session } from './forum-raw.js';

const accounts = Number(process.argv[2] ?? 6);
const threadKiB = Number(process.argv[3] ?? 1024);
const seconds = Number(process.argv[4] ?? 60);
const inFlight = Number(process.argv[5] ?? 2);
const capMiB = Number(process.argv[6] ?? 4096);
const extra = process.argv.slice(7);
// Accounts that only post short MSGs (appends: never charged by the write budget), each keeping this many in flight,
// to keep some change under way at every moment.
const posters = Number(process.env.A15_POSTERS ?? 0);
const postInFlight = Number(process.env.A15_POST_IN_FLIGHT ?? 8);
const sampleMs = Number(process.env.A15_SAMPLE_MS ?? 20);
// Accounts that upload (4 at a time, files of A15_UPLOAD_MIB) and remove them again, round after round
// (upload-churn.ts, each its own process): the disk writes they cause make every sync of the journal and the
// threads slower, so changes overlap longer.
const uploaders = Number(process.env.A15_UPLOADERS ?? 0);
const uploadMiB = Number(process.env.A15_UPLOAD_MIB ?? 256);
const dir = await mkdtemp(join(process.env.A15_DIR ?? tmpdir(), 'a15-journal-'));
const port = 40_000 + Math.floor(Math.random() * 20_000);
const server = await startServer(dir, port, port + 1, extra);
const abort = new AbortController();
setMaxListeners(0, abort.signal);
const journal = join(dir, '.forum-journal');

const journalBytes = async (): Promise<number | undefined> => stat(journal).then((s) => s.size, () => undefined);
const dirBytes = async (): Promise<number> => {
  let n = 0;
  for (const f of await readdir(dir)) n += await stat(join(dir, f)).then((s) => (s.isFile() ? s.size : 0), () => 0);
  return n;
};
const rssMiB = async (): Promise<number> => {
  const status = await readFile(`/proc/${server.child.pid}/status`, 'utf8').catch(() => '');
  return Math.round(Number(/VmRSS:\s+([0-9]+)/.exec(status)?.[1] ?? 0) / 1024);
};
const MiB = (n: number): string => (n / 1024 / 1024).toFixed(1);

// One account per loopback address: the per-host limits are not what this is about.
const sessions: Session[] = await Promise.all(
  Array.from({ length: accounts }, (_, i) => session(port, `j${i}`, abort.signal, `127.0.15.${i + 1}`)),
);
const posterSessions: Session[] = await Promise.all(
  Array.from({ length: posters }, (_, i) => session(port, `p${i}`, abort.signal, `127.0.16.${i + 1}`)),
);
for (const [i, s] of posterSessions.entries()) await s.request('CRT', [`pt${i}`]);
let uploaded = 0;
const text = (c: string): string => c.repeat(4000);
const msgs = Math.ceil((threadKiB * 1024) / 4020);
// The middle message: a change from an entry in the thread's second half is written through the journal,
// which first appends the whole old tail from there (thread-change.ts writeOffset); the first half would
// rewrite the file whole (a new file renamed over it) once its tail passes 64 KiB.
const target = String(Math.ceil(msgs / 2) + 1);
const t0 = performance.now();
await Promise.all(
  sessions.map(async (s, i) => {
    const title = `jt${i}`;
    await s.request('CRT', [title]);
    for (let m = 0; m < msgs; m += 8) {
      const rs = await Promise.all(Array.from({ length: Math.min(8, msgs - m) }, () => s.request('MSG', [title, text('m')])));
      const bad = rs.find((r) => !(r.lines[0] ?? '').startsWith('Message posted'));
      if (bad !== undefined) throw new Error(`MSG refused: ${bad.lines.join('|')}`);
    }
  }),
);
console.log(`filled ${accounts} threads of ~${threadKiB} KiB in ${((performance.now() - t0) / 1000).toFixed(1)} s; data dir ${MiB(await dirBytes())} MiB, journal ${await journalBytes() ?? 'absent'}`);

let edits = 0;
let refused = 0;
let seenAbsent = 0;
let samples = 0;
let peak = 0;
let posted = 0;
// The longest run of samples in which the journal was there, and when it began.
let streak = 0;
let longest = 0;
let stop = false;
const replies = new Map<string, number>();
let t1 = performance.now();
const sampler = (async () => {
  let k = 0;
  while (!stop) {
    await new Promise((r) => setTimeout(r, sampleMs));
    const j = await journalBytes();
    samples++;
    if (j === undefined) {
      seenAbsent++;
      streak = 0;
    } else {
      peak = Math.max(peak, j);
      longest = Math.max(longest, ++streak);
    }
    if ((j ?? 0) > capMiB * 1024 * 1024) {
      console.log(`journal past the cap of ${capMiB} MiB: stopping`);
      stop = true;
    }
    if (++k % Math.round(5000 / sampleMs) === 0) {
      console.log(
        `t=${((performance.now() - t1) / 1000).toFixed(0)} s: journal ${j === undefined ? 'absent' : `${MiB(j)} MiB`}, data dir ${MiB(await dirBytes())} MiB, server RSS ${await rssMiB()} MiB, EDTs ${edits} (${refused} refused), MSGs ${posted}, longest presence ${((longest * sampleMs) / 1000).toFixed(1)} s`,
    );
    }
  }
})();
t1 = performance.now();
const posting = Promise.all(
  posterSessions.flatMap((s, i) =>
    Array.from({ length: postInFlight }, async () => {
      while (!stop && performance.now() - t1 < seconds * 1000) {
        const r = await s.request('MSG', [`pt${i}`, 'x']).catch((e: Error) => ({ lines: [e.message] }));
        if ((r.lines[0] ?? '').startsWith('Message posted')) posted++;
      }
    }),
  ),
);
const churn = new URL('./upload-churn.ts', import.meta.url).pathname;
const uploading = Promise.all(
  Array.from({ length: uploaders }, (_, i) => {
    const child = spawn(process.execPath, ['--import', 'tsx', churn, String(port), `u${i}`, `127.0.17.${i + 1}`, String(seconds), String(uploadMiB)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    return new Promise<void>((resolve) =>
      child.once('close', () => {
        uploaded += Number(/: ([0-9]+) uploads/.exec(out)?.[1] ?? 0);
        resolve();
      }),
    );
  }),
);
await Promise.all(
  sessions.map(async (s, i) =>
    Promise.all(
      Array.from({ length: inFlight }, async (_, w) => {
        let n = 0;
        while (!stop && performance.now() - t1 < seconds * 1000) {
          const r = await s.request('EDT', [`jt${i}`, target, text(String.fromCharCode(97 + ((n++ + w) % 26)))]).catch((e: Error) => ({ lines: [e.message] }));
          const line = r.lines[0] ?? '';
          replies.set(line.slice(0, 60), (replies.get(line.slice(0, 60)) ?? 0) + 1);
          if (line === 'The message has been edited') edits++;
          else refused++;
        }
      }),
    ),
  ),
);
stop = true;
await posting;
await uploading;
await sampler;
const after = await journalBytes();
console.log(`after ${seconds} s: ${edits} EDTs, ${refused} refused; journal peak ${MiB(peak)} MiB, now ${after === undefined ? 'absent' : `${MiB(after)} MiB`}; absent in ${seenAbsent} of ${samples} samples (every ${sampleMs} ms), longest presence ${((longest * sampleMs) / 1000).toFixed(1)} s; ${posted} MSGs; ${uploaded} uploads of ${uploadMiB} MiB; data dir ${MiB(await dirBytes())} MiB; server RSS ${await rssMiB()} MiB`);
console.log('replies:', Object.fromEntries(replies));
abort.abort();
await new Promise((r) => setTimeout(r, 3000));
const settled = await journalBytes();
console.log(`3 s after the attack stopped: journal ${settled === undefined ? 'absent' : `${MiB(settled)} MiB`}`);
server.child.kill('SIGTERM');
await server.exited;
if (process.env.A15_KEEP === undefined) await rm(dir, { recursive: true, force: true });
else console.log(`kept ${dir}`);
