// How late commands under a deadline are answered when the pool is busy with slow statements (a database slowed
// by a disk or by lock waits): `node scripts/pg-deadline-load.mjs [rounds] [deadlineMs] [slowMs] [slow] [quick]`
// (defaults 3 6000 4500 30 70), after `pnpm --filter forum-protocol build`. Starts an embedded PostgreSQL, opens
// the store on a pool of 10 (the server's), and each round starts `slow` commands of one statement of `slowMs`
// and `quick` commands of one prepared read (an account), one a turn of the event loop, each under a deadline of
// `deadlineMs`. Prints, for each kind, the replies past the deadline and the latest reply, and the commands a
// second (with slow = 0, the pool's throughput); DEBUG_LOAD=1 prints each command's time and outcome, and
// PG_DELAY_MS=n puts the database n ms away each way (a relay delaying every chunk).
import { withCommandDeadline } from '../packages/forum-protocol/dist/index.js';
import { openPostgresStore } from '../packages/forum-protocol/dist/postgres.js';
import net from 'node:net';
import { startEmbeddedPostgres } from './embedded-postgres.mjs';

const [rounds = 3, deadlineMs = 6_000, slowMs = 4_500, slow = 30, quick = 70] = process.argv.slice(2).map(Number);

/**
 * A loopback relay to `url` that delays every chunk `ms` each way (a database `2 × ms` of round trip away),
 * order kept; its URL, and its closing.
 */
const delayingRelay = async (url, ms) => {
  const target = new URL(url);
  const sockets = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
    }
    const late = (from, to) => {
      from.on('data', (chunk) => setTimeout(() => to.destroyed || to.write(chunk), ms));
      from.on('close', () => setTimeout(() => to.destroy(), ms));
    };
    late(client, upstream);
    late(upstream, client);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const relayed = new URL(url);
  relayed.port = String(server.address().port);
  return { url: relayed.href, close: () => (sockets.forEach((s) => s.destroy()), new Promise((resolve) => server.close(resolve))) };
};

const pg = await startEmbeddedPostgres();
// PG_DELAY_MS=n: the database n ms away each way.
const relay = process.env.PG_DELAY_MS ? await delayingRelay(pg.url, Number(process.env.PG_DELAY_MS)) : undefined;
try {
  const opened = await openPostgresStore(relay?.url ?? pg.url, { maxConnections: 10 })();
  if (opened._tag === 'Left') throw new Error(opened.left.message);
  const store = opened.right;
  await store.createAccount({ username: 'alice', password: 'pw' })();
  // Every connection has described both statements: from then on they are pipelined when all connections are busy.
  for (let i = 0; i < 5; i++) await Promise.all(Array.from({ length: 50 }, (_, j) => (j % 2 === 0 ? store.getAccount('alice')() : store.sql`SELECT pg_sleep(${0.001})`)));
  const summary = { slow: [], quick: [] };
  const began = performance.now();
  for (let r = 0; r < rounds; r++) {
    const timed = async (kind, work) => {
      const started = performance.now();
      const outcome = await withCommandDeadline(deadlineMs, work).then(
        (v) => (v?._tag === 'Left' ? (v.left.timedOut ? 'timed out' : 'failed') : 'answered'),
        (e) => (e?.code === 'ERR_COMMAND_DEADLINE' || e?.code === '57014' ? 'timed out' : `failed: ${e?.code ?? e}`),
      );
      summary[kind].push({ ms: performance.now() - started, outcome });
      if (process.env.DEBUG_LOAD) console.log(kind, (performance.now() - started).toFixed(0), outcome);
    };
    // Interleaved, as commands of many clients arrive.
    const total = slow + quick;
    const kinds = Array.from({ length: total }, (_, i) => (Math.floor(((i + 1) * slow) / total) > Math.floor((i * slow) / total) ? 'slow' : 'quick'));
    const jobs = [];
    for (const kind of kinds) {
      jobs.push(kind === 'slow' ? timed('slow', () => store.sql`SELECT pg_sleep(${slowMs / 1000})`) : timed('quick', () => store.getAccount('alice')()));
      // One a turn of the event loop, as requests arrive: each has made its statement before the next comes.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(jobs);
  }
  const elapsed = performance.now() - began;
  for (const [kind, results] of Object.entries(summary)) {
    if (results.length === 0) continue;
    const late = results.filter((x) => x.ms > deadlineMs + 100).length;
    // The client waits 8 s for a reply: what came later it never read.
    const unread = results.filter((x) => x.ms > 8_000).length;
    const outcomes = results.reduce((acc, x) => ({ ...acc, [x.outcome]: (acc[x.outcome] ?? 0) + 1 }), {});
    const worst = Math.max(...results.map((x) => x.ms));
    console.log(`${kind}: ${results.length} commands, ${late} answered over ${deadlineMs + 100} ms, ${unread} over 8,000 ms, latest ${worst.toFixed(0)} ms, ${JSON.stringify(outcomes)}`);
  }
  console.log(`${rounds} rounds in ${elapsed.toFixed(0)} ms (${(((slow + quick) * rounds * 1000) / elapsed).toFixed(0)} commands/s)`);
  await store.close();
} finally {
  await relay?.close();
  await pg.stop();
}
