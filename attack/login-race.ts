/**
 * Attack round 17, item 3: logins of one account racing each other and racing its logout, against the built server.
 *
 *   npx tsx attack/login-race.ts [rounds=40] [racers=12]
 *
 * The login throttle is widened (`--login-checks` etc. 100000) so that only the one-session rule decides.
 *   many     `racers` connections, each from its own address, send the username and the right password of `u`
 *            pipelined at the same instant. Exactly one may be welcomed; it then checks it is served (LST) and XITs.
 *   xit      `u` logged in on A; at the same instant A sends XIT and B (another address) sends the username and
 *            password pipelined, again every 5 ms until welcomed. Counted: B welcomed before A's Goodbye arrived
 *            (harmless if A's session was released first), how long after the XIT B got in, and whether A still
 *            answered a command after B was welcomed (two live sessions).
 *   destroy  the same with A's connection destroyed (its CLOSE sent) instead of XIT.
 *   cmdxit   A pipelines MSG, XIT, MSG: the MSG after the XIT must not be posted.
 *   create   `racers` connections create one new account at the same instant (username and newPassword pipelined),
 *            each with its own password and spelling (`new<i>`, `New<i>`, `NEW<i>`, …): one account may be made, the
 *            one welcomed, and its password the one stored (it logs in with it later; the others' passwords fail).
 * At the end a fresh login of `u` must succeed (nothing left held).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeServerMessage, encodeRequest, type Reply, type RequestCommand } from '../packages/forum-protocol/dist/index.js';
import { connect, type RudpConnection } from '../packages/rudp/dist/index.js';
import { startServer } from './forum-raw.js';

const rounds = Number(process.argv[2] ?? 40);
const racers = Number(process.argv[3] ?? 12);
const dir = await mkdtemp(join(tmpdir(), 'a17-login-'));
const port = 40_000 + Math.floor(Math.random() * 20_000);
const wide = ['--account-limit', '0', '--login-checks', '100000', '--login-host-checks', '100000', '--login-attempts', '100000', '--login-host-attempts', '100000', '--min-free-bytes', '0'];
const server = await startServer(dir, port, port + 1, wide);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Raw {
  readonly conn: RudpConnection;
  readonly ask: (cmd: RequestCommand, args: readonly string[]) => Promise<Reply>;
  closed: boolean;
}
const raw = async (host: string): Promise<Raw> => {
  const conn = await connect({ port, localAddress: host });
  const waiting = new Map<string, (r: Reply) => void>();
  const r: Raw = {
    conn,
    closed: false,
    ask: (cmd, args) =>
      new Promise((resolve, reject) => {
        if (r.closed) return reject(new Error('closed'));
        const key = String(++id);
        waiting.set(key, resolve);
        void conn.send(encodeRequest({ id: key, username: '', cmd, args })).catch(() => undefined);
      }),
  };
  let id = 0;
  conn.on('message', (bytes) => {
    const m = decodeServerMessage(bytes);
    if (m._tag === 'Right' && m.right.type === 'reply') waiting.get(m.right.id)?.(m.right);
  });
  conn.on('error', () => undefined);
  conn.on('close', () => (r.closed = true));
  return r;
};
/** Username and password pipelined: the password's answer, or the username's refusal. */
const login = async (r: Raw, user: string, pw: string): Promise<string> => {
  const u = r.ask('username', [user]);
  const p = r.ask('password', [pw]);
  const ur = await u;
  if (ur.status !== 'ok') {
    void p.catch(() => undefined);
    return ur.lines.join('|');
  }
  return (await p).lines.join('|');
};
const WELCOME = 'Welcome to the forum';
// The account, and a thread to post to.
const first = await raw('127.0.0.20');
await first.ask('username', ['u']);
await first.ask('newPassword', ['pw-u']);
await first.ask('CRT', ['t']);
await first.ask('XIT', []);
first.conn.destroy();
await sleep(200);

const problems: string[] = [];
try {
  // many
  const wins: number[] = [];
  const answers = new Map<string, number>();
  for (let i = 0; i < rounds; i++) {
    const rs = await Promise.all(Array.from({ length: racers }, (_, k) => raw(`127.0.1.${k + 1}`)));
    const out = await Promise.all(rs.map((r) => login(r, 'u', 'pw-u')));
    for (const o of out) answers.set(o.replace(/[0-9]+/g, 'N'), (answers.get(o.replace(/[0-9]+/g, 'N')) ?? 0) + 1);
    const winners = rs.filter((_, k) => out[k] === WELCOME);
    wins.push(winners.length);
    for (const w of winners) {
      const l = await w.ask('LST', []);
      if (l.status !== 'ok') problems.push(`many: a winner was not served: ${l.lines.join('|')}`);
      await w.ask('XIT', []);
    }
    rs.forEach((r) => r.conn.destroy());
    await sleep(50);
  }
  console.log(`many: ${rounds} rounds of ${racers} pipelined logins at once: welcomed per round ${JSON.stringify([...new Set(wins)])} (rounds with 0: ${wins.filter((w) => w === 0).length}, with 2 or more: ${wins.filter((w) => w > 1).length}); answers ${JSON.stringify(Object.fromEntries(answers))}`);

  for (const mode of ['xit', 'destroy'] as const) {
    const waits: number[] = [];
    let beforeGoodbye = 0;
    let aServedAfter = 0;
    for (let i = 0; i < rounds; i++) {
      const a = await raw('127.0.0.21');
      if ((await login(a, 'u', 'pw-u')) !== WELCOME) {
        problems.push(`${mode}: A could not log in`);
        a.conn.destroy();
        await sleep(500);
        continue;
      }
      const b = await raw('127.0.0.22');
      let goodbyeAt = Infinity;
      const t0 = performance.now();
      if (mode === 'xit') void a.ask('XIT', []).then(() => (goodbyeAt = performance.now()), () => undefined);
      else a.conn.destroy();
      let welcomedAt = 0;
      for (let k = 0; k < 1000 && welcomedAt === 0; k++) {
        const o = await login(b, 'u', 'pw-u');
        if (o === WELCOME) welcomedAt = performance.now();
        else await sleep(5);
      }
      if (welcomedAt === 0) problems.push(`${mode}: B never welcomed`);
      if (welcomedAt < goodbyeAt && mode === 'xit') beforeGoodbye++;
      waits.push(welcomedAt - t0);
      // A's session must be over: a command on A now is not served.
      const late = await Promise.race([a.ask('LST', []).then((r) => r.status, () => 'closed'), sleep(300).then(() => 'silent')]);
      if (late === 'ok') aServedAfter++;
      await b.ask('XIT', []).catch(() => undefined);
      a.conn.destroy();
      b.conn.destroy();
      await sleep(20);
    }
    waits.sort((x, y) => x - y);
    console.log(`${mode}: ${rounds} rounds: B welcomed ${waits[Math.floor(waits.length / 2)]?.toFixed(1)} ms after A's ${mode} (p50), max ${waits[waits.length - 1]?.toFixed(1)} ms; before A's Goodbye arrived: ${beforeGoodbye}; A served after B's welcome: ${aServedAfter}`);
  }

  // cmdxit
  let posted = 0;
  const s = await raw('127.0.0.23');
  for (let i = 0; i < rounds; i++) {
    const s2 = i === 0 ? s : await raw('127.0.0.23');
    if ((await login(s2, 'u', 'pw-u')) !== WELCOME) {
      problems.push('cmdxit: no login');
      continue;
    }
    const m1 = s2.ask('MSG', ['t', `before ${i}`]);
    const x = s2.ask('XIT', []);
    const m2 = s2.ask('MSG', ['t', `after-xit ${i}`]);
    await Promise.all([m1, x]);
    await Promise.race([m2.catch(() => undefined), sleep(300)]);
    s2.conn.destroy();
    await sleep(20);
  }
  const check = await raw('127.0.0.24');
  const final = await login(check, 'u', 'pw-u');
  const rdt = await check.ask('RDT', ['t']);
  posted = rdt.lines.filter((l) => l.includes('after-xit')).length;
  const before = rdt.lines.filter((l) => l.includes(': before ')).length;
  console.log(`cmdxit: ${rounds} rounds of MSG, XIT, MSG pipelined: posted before the XIT ${before}, after it ${posted}`);
  console.log(`final login: ${final}`);
  check.conn.destroy();

  // create
  const made: number[] = [];
  const createAnswers = new Map<string, number>();
  let wrongPassword = 0;
  for (let i = 0; i < rounds; i++) {
    const spell = (k: number): string => [...`new${i}`].map((c, j) => ((k >> j) & 1 ? c.toUpperCase() : c)).join('');
    const rs = await Promise.all(Array.from({ length: racers }, (_, k) => raw(`127.0.3.${k + 1}`)));
    const out = await Promise.all(
      rs.map(async (r, k) => {
        const u = r.ask('username', [spell(k)]);
        const p = r.ask('newPassword', [`pw${k}`]);
        const ur = await u;
        return ur.status === 'ok' ? (await p).lines.join('|') : (void p.catch(() => undefined), ur.lines.join('|'));
      }),
    );
    for (const o of out) createAnswers.set(o.replace(/[nN][eE][wW][0-9]+/g, 'NAME'), (createAnswers.get(o.replace(/[nN][eE][wW][0-9]+/g, 'NAME')) ?? 0) + 1);
    const winners = out.flatMap((o, k) => (o === WELCOME ? [k] : []));
    made.push(winners.length);
    for (const r of rs) {
      await r.ask('XIT', []).catch(() => undefined);
      r.conn.destroy();
    }
    await sleep(30);
    // The winner's spelling and password log in; another racer's password does not.
    for (const w of winners) {
      const c = await raw('127.0.0.25');
      if ((await login(c, spell(w), `pw${w}`)) !== WELCOME) wrongPassword++;
      c.conn.destroy();
      const other = (w + 1) % racers;
      const d = await raw('127.0.0.26');
      if ((await login(d, spell(w), `pw${other}`)) === WELCOME) wrongPassword++;
      d.conn.destroy();
    }
  }
  const { readFile } = await import('node:fs/promises');
  const creds = (await readFile(join(dir, 'credentials.txt'), 'utf8')).split('\n').filter((l) => /^new[0-9]+ /i.test(l));
  const keys = new Set(creds.map((l) => l.split(' ')[0]?.toLowerCase()));
  console.log(`create: ${rounds} rounds of ${racers} creations of one name at once: made per round ${JSON.stringify([...new Set(made)])}; credentials lines ${creds.length} for ${keys.size} names; winner's password refused or another's taken: ${wrongPassword}; answers ${JSON.stringify(Object.fromEntries(createAnswers))}`);
  if (creds.length !== keys.size || made.some((m) => m !== 1)) problems.push('create: not one account a round');
  if (final !== WELCOME) problems.push(`final login: ${final}`);
  console.log(problems.length === 0 ? 'no problems' : problems.slice(0, 10).join('\n'));
} finally {
  server.child.kill('SIGTERM');
  await server.exited;
  await rm(dir, { recursive: true, force: true });
}
