/**
 * Attack round 26: how long one account (or a few) takes to fill the data directory's forum-wide thread
 * limits (`--max-thread-bytes`, 256 MiB by default, and the lines derived from it), after which every MSG
 * and upload line of every other user is refused until the filler deletes its own messages.
 *
 *   npx tsx attack/forum-fill.ts [accounts=1] [inflight=8] [capSeconds=900] [text=4000] [server args…]
 *
 * starts the built server (its defaults, then `server args`), logs in a victim from 127.0.0.9 that
 * creates a thread, then `accounts` attacking accounts on 127.0.0.20 each create up to 100 threads and
 * post MSGs of `text` characters to them, `inflight` at a time each, moving to the next thread when one
 * is full, until every MSG of theirs is refused for a reason other than a full thread, or `capSeconds`;
 * then they top the last room up with shorter MSGs (halving down to one character).
 * Every 5 s the victim posts one MSG; reported: the time the attackers took, what they were refused
 * with, the bytes they hold, the victim's replies during and after.
 */
import { setMaxListeners } from 'node:events';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { session, startServer } from './forum-raw.js';

const accounts = Number(process.argv[2] ?? 1);
const inflight = Number(process.argv[3] ?? 8);
const capSeconds = Number(process.argv[4] ?? 900);
const textChars = Number(process.argv[5] ?? 4000);
const serverArgs = process.argv.slice(6);
const port = 40_000 + Math.floor(Math.random() * 20_000);
const mib = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const dir = await mkdtemp(join(tmpdir(), 'a26-fill-'));
const server = await startServer(dir, port, port + 1, serverArgs);
const abort = new AbortController();
setMaxListeners(0, abort.signal);
try {
  const victim = await session(port, 'victim', abort.signal, '127.0.0.9');
  await victim.request('CRT', ['victims']);
  const text = 'x'.repeat(textChars);
  const refusals = new Map<string, number>();
  const victimReplies = new Map<string, number>();
  let posted = 0;
  let done = false;
  const started = Date.now();
  const end = started + capSeconds * 1000;
  // The victim's MSG every 5 s while the attack runs: what an honest user meets.
  const watch = (async () => {
    while (!done && Date.now() < end) {
      await sleep(5000);
      const r = await victim.request('MSG', ['victims', 'hello']).catch(() => undefined);
      const line = r?.lines[0] ?? 'no reply';
      victimReplies.set(line, (victimReplies.get(line) ?? 0) + 1);
    }
  })();
  const fillers = await Promise.all(
    Array.from({ length: accounts }, async (_, a) => {
      const user = `mallory${String(a)}`;
      const s = await session(port, user, abort.signal, '127.0.0.20');
      const threads: string[] = [];
      for (let t = 0; t < 100; t++) {
        const r = await s.request('CRT', [`${user}-${String(t)}`]);
        if (r.status === 'ok') threads.push(`${user}-${String(t)}`);
      }
      return { s, threads };
    }),
  );
  console.log(`${String(accounts)} attacking accounts made ${String(fillers.reduce((n, f) => n + f.threads.length, 0))} threads`);
  const attackStart = Date.now();
  let lastPosted = attackStart;
  await Promise.all(
    fillers.map(async ({ s, threads }) => {
      let next = 0;
      let refusedInARow = 0;
      await Promise.all(
        Array.from({ length: inflight }, async () => {
          while (Date.now() < end && refusedInARow < 50 && next < threads.length) {
            const thread = threads[next] ?? '';
            const r = await s.request('MSG', [thread, text]).catch(() => undefined);
            if (r === undefined) return;
            const line = r.lines[0] ?? '';
            if (line.startsWith('Message posted')) {
              posted++;
              refusedInARow = 0;
              lastPosted = Date.now();
            } else if (line.startsWith(`Thread ${thread} is full`)) {
              if (threads[next] === thread) next++;
            } else {
              refusedInARow++;
              refusals.set(line, (refusals.get(line) ?? 0) + 1);
              // Paced, as a patient attacker would be: the rate limits' refusals say to try again.
              await sleep(20);
            }
          }
        }),
      );
    }),
  );
  // The last room, topped up with shorter and shorter MSGs (halving down to one character), as a patient
  // attacker would: else a victim's short MSG still fits in what a 4,000-character one left.
  let toppedUp = 0;
  for (let chars = Math.floor(textChars / 2); chars >= 1 && Date.now() < end; chars = Math.floor(chars / 2))
    for (const { s, threads } of fillers)
      for (const thread of threads.slice(-3)) {
        let r = await s.request('MSG', [thread, 'y'.repeat(chars)]).catch(() => undefined);
        while (r?.lines[0]?.startsWith('Message posted') === true) {
          toppedUp++;
          r = await s.request('MSG', [thread, 'y'.repeat(chars)]).catch(() => undefined);
        }
      }
  done = true;
  await watch;
  const seconds = (lastPosted - attackStart) / 1000;
  let held = 0;
  for (const name of await readdir(dir)) if (name.startsWith('mallory')) held += (await stat(join(dir, name))).size;
  console.log(`attack: ${String(posted)} MSGs of ${String(textChars)} characters taken in ${seconds.toFixed(0)} s (${(posted / Math.max(1, seconds)).toFixed(0)} a second); the attackers' thread files hold ${mib(held)}`);
  console.log(`then ${String(toppedUp)} shorter MSGs topped up the last room`);
  for (const [line, n] of refusals) console.log(`attackers refused ${String(n)}x: ${line}`);
  for (const [line, n] of victimReplies) console.log(`victim's MSG every 5 s, ${String(n)}x: ${line}`);
  const after = await victim.request('MSG', ['victims', 'after']);
  console.log(`victim's MSG after the attack: ${after.lines.join(' | ')}`);
  const fresh = await session(port, 'newcomer', abort.signal, '127.0.0.10');
  await fresh.request('CRT', ['newcomers']);
  const first = await fresh.request('MSG', ['newcomers', 'hi']);
  console.log(`a new account's first MSG: ${first.lines.join(' | ')}`);
} finally {
  abort.abort();
  server.child.kill('SIGTERM');
  await server.exited;
  await rm(dir, { recursive: true, force: true });
}
