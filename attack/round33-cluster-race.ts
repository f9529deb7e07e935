/**
 * Attack round 33, item 2: a hostile client with one account racing two built forum-servers on one embedded
 * PostgreSQL, where what one server checks the other changes at the same instant. Real processes on loopback.
 *
 *   npx tsx attack/round33-cluster-race.ts [rounds=6]
 *
 * Phases, each `rounds` times:
 *   login   an account made and logged out, 16 logins of it at once (8 a server, each its own connection): the one live
 *           session must be one (`session_leases`), and the losers told `already logged in`;
 *   token   one UPD granted on server A, its token redeemed at once on A's and B's transfer ports (two bodies of
 *           different bytes): at most one stored, and the file's bytes one body whole;
 *   edt     one line of the account's, EDT and DLT of it at once (one account has one live session, so both go by
 *           server A; another account reads on B): a DLT answered done leaves no line, and A and B read the same;
 *   rmv     a thread RMV on A while 8 MSGs and an UPD + upload go to it on B: none answered done may be of a thread
 *           still listed without it, and after the RMV no line, upload row or counter of it is left (`threads`,
 *           `uploads`, `uploader_bytes` against the uploads' rows and chunks).
 * Loopback only; stops by itself.
 */
import { download, rawConnection, session, uploadAnswer, type Session } from './forum-raw.js';
import { openPgCluster } from './lib-pg-cluster.js';

const rounds = Number(process.argv[2] ?? 6);
const hardStop = setTimeout(() => process.exit(2), 400_000);
const cluster = await openPgCluster('a33-race-');
const { sql, signal } = cluster;
const [a, b] = await cluster.startAll(2, ['--max-data-bytes-per-user', '1000000']);
if (a === undefined || b === undefined) throw new Error('servers');
const problems: string[] = [];
const note = (p: string): void => {
  problems.push(p);
  console.log(`  ** ${p}`);
};

// --- login: one live session, raced over both servers -------------------------------------------------------
// A new account a round, from a new address: one account's checks are 10 a window, a host's 60.
let loginWins = 0;
for (let r = 0; r < rounds; r++) {
  const name = `dup${r}`;
  const from = `127.0.0.${20 + r}`;
  await (await session(a.port, name, signal, from)).request('XIT', []);
  const tries = await Promise.all(
    Array.from({ length: 16 }, async (_, i) => {
      const c = await rawConnection(i % 2 === 0 ? a.port : b.port, { signal, localAddress: from });
      const u = await c.request('username', [name]);
      const next = u.data.kind === 'auth' ? u.data.next : 'password';
      const w = await c.request(next as 'password', [`pw-${name}`]);
      return { c, won: w.lines[0] === 'Welcome to the forum', said: w.lines[0] ?? '' };
    }),
  );
  const won = tries.filter((t) => t.won);
  loginWins += won.length;
  const [leases] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM session_leases WHERE username = ${name} AND expires_at >= now()`;
  const losersSaid = [...new Set(tries.filter((t) => !t.won).map((t) => t.said))];
  console.log(`login ${r}: ${won.length} of 16 logged in, live leases ${leases?.n}; the others: ${losersSaid.join(' | ')}`);
  if (won.length !== 1 || leases?.n !== 1) note(`login ${r}: ${won.length} sessions, ${leases?.n} leases`);
  // The winner's session works, then logs out for the next round; the losers' connections are dropped.
  for (const t of won) await t.c.request('XIT', []).catch(() => undefined);
  for (const t of tries) t.c.conn.destroy();
}

// --- token: one grant redeemed at both servers' transfer ports ----------------------------------------------
const owner = await session(a.port, 'owner', signal, '127.0.0.5');
await owner.request('CRT', ['up']);
let doubles = 0;
for (let r = 0; r < rounds; r++) {
  const name = `f${r}.bin`;
  const grant = await owner.request('UPD', ['up', name]);
  if (grant.data.kind !== 'transfer') {
    note(`token ${r}: UPD ${grant.lines.join('|')}`);
    continue;
  }
  const atB = { ...grant, data: { ...grant.data, port: b.tcpPort } };
  const [onA, onB] = await Promise.all([
    uploadAnswer(owner, grant, Buffer.alloc(30_000, 0x41), signal, '127.0.0.5'),
    uploadAnswer(owner, atB, Buffer.alloc(30_000, 0x42), signal, '127.0.0.5'),
  ]);
  const stored = [onA, onB].filter((x) => x === 'OK\n').length;
  if (stored > 1) doubles++;
  const got = await download(owner, await owner.request('DWN', ['up', name]), signal);
  const whole = typeof got !== 'string' && got.length === 30_000 && (got.every((x) => x === 0x41) || got.every((x) => x === 0x42));
  const [rows] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM uploads WHERE filename = ${name}`;
  console.log(`token ${r}: at A ${JSON.stringify(onA)}, at B ${JSON.stringify(onB)}; stored ${stored}; DWN ${typeof got === 'string' ? got : `${got.length} B`}${whole ? ' (one body whole)' : ''}; rows ${rows?.n}`);
  if (stored > 1 || (stored === 1 && !whole) || (rows?.n ?? 0) > 1) note(`token ${r}: stored ${stored}, whole ${whole}, rows ${rows?.n}`);
}

// --- edt: EDT/DLT and EDT/EDT of one line over both servers --------------------------------------------------
const onA = await session(a.port, 'ed', signal, '127.0.0.6');
const onB = await session(b.port, 'ed2', signal, '127.0.0.7');
await onA.request('CRT', ['ed']);
const lineOf = async (s: Session, n: number): Promise<string | undefined> => {
  const rdt = await s.request('RDT', ['ed']);
  return rdt.lines.find((l) => new RegExp(`^${n} `).test(l));
};
for (let r = 0; r < rounds; r++) {
  // Lines of 'ed' (the account's own on A). Its number is the line's index in the thread; MSG answers it.
  await onA.request('MSG', ['ed', `line ${r}`]);
  const n = Number(/^(\d+) /.exec((await onA.request('RDT', ['ed'])).lines.find((l) => l.endsWith(`line ${r}`)) ?? '')?.[1]);
  const [edt, dlt] = await Promise.all([onA.request('EDT', ['ed', String(n), `edited ${r}`]), onA.request('DLT', ['ed', String(n)])]);
  const [viewA, viewB] = await Promise.all([lineOf(onA, n), lineOf(onB, n)]);
  console.log(`edt ${r}: line ${n}: EDT ${edt.lines[0]} | DLT ${dlt.lines[0]}; A shows ${JSON.stringify(viewA)}, B ${JSON.stringify(viewB)}`);
  if (viewA !== viewB) note(`edt ${r}: A and B disagree`);
  if (/deleted/i.test(dlt.lines[0] ?? '') && viewA !== undefined && viewA.includes(`edited ${r}`)) note(`edt ${r}: DLT answered done, the edited line shown`);
}

// --- rmv: a thread removed on A while MSGs and an upload go to it on B ---------------------------------------
const rmvOwner = await session(a.port, 'rmvo', signal, '127.0.0.8');
const writer = await session(b.port, 'rmvw', signal, '127.0.0.9');
for (let r = 0; r < rounds; r++) {
  const t = `gone${r}`;
  await rmvOwner.request('CRT', [t]);
  await writer.request('MSG', [t, 'before']);
  const grant = await writer.request('UPD', [t, `g${r}.bin`]);
  const [rmv, msgs, up] = await Promise.all([
    rmvOwner.request('RMV', [t]),
    Promise.all(Array.from({ length: 8 }, (_, i) => writer.request('MSG', [t, `racing ${i}`]))),
    uploadAnswer(writer, grant, Buffer.alloc(20_000, 1), signal, '127.0.0.9'),
  ]);
  const msgOk = msgs.filter((x) => !/not exist|no such|does not|removed|unknown/i.test(x.lines[0] ?? '')).length;
  const listed = (await writer.request('LST', [])).lines.includes(t);
  const [left] = await sql<{ threads: number; uploads: number }[]>`
    SELECT (SELECT count(*)::int FROM threads WHERE title = ${t}) AS threads,
           (SELECT count(*)::int FROM uploads WHERE filename = ${`g${r}.bin`}) AS uploads`;
  const [bytes] = await sql<{ counter: number; rows: number }[]>`
    SELECT coalesce((SELECT bytes FROM uploader_bytes WHERE uploader = 'rmvw'), 0)::bigint AS counter,
           coalesce((SELECT sum(size) FROM uploads WHERE uploader = 'rmvw' AND committed), 0)::bigint
             + coalesce((SELECT sum(octet_length(c.data)) FROM upload_chunks c JOIN uploads u ON u.id = c.upload_id WHERE u.uploader = 'rmvw' AND NOT u.committed), 0)::bigint AS rows`;
  console.log(
    `rmv ${r}: RMV ${rmv.lines[0]}; MSGs answered done ${msgOk} of 8 (${[...new Set(msgs.map((x) => x.lines[0]))].join(' | ')}); upload ${JSON.stringify(up)}; listed ${listed}; rows left: threads ${left?.threads}, uploads ${left?.uploads}; rmvw's upload counter ${bytes?.counter} B, its rows ${bytes?.rows} B`,
  );
  const removed = /removed/i.test(rmv.lines[0] ?? '');
  if (removed && (listed || (left?.threads ?? 0) > 0 || (left?.uploads ?? 0) > 0)) note(`rmv ${r}: removed but left ${JSON.stringify(left)}, listed ${listed}`);
  if (Number(bytes?.counter) !== Number(bytes?.rows)) note(`rmv ${r}: counter ${bytes?.counter} against rows ${bytes?.rows}`);
}

console.log(`login wins ${loginWins} in ${rounds} rounds of 16; token double stores ${doubles}`);
console.log(problems.length === 0 ? 'held: nothing past a limit, nothing left behind' : `BROKE: ${problems.length} problems`);
await cluster.close();
clearTimeout(hardStop);
