/**
 * Round 30: what one client address's accounts can take from everyone within an hour of creating them.
 * Accounts cost 10 per address per 10 minutes (a sliding window), so one address holds 70 by the end of
 * its first hour (10 at 0, 600, …, 3,600 s). The run gives the address those 70 at once
 * (`--account-limit 70 --account-window 3600`: the same count, without waiting the hour) and a forum
 * scaled down where every share is the same fraction as at the defaults: `--max-thread-bytes 64 MiB`
 * (an account's share 1/64, 1 MiB), `--max-data-bytes 64 MiB` (an account's uploads 1/16, 4 MiB).
 *
 *   npx tsx attack/one-address-accounts.ts [accounts=70] [inflight=4] [server args…]
 *
 * A victim (127.0.0.3) has an account, a thread, a message and an upload first. Then the accounts of
 * 127.0.0.9: create, CRT up to 100 threads each, upload files of 1 MiB until refused, post MSGs of 4,000
 * characters to their threads until refused, then top the last room up with shorter ones. After: what
 * the victim gets for login, LST, RDT, MSG to its own thread, CRT, UPD; and a newcomer from 127.0.0.4.
 */
import { setMaxListeners } from 'node:events';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { session, startServer, uploadAnswer, type Session } from './forum-raw.js';

const accounts = Number(process.argv[2] ?? 70);
const inflight = Number(process.argv[3] ?? 4);
const extra = process.argv.slice(4);
const MIB = 2 ** 20;
const serverArgs = ['--account-limit', String(accounts), '--account-window', '3600', '--max-thread-bytes', String(64 * MIB), '--max-data-bytes', String(64 * MIB), '--min-free-bytes', '0', ...extra];
const port = 40_000 + Math.floor(Math.random() * 20_000);
const mib = (n: number): string => `${(n / MIB).toFixed(1)} MiB`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const count = (m: Map<string, number>, line: string): void => void m.set(line, (m.get(line) ?? 0) + 1);
const ATTACKER = '127.0.0.9';

const dir = await mkdtemp(join(tmpdir(), 'a30-accounts-'));
const server = await startServer(dir, port, port + 1, serverArgs);
const abort = new AbortController();
setMaxListeners(0, abort.signal);
const t0 = Date.now();
const at = (): string => `${((Date.now() - t0) / 1000).toFixed(0)} s`;

/** The first line of a reply to `cmd`, or what went wrong. */
const first = async (s: Session, cmd: Parameters<Session['request']>[0], args: readonly string[]): Promise<string> =>
  s
    .request(cmd, args)
    .then((r) => r.lines[0] ?? `(${r.status}, no line)`)
    .catch((e: unknown) => `(failed: ${e instanceof Error ? e.message : String(e)})`);

/** UPD of `bytes` to `thread` as `file`: the grant's refusal, or the transfer's answer. */
const put = async (s: Session, thread: string, file: string, bytes: Buffer, from: string): Promise<string> => {
  const g = await s.request('UPD', [thread, file]);
  if (g.data.kind !== 'transfer') return g.lines[0] ?? g.status;
  return (await uploadAnswer(s, g, bytes, abort.signal, from)).trim() || '(no answer)';
};

/** What an honest user meets: each step's first line. */
const honest = async (user: string, from: string, thread: string, create: boolean): Promise<void> => {
  let s: Session;
  const t = Date.now();
  try {
    s = await session(port, user, abort.signal, from);
  } catch (e) {
    console.log(`  ${user}: login refused: ${e instanceof Error ? e.message : String(e)}`);
    return;
  }
  console.log(`  ${user}: login ${String(Date.now() - t)} ms`);
  if (create) console.log(`  ${user}: CRT ${await first(s, 'CRT', [thread])}`);
  const lst = await s.request('LST', []);
  console.log(`  ${user}: LST ${lst.status}, ${String(lst.lines.length)} lines`);
  const rdt = await s.request('RDT', [thread]);
  console.log(`  ${user}: RDT ${rdt.status}, ${String(rdt.lines.length)} lines`);
  console.log(`  ${user}: MSG ${await first(s, 'MSG', [thread, 'hello from an honest user'])}`);
  console.log(`  ${user}: UPD 100 KB ${await put(s, thread, `f${String(Date.now())}.bin`, Buffer.alloc(100_000, 0x61), from)}`);
  console.log(`  ${user}: CRT of another ${await first(s, 'CRT', [`${thread}-2`])}`);
  s.conn.destroy();
};

try {
  console.log('before the attack:');
  await honest('victim', '127.0.0.3', 'victims', true);

  // Accounts: one address's hour of them.
  const made: Session[] = [];
  let refusedAccount = '';
  for (let a = 0; a <= accounts; a++) {
    try {
      made.push(await session(port, `mallory${String(a)}`, abort.signal, ATTACKER));
    } catch (e) {
      refusedAccount = e instanceof Error ? e.message : String(e);
    }
  }
  console.log(`${at()}: ${String(made.length)} accounts from ${ATTACKER}; the next: ${refusedAccount || '(not refused)'}`);

  // Threads: each up to its 100.
  const crtRefusals = new Map<string, number>();
  const threadsOf = await Promise.all(
    made.map(async (s, a) => {
      const mine: string[] = [];
      for (let t = 0; t < 101; t++) {
        const name = `m${String(a)}-${String(t)}`;
        const line = await first(s, 'CRT', [name]);
        if (line.startsWith('Thread') && line.includes('created')) mine.push(name);
        else count(crtRefusals, line.replace(/\d+/g, 'N'));
      }
      return mine;
    }),
  );
  console.log(`${at()}: threads made: ${String(threadsOf.reduce((n, t) => n + t.length, 0))}`);
  for (const [line, n] of crtRefusals) console.log(`  CRT refused ${String(n)}x: ${line}`);

  // Uploads: 1 MiB files, each account until refused.
  const updRefusals = new Map<string, number>();
  let uploaded = 0;
  const mibFile = Buffer.alloc(MIB, 0x62);
  await Promise.all(
    made.map(async (s, a) => {
      const thread = threadsOf[a]?.[0];
      if (thread === undefined) return;
      for (let f = 0; f < 80; f++) {
        const answer = await put(s, thread, `u${String(f)}.bin`, mibFile, ATTACKER);
        if (answer === 'OK') uploaded += MIB;
        else {
          count(updRefusals, answer.replace(/\d+/g, 'N'));
          return;
        }
      }
    }),
  );
  console.log(`${at()}: uploads stored: ${mib(uploaded)}`);
  for (const [line, n] of updRefusals) console.log(`  UPD refused ${String(n)}x: ${line}`);

  // Messages: 4,000 characters, then shorter, to their own threads until refused.
  const msgRefusals = new Map<string, number>();
  let posted = 0;
  const postAll = async (chars: number): Promise<void> => {
    const text = 'x'.repeat(chars);
    await Promise.all(
      made.map(async (s, a) => {
        const mine = threadsOf[a] ?? [];
        let next = 0;
        let stop = false;
        await Promise.all(
          Array.from({ length: inflight }, async () => {
            while (!stop && next < mine.length) {
              const thread = mine[next] ?? '';
              const line = await first(s, 'MSG', [thread, text]);
              if (line.startsWith('Message posted')) posted++;
              else if (line.startsWith(`Thread ${thread} is full`)) {
                if (mine[next] === thread) next++;
              } else if (/too many requests|try again/i.test(line)) await sleep(20);
              else {
                count(msgRefusals, `${String(chars)} chars: ${line.replace(/\d+/g, 'N')}`);
                stop = true;
              }
            }
          }),
        );
      }),
    );
  };
  for (let chars = 4000; chars >= 1; chars = Math.floor(chars / 4)) {
    await postAll(chars);
    console.log(`${at()}: after ${String(chars)}-character MSGs, ${String(posted)} posted`);
  }
  for (const [line, n] of msgRefusals) console.log(`  MSG refused ${String(n)}x: ${line}`);

  let threadBytes = 0;
  let uploadBytes = 0;
  for (const name of await readdir(dir)) {
    if (!name.startsWith('m')) continue;
    const size = (await stat(join(dir, name))).size;
    if (name.includes('-u') && name.endsWith('.bin')) uploadBytes += size;
    else threadBytes += size;
  }
  console.log(`${at()}: the attackers' thread files hold ${mib(threadBytes)}, their uploads ${mib(uploadBytes)}`);

  console.log('after the attack:');
  await honest('victim', '127.0.0.3', 'victims', false);
  await honest('newcomer', '127.0.0.4', 'newcomers', true);
} finally {
  abort.abort();
  server.child.kill('SIGTERM');
  await server.exited;
  await rm(dir, { recursive: true, force: true });
}
