/**
 * CPU per forum request (attack round 10, a hostile client with valid accounts): A accounts spread over H loopback
 * addresses (127.0.0.11, .12, …) each keep `depth` requests of one kind in flight for a few seconds against the
 * built forum-server; the server's CPU (/proc) over an honest-only stretch and over the attack, the requests
 * answered, and an honest account's MSG round trip (honest-probe.ts, another process, 127.0.0.200) in both.
 *
 *   npx tsx attack/request-cost.ts <kind> [accounts=1] [hosts=1] [seconds=4] [depth=8] [server options…]
 *
 * Kinds: msg (MSG to a small thread every account posts to), msg-own (MSG to a thread of the account's own), cheap (RDT of
 * an account's own small thread: no disk), lst (LST of 2,000 threads), rdt (RDT of a 3.9 MiB thread), rdt-many (RDT of
 * A10_THREADS (default 12) distinct 3.9 MiB threads in turn: more than the server's cache of encoded lines holds), rdt-mid
 * (RDT of A10_THREADS distinct threads of A10_KIB KiB of lines, default 63, in turn: just under the server's large reply
 * mark of 64 KiB until session 32; A10_KIB=65 for the same reads just over it, A10_KIB=7 under the mark of 8 KiB of
 * session 32, A10_KIB=1 under the mark of 2 KiB since session 33), edt (EDT of the
 * first message of a 2 MiB thread), crt-rmv (CRT then RMV of a thread of one's own), bad-login (a connection not
 * logged in sending username + wrong password; with --hash-passwords each account logs in once first, so that its
 * password is stored hashed and every check is a scrypt hash), upd (UPD of a 1-byte file under a new name, uploaded over TCP).
 *
 * With A10_PROBE_RDT=<title> (e.g. big, the 3.9 MiB thread) the honest client reads that thread instead of posting.
 *
 * With A10_LOOP_DELAY=<file> the server runs through loop-delay.mjs and the script prints its main thread's event-loop
 * delay (p50 / p99 / max, and the share of 5 ms samples later than 10 and 20 ms) over the honest stretch and the attack.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Reply, RequestCommand } from '../packages/forum-protocol/dist/index.js';
import { encodeRequest, decodeServerMessage } from '../packages/forum-protocol/dist/index.js';
import { connect } from '../packages/rudp/dist/index.js';
import { largeThreadFile } from '../packages/server/test/large-thread.js';
import { session, startServer, upload, type Session } from './forum-raw.js';
import { cpuMs, cpuSplitMs, honestStretch, sleep, startProbe, stat } from './frame-lib.js';

const kind = process.argv[2] ?? 'msg';
const accounts = Number(process.argv[3] ?? 1);
const hosts = Number(process.argv[4] ?? 1);
const seconds = Number(process.argv[5] ?? 4);
const depth = Number(process.argv[6] ?? 8);
const extra = process.argv.slice(7);

const dir = await mkdtemp(join(tmpdir(), 'request-cost-'));
const users = Array.from({ length: accounts }, (_, i) => `a${i}`);
await writeFile(join(dir, 'credentials.txt'), ['alice pw-alice', ...users.map((u) => `${u} pw-${u}`)].map((l) => `${l}\n`).join(''));
await writeFile(join(dir, 'small'), 'alice\n');
await writeFile(join(dir, 'big'), largeThreadFile('alice', Math.floor((3.9 * 1024 * 1024) / 4012)));
const manyThreads = Number(process.env.A10_THREADS ?? 12);
if (kind === 'rdt-many') for (let i = 0; i < manyThreads; i++) await writeFile(join(dir, `big-${i}`), largeThreadFile('alice', Math.floor((3.9 * 1024 * 1024) / 4012)));
const midKib = Number(process.env.A10_KIB ?? 63);
// 16 messages whose lines (each character and its JSON quotes and comma, as the server counts them) sum to about A10_KIB KiB.
const midThread = (): string => `alice\n${Array.from({ length: 16 }, (_, i) => `${i + 1} alice: ${'m'.repeat(Math.floor((midKib * 1024 - 64) / 16) - 12)}\n`).join('')}`;
if (kind === 'rdt-mid') for (let i = 0; i < manyThreads; i++) await writeFile(join(dir, `mid-${i}`), midThread());
for (const u of users) await writeFile(join(dir, `long-${u}`), largeThreadFile(u, 512));
for (const u of users) await writeFile(join(dir, `files-${u}`), `${u}\n`);
if (kind === 'lst') for (let i = 0; i < 2000; i++) await writeFile(join(dir, `thread-${String(i).padStart(5, '0')}-${'x'.repeat(80)}`), 'alice\n');
const port = 40_000 + Math.floor(Math.random() * 20_000);
// Not an earlier run's figures: the new server numbers its writes from 1 again.
if (process.env.A10_LOOP_DELAY !== undefined) await rm(process.env.A10_LOOP_DELAY, { force: true });
const server = await startServer(dir, port, port + 1, extra);
const pid = server.child.pid as number;
const probe = await startProbe('forum', port);
// The attacker (this process) runs at a lower priority than the server and the honest probe: on a shared 2-core
// machine the probe's latency should show the server's delay, not this process's.
setPriority(pid, -5);
setPriority(probe.pid, -5);
setPriority(10);
const abort = new AbortController();
const addressOf = (i: number): string => `127.0.0.${11 + (i % hosts)}`;

let answered = 0;
/** The next of the distinct threads `rdt-many` and `rdt-mid` read, over all accounts. */
let manyNext = 0;

/** The server's event-loop delay since the last call (A10_LOOP_DELAY, loop-delay.mjs), or '' without it. */
let loopSeq = 0;
const loopDelay = async (): Promise<string> => {
  const file = process.env.A10_LOOP_DELAY;
  if (file === undefined) return '';
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 100; i++) {
    const text = await readFile(file, 'utf8').catch(() => '');
    const d = text === '' ? undefined : (JSON.parse(text) as { seq: number; p50: number; p99: number; max: number; over10: number; over20: number });
    if (d !== undefined && d.seq > loopSeq) {
      loopSeq = d.seq;
      return `loop delay p50 ${d.p50} ms, p99 ${d.p99} ms, max ${d.max} ms, ${d.over10} % of samples > 10 ms, ${d.over20} % > 20 ms`;
    }
    await sleep(20);
  }
  return 'loop delay: no answer';
};
const kinds = new Map<string, number>();
const note = (r: Reply | undefined): void => {
  answered++;
  const k = r === undefined ? 'failed' : (r.lines[0] ?? '').slice(0, 60).replace(/[0-9]+/g, 'N');
  kinds.set(k, (kinds.get(k) ?? 0) + 1);
};

/** One account's loop: `depth` requests in flight until `running` is false. */
const attacker = async (i: number, running: () => boolean): Promise<void> => {
  const user = users[i] as string;
  if (kind === 'bad-login') {
    if (extra.includes('--hash-passwords')) {
      // One right login first: the server then stores the password hashed (scrypt), so each wrong one costs a hash.
      const first = new AbortController();
      await session(port, user, first.signal, addressOf(i));
      first.abort();
      await sleep(500);
    }
    const conn = await connect({ port, idleTimeoutMs: 30_000, localAddress: addressOf(i) });
    let id = 0;
    const waiting = new Map<string, (r: Reply) => void>();
    conn.on('message', (b) => {
      const m = decodeServerMessage(b);
      if (m._tag === 'Right' && m.right.type === 'reply') waiting.get(m.right.id)?.(m.right);
    });
    const req = (cmd: RequestCommand, args: readonly string[]): Promise<Reply | undefined> => {
      const key = String(++id);
      const p = new Promise<Reply | undefined>((resolve) => waiting.set(key, resolve));
      conn.send(encodeRequest({ id: key, username: '', cmd, args })).catch(() => undefined);
      return Promise.race([p, sleep(5000).then(() => undefined)]);
    };
    while (running() && !conn.closed) {
      await req('username', [user]);
      note(await req('password', ['wrong']));
    }
    conn.destroy();
    return;
  }
  const s: Session = await session(port, user, abort.signal, addressOf(i));
  let n = 0;
  const one = async (): Promise<void> => {
    const k = ++n;
    switch (kind) {
      case 'lst':
        return note(await s.request('LST', []).catch(() => undefined));
      case 'rdt':
        return note(await s.request('RDT', ['big']).catch(() => undefined));
      case 'rdt-many':
        return note(await s.request('RDT', [`big-${manyNext++ % manyThreads}`]).catch(() => undefined));
      case 'rdt-mid':
        return note(await s.request('RDT', [`mid-${manyNext++ % manyThreads}`]).catch(() => undefined));
      case 'edt':
        return note(await s.request('EDT', [`long-${user}`, '1', `edit ${k}`]).catch(() => undefined));
      case 'crt-rmv': {
        note(await s.request('CRT', [`churn-${user}`]).catch(() => undefined));
        return note(await s.request('RMV', [`churn-${user}`]).catch(() => undefined));
      }
      case 'upd': {
        const r = await s.request('UPD', [`files-${user}`, `f${k}-${user}`]).catch(() => undefined);
        if (r === undefined || r.data.kind !== 'transfer') return note(r);
        const ok = await upload(s, r, Buffer.from('x'), abort.signal);
        return note({ ...r, lines: [ok ? 'uploaded' : 'upload refused'] });
      }
      case 'msg-own':
        return note(await s.request('MSG', [`files-${user}`, `m ${k}`]).catch(() => undefined));
      case 'cheap':
        return note(await s.request('RDT', [`files-${user}`]).catch(() => undefined));
      default:
        return note(await s.request('MSG', ['small', `m ${k}`]).catch(() => undefined));
    }
  };
  // Only `crt-rmv` keeps one in flight: its two requests must stay in order.
  const lanes = kind === 'crt-rmv' ? 1 : depth;
  await Promise.all(Array.from({ length: lanes }, async () => { while (running()) await one(); }));
};

await sleep(500);
await loopDelay();
const { baseline, baseCpu, baseMs } = await honestStretch(pid, probe, seconds);
const baseLoop = await loopDelay();

let running = true;
const attackFrom = Date.now();
const loops = users.map((_, i) => attacker(i, () => running).catch((e: unknown) => console.log(`a${i}: ${String(e)}`)));
await sleep(200);
await loopDelay();
answered = 0;
kinds.clear();
const cpu0 = cpuMs(pid);
const split0 = cpuSplitMs(pid);
const t0 = performance.now();
await sleep(seconds * 1000);
const attackLoop = await loopDelay();
const attackCpu = cpuMs(pid) - cpu0;
const split1 = cpuSplitMs(pid);
const elapsed = performance.now() - t0;
const served = answered;
const attack = probe.between(attackFrom, Date.now());
running = false;
abort.abort();
await Promise.race([Promise.all(loops), sleep(6000)]);
const extraCpu = attackCpu - (baseCpu * elapsed) / baseMs;
const rss = Math.round(Number(/VmRSS:\s+([0-9]+)/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024);
console.log(
  `${kind}${kind === 'rdt-mid' ? ` ${midKib} KiB` : ''}, ${accounts} account(s) on ${hosts} host(s), depth ${depth}${extra.length > 0 ? `, ${extra.join(' ')}` : ''}: ${served} answered in ${(elapsed / 1000).toFixed(1)} s ` +
    `(${((served * 1000) / elapsed).toFixed(0)}/s); server CPU ${((attackCpu / elapsed) * 100).toFixed(0)} % of a core (honest only ${((baseCpu / baseMs) * 100).toFixed(0)} %), ` +
    `${(extraCpu / Math.max(1, served)).toFixed(2)} ms a request (user ${split1.user - split0.user} ms, system ${split1.system - split0.system} ms in all); RSS ${rss} MiB; honest ${process.env.A10_PROBE_RDT === undefined ? 'MSG' : `RDT of ${process.env.A10_PROBE_RDT}`} before ${stat(baseline)}; during ${stat(attack)}`,
);
console.log(`  answers: ${[...kinds].map(([k, v]) => `${v}× ${k}`).join('; ')}`);
if (baseLoop !== '') console.log(`  server ${baseLoop} honest only; during: ${attackLoop}`);
if (process.env.A10_LOG !== undefined) console.log(server.out.split('\n').filter((l) => !l.includes('issued')).slice(-12).join('\n'));
probe.stop();
server.child.kill('SIGTERM');
await server.exited;
await rm(dir, { recursive: true, force: true });
process.exit(0);
