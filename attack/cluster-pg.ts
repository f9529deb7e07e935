/**
 * Attack round 12: a hostile account holder against several forum-servers on one PostgreSQL, reaching each
 * server directly. Real processes on loopback: an embedded PostgreSQL and N built forum-servers (`--store`).
 *
 *   npx tsx attack/cluster-pg.ts fill [seconds=8] [servers=2] [server options…]   one account per server, 4 uploads of 8 MiB
 *       at a time each, to threads of their own: the bytes the database holds (upload_bytes, pg_database_size) over time
 *   npx tsx attack/cluster-pg.ts rdt [seconds=6] [servers=2] [depth=8]           hostile accounts (one per server, 2 sessions
 *       each) keep `depth` RDTs of a 3.9 MiB thread in flight; an honest MSG on server 0 before and during; RDTs answered
 *   npx tsx attack/cluster-pg.ts hot [seconds=6] [servers=2] [accounts=4] [depth=16]   `accounts` hostile accounts per server
 *       keep `depth` MSGs each in flight to ONE thread (its row lock makes them wait, each holding a pool connection);
 *       an honest MSG to another thread on server 0 before and during
 *   npx tsx attack/cluster-pg.ts race [rounds=20]                                  the same request at once on two servers: a new
 *       account's first login (two passwords), CRT of one title, DLT of one message, RMV of one thread; what each round left
 *   npx tsx attack/cluster-pg.ts kill                                              SIGKILL a server with an upload half sent:
 *       what it leaves (pending rows and bytes, upload places, the session lease) and when each goes
 */
import { randomBytes } from 'node:crypto';
import { session, upload, type Session } from './forum-raw.js';
import { cpuMs, sleep, stat } from './frame-lib.js';
import { openPgCluster, type ClusterServer } from './lib-pg-cluster.js';

const mode = process.argv[2] ?? 'fill';
const cluster = await openPgCluster('cluster-pg-');
const { sql, signal } = cluster;
type Proc = ClusterServer;
const { start, startAll } = cluster;
const dbBytes = async (): Promise<{ readonly uploads: number; readonly database: number }> => {
  const [r] = await sql<{ u: string; d: string }[]>`SELECT (SELECT bytes FROM upload_bytes) AS u, pg_database_size(current_database()) AS d`;
  return { uploads: Number(r?.u ?? 0), database: Number(r?.d ?? 0) };
};
/** Round trips of `honest`'s MSGs to its thread `h`, one every 100 ms for `ms`. */
const honestMsgs = async (honest: Session, ms: number): Promise<number[]> => {
  const out: number[] = [];
  for (const end = Date.now() + ms; Date.now() < end; ) {
    const t = performance.now();
    await honest.request('MSG', ['h', 'hello']);
    out.push(performance.now() - t);
    await sleep(100);
  }
  return out;
};
const mib = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;

try {
  if (mode === 'fill') {
    const seconds = Number(process.argv[3] ?? 8);
    const n = Number(process.argv[4] ?? 2);
    const extra = process.argv.slice(5);
    const servers = await startAll(n, extra);
    const file = randomBytes(8 * 2 ** 20);
    let ok = 0;
    let refused = 0;
    const until = Date.now() + seconds * 1000;
    const worker = async (s: Session, thread: string, w: number): Promise<void> => {
      for (let i = 0; Date.now() < until; i++) {
        const r = await s.request('UPD', [thread, `f${w}-${i}`]);
        if (await upload(s, r, file, signal)) ok++;
        else refused++;
      }
    };
    const sessions = await Promise.all(servers.map((p, i) => session(p.port, `m${i}`, signal)));
    await Promise.all(sessions.map((s, i) => s.request('CRT', [`t${i}`])));
    const t0 = Date.now();
    const samples: string[] = [];
    const sampler = setInterval(() => void dbBytes().then((b) => samples.push(`${((Date.now() - t0) / 1000).toFixed(0)} s: uploads ${mib(b.uploads)}, database ${mib(b.database)}`)), 2000);
    await Promise.all(sessions.flatMap((s, i) => [0, 1, 2, 3].map((w) => worker(s, `t${i}`, w))));
    clearInterval(sampler);
    const b = await dbBytes();
    console.log(`fill: ${n} servers ${extra.join(' ')}; ${seconds} s: ${ok} uploads of 8 MiB stored, ${refused} refused`);
    for (const l of samples) console.log(`  ${l}`);
    console.log(`  end: uploads ${mib(b.uploads)}, database ${mib(b.database)} (${mib(b.uploads / ((Date.now() - t0) / 1000))}/s)`);
  } else if (mode === 'rdt') {
    const seconds = Number(process.argv[3] ?? 6);
    const n = Number(process.argv[4] ?? 2);
    const depth = Number(process.argv[5] ?? 8);
    const servers = await startAll(n, []);
    const first = servers[0] as Proc;
    const owner = await session(first.port, 'owner', signal);
    await owner.request('CRT', ['big']);
    // 3.9 MiB of messages of 3,990 characters, written as the owner posts them (MSG by MSG: what a user can do).
    const text = 'x'.repeat(3990);
    for (let i = 0; i < 1000; i += 8) {
      const r = await Promise.all(Array.from({ length: 8 }, () => owner.request('MSG', ['big', text])));
      if (!r.every((x) => x.lines[0]?.startsWith('Message posted'))) throw new Error(r.map((x) => x.lines.join('|')).join('; '));
    }
    const honest = await session(first.port, 'honest', signal);
    await honest.request('CRT', ['h']);
    const probe = (ms: number): Promise<number[]> => honestMsgs(honest, ms);
    const before = await probe(2000);
    const hostile = await Promise.all(servers.flatMap((p, i) => [0, 1].map((k) => session(p.port, `r${i}-${k}`, signal))));
    let answered = 0;
    let bytes = 0;
    // Rows the database handed out (tup_returned + tup_fetched, all backends) and the servers' CPU, over the attack.
    const dbRows = async (): Promise<number> => {
      await sql`SELECT pg_stat_clear_snapshot()`;
      const [r] = await sql<{ n: string }[]>`SELECT tup_returned + tup_fetched AS n FROM pg_stat_database WHERE datname = current_database()`;
      return Number(r?.n ?? 0);
    };
    const serverCpu = (): number => servers.reduce((a, p) => a + (p.child.pid === undefined ? 0 : cpuMs(p.child.pid)), 0);
    const [rows0, cpu0] = [await dbRows(), serverCpu()];
    const until = Date.now() + seconds * 1000;
    const loop = async (s: Session): Promise<void> => {
      while (Date.now() < until) {
        const r = await s.request('RDT', ['big']).catch(() => undefined);
        if (r === undefined) return;
        answered++;
        bytes += r.lines.reduce((a, l) => a + l.length + 1, 0);
      }
    };
    const [during] = await Promise.all([probe(seconds * 1000 - 500), ...hostile.flatMap((s) => Array.from({ length: depth }, () => loop(s)))]);
    const [act] = await sql<{ n: string }[]>`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database()`;
    // Statistics reach pg_stat_database as each backend reports them (within about a second).
    await sleep(1500);
    const [rows1, cpu1] = [await dbRows(), serverCpu()];
    console.log(`rdt: ${n} servers, ${hostile.length} hostile sessions x ${depth} RDTs in flight, ${seconds} s: ${answered} RDTs (${(answered / seconds).toFixed(1)}/s, ${mib(bytes / seconds)}/s of lines)`);
    console.log(`  honest MSG on server 0 before: ${stat(before)}; during: ${stat(during ?? [])}; database connections now ${act?.n}`);
    console.log(`  database rows read: ${rows1 - rows0} (${((rows1 - rows0) / answered).toFixed(0)} an RDT); servers' CPU ${((cpu1 - cpu0) / answered).toFixed(1)} ms an RDT`);
  } else if (mode === 'hot') {
    const seconds = Number(process.argv[3] ?? 6);
    const n = Number(process.argv[4] ?? 2);
    const perServer = Number(process.argv[5] ?? 4);
    const depth = Number(process.argv[6] ?? 16);
    const servers = await startAll(n, []);
    const first = servers[0] as Proc;
    const honest = await session(first.port, 'honest', signal);
    await honest.request('CRT', ['h']);
    await honest.request('CRT', ['hot']);
    const probe = (ms: number): Promise<number[]> => honestMsgs(honest, ms);
    const before = await probe(2000);
    const hostile = await Promise.all(servers.flatMap((p, i) => Array.from({ length: perServer }, (_, k) => session(p.port, `h${i}-${k}`, signal))));
    let posted = 0;
    const refusals = new Map<string, number>();
    const until = Date.now() + seconds * 1000;
    const loop = async (s: Session): Promise<void> => {
      while (Date.now() < until) {
        const r = await s.request('MSG', ['hot', 'x'.repeat(100)]).catch(() => undefined);
        if (r === undefined) return;
        const line = r.lines[0] ?? '';
        if (line.startsWith('Message posted')) posted++;
        else refusals.set(line.replace(/\d+/g, 'N'), (refusals.get(line.replace(/\d+/g, 'N')) ?? 0) + 1);
      }
    };
    const [during] = await Promise.all([probe(seconds * 1000 - 500), ...hostile.flatMap((s) => Array.from({ length: depth }, () => loop(s)))]);
    const [waits] = await sql<{ n: string }[]>`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`;
    console.log(`hot: ${n} servers, ${hostile.length} hostile accounts x ${depth} MSGs in flight to one thread, ${seconds} s: ${posted} posted (${(posted / seconds).toFixed(0)}/s), refused ${JSON.stringify([...refusals])}`);
    console.log(`  honest MSG to another thread on server 0 before: ${stat(before)}; during: ${stat(during ?? [])}; backends waiting on a lock at the end ${waits?.n}`);
  } else if (mode === 'race') {
    const rounds = Number(process.argv[3] ?? 20);
    const [a, b] = [await start([]), await start([])];
    const { connect } = await import('../packages/rudp/dist/index.js');
    const { encodeRequest, decodeServerMessage } = await import('../packages/forum-protocol/dist/index.js');
    /** A login of `user` with `password` on `port`: the reply's first line, and the session's request function. */
    const login = async (port: number, user: string, password: string) => {
      const conn = await connect({ port, idleTimeoutMs: 30_000 });
      signal.addEventListener('abort', () => conn.destroy());
      type Answer = { readonly lines: readonly string[]; readonly next: string };
      const waiting = new Map<string, (a: Answer) => void>();
      let id = 0;
      conn.on('error', () => undefined);
      conn.on('message', (bytes) => {
        const m = decodeServerMessage(bytes);
        if (m._tag === 'Left' || m.right.type !== 'reply') return;
        const d = m.right.data;
        waiting.get(m.right.id)?.({ lines: m.right.lines, next: d.kind === 'auth' ? d.next : '' });
      });
      const ask = (cmd: string, args: readonly string[]): Promise<Answer> =>
        new Promise((resolve) => {
          const key = String(++id);
          waiting.set(key, resolve);
          void conn.send(encodeRequest({ id: key, username: '', cmd: cmd as 'MSG', args })).catch(() => undefined);
        });
      const request = async (cmd: string, args: readonly string[]): Promise<readonly string[]> => (await ask(cmd, args)).lines;
      // A new name asks for a new password, a known one for its password (the other server made it first).
      const u = await ask('username', [user]);
      // Refused at the name (the other server's session holds it already): that line is the answer.
      const first = u.next === 'password' || u.next === 'newPassword' ? ((await request(u.next, [password]))[0] ?? '') : `${u.lines[0] ?? ''} (at the name)`;
      return { first, request, close: () => conn.destroy() };
    };
    const tally = new Map<string, number>();
    // Names of the round made one (n7 -> N, t7 -> T), so that rounds with one outcome add up.
    const count = (raw: string): void => {
      const k = raw.replace(/\bn\d+\b/g, 'N').replace(/\bt\d+\b/g, 'T');
      tally.set(k, (tally.get(k) ?? 0) + 1);
    };
    for (let r = 0; r < rounds; r++) {
      const [x, y] = await Promise.all([login(a.port, `n${r}`, 'one'), login(b.port, `n${r}`, 'two')]);
      count(`first login of one new name on both: ${[x.first, y.first].sort().join(' + ')}`);
      const [acct] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM accounts WHERE username = ${`n${r}`}`;
      count(`  account rows: ${acct?.n}`);
      x.close();
      y.close();
      const [p, q] = await Promise.all([login(a.port, `p${r}`, 'pw'), login(b.port, `q${r}`, 'pw')]);
      const crt = await Promise.all([p.request('CRT', [`t${r}`]), q.request('CRT', [`t${r}`])]);
      count(`CRT of one title on both: ${crt.map((l) => l[0]).sort().join(' + ')}`);
      const owner = crt[0]?.[0]?.endsWith('created') ? p : q;
      const other = owner === p ? q : p;
      await owner.request('MSG', [`t${r}`, 'first']);
      await owner.request('MSG', [`t${r}`, 'second']);
      const dlt = await Promise.all([owner.request('DLT', [`t${r}`, '1']), owner.request('DLT', [`t${r}`, '1'])]);
      count(`DLT 1 twice at once (same account, one server): ${dlt.map((l) => l[0]).sort().join(' + ')}`);
      await other.request('MSG', [`t${r}`, 'third']);
      const [msg, rmv] = await Promise.all([other.request('MSG', [`t${r}`, 'racing']), owner.request('RMV', [`t${r}`])]);
      const [left] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM entries WHERE thread = ${`t${r}`}`;
      count(`MSG on one server while RMV on the other: ${msg[0]} / ${rmv[0]}; lines left ${left?.n}`);
      p.close();
      q.close();
    }
    for (const [k, v] of tally) console.log(`${v} x ${k}`);
  } else if (mode === 'kill') {
    const [a, b] = [await start([], 60), await start([], 60)];
    const s = await session(a.port, 'mallory', signal);
    await s.request('CRT', ['t']);
    const r = await s.request('UPD', ['t', 'half']);
    if (r.data.kind !== 'transfer') throw new Error(r.lines.join('|'));
    // Half of a 4 MiB upload sent, then the server dies: nothing it does on the way out runs.
    const net = await import('node:net');
    const { SecureTransferChannel, deriveTransferKeys, sessionExporter } = await import('../packages/forum-protocol/dist/index.js');
    const socket = net.connect({ host: '127.0.0.1', port: r.data.port });
    socket.on('error', () => undefined);
    socket.write(`${r.data.token}\n`);
    const ch = new SecureTransferChannel(socket, deriveTransferKeys(sessionExporter(s.conn), r.data.token), 'client');
    ch.on('error', () => undefined);
    ch.write(`${4 * 2 ** 20}\n`);
    ch.write(randomBytes(2 * 2 ** 20));
    for (let i = 0; i < 100 && (await dbBytes()).uploads < 2 * 2 ** 20; i++) await sleep(50);
    a.child.kill('SIGKILL');
    await a.exited;
    const t0 = Date.now();
    const state = async (): Promise<string> => {
      const [row] = await sql<{ pending: number; slots: number; leases: number }[]>`
        SELECT (SELECT count(*)::int FROM uploads WHERE NOT committed) AS pending,
               (SELECT count(*)::int FROM upload_slots WHERE expires_at > now()) AS slots,
               (SELECT count(*)::int FROM session_leases WHERE expires_at > now()) AS leases`;
      return `pending uploads ${row?.pending}, upload bytes ${mib((await dbBytes()).uploads)}, live upload places ${row?.slots}, live session leases ${row?.leases}`;
    };
    console.log(`kill: right after SIGKILL: ${await state()}`);
    // The same account on the other server: refused while the dead server's lease lives.
    for (;;) {
      const c = new AbortController();
      const got = await session(b.port, 'mallory', c.signal).then(
        () => 'in',
        (e: unknown) => (e instanceof Error ? e.message : String(e)),
      );
      c.abort();
      if (got === 'in') break;
      if (Date.now() - t0 > 120_000) throw new Error(`never let in: ${got}`);
      await sleep(1000);
    }
    console.log(`kill: mallory logs in on the other server ${((Date.now() - t0) / 1000).toFixed(1)} s after; ${await state()}`);
  }
} finally {
  await cluster.close();
}
