/**
 * Attack round 29, item 3: SECURITY.md's bound on how long a hostile server holds a request of the built
 * forum-client (What the client does not trust, "Time and memory"): a request has 1.6 × `--timeout` for its
 * reply, and that again each time 4 KiB or more arrived meanwhile, up to 16 × that in all: 128 s by default,
 * "so a server trickling 4 KiB every 8 s holds a request 128 s, not without bound".
 *
 *   npx tsx attack/reply-trickle-real.ts [everyS=6] [bytes=4200] [deadlineS=260] [timeout=5]
 *
 * A fake server (rudpx's listen and forum-protocol's codec) lets the client log in, never answers its LST, and
 * every `everyS` seconds sends it an unrequested reply (an id the client never used) of some `bytes` bytes:
 * the client drops it, and its transport counts the bytes. `everyS` 0 sends nothing (the control: 1.6 × timeout).
 * Reported: the client's exit status, its time from the LST to its exit, what it said, its peak memory.
 */
import { simpleReply } from '../packages/forum-protocol/dist/index.js';
import { fakeServer, login, runClient } from './hostile-server-lib.js';

const everyS = Number(process.argv[2] ?? 6);
const bytes = Number(process.argv[3] ?? 4200);
const deadlineS = Number(process.argv[4] ?? 260);
const timeout = Number(process.argv[5] ?? 5);

let lstAt = 0;
let sent = 0;
let timer: NodeJS.Timeout | undefined;
const server = await fakeServer((req) => {
  if (req.cmd !== 'LST') return login(req);
  lstAt = performance.now();
  if (everyS > 0)
    timer = setInterval(() => {
      sent++;
      void server.send(simpleReply(`never-asked-${sent}`, 'ok', ['x'.repeat(bytes)])).catch(() => undefined);
    }, everyS * 1000);
  return undefined;
});
const started = performance.now();
const run = await runClient(server.port, ['alice', 'pw', 'LST'], deadlineS, { args: ['--timeout', String(timeout)] });
if (timer !== undefined) clearInterval(timer);
const fromLst = Math.round((started + run.seconds * 1000 - lstAt) / 100) / 10;
console.log(
  `every ${everyS} s ${bytes} B, --timeout ${timeout}: exit ${String(run.code)} ${fromLst} s after the LST (${sent} unrequested replies sent), peak RSS ${run.peakMiB} MiB; said: ${JSON.stringify(
    (run.stdout + run.stderr).trim().split('\n').slice(-1)[0]?.slice(-200),
  )}`,
);
await server.close();
process.exit(0);
