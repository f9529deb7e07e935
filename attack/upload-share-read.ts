/**
 * Attack round 28: what the upload share's read (forum-protocol postgres-upload-share.ts) costs PostgreSQL for
 * an account holding many uploads. The share is counted from the rows on every upload's start and every chunk
 * (`uploaderBytes`: the sum of the account's committed uploads' sizes and its pending chunks), so its cost
 * grows with the account's own uploads, which 1-byte files make many within any share. Real processes on
 * loopback: an embedded PostgreSQL and the built server at its default pacing (`lib-pg-cluster.ts`).
 *
 *   npx tsx attack/upload-share-read.ts [uploads=100000] [seconds=20]
 *
 * `uploads` committed 1-byte uploads of mallory's are written into `uploads` directly (through UPD at the
 * default pace, 25 writes a second, 100,000 take one account some 67 minutes; their thread lines are left out,
 * the share reads only the rows). Then for `seconds` each, mallory and a fresh account bob upload 1-byte files
 * to threads of their own, 4 at once: uploads a second, PostgreSQL's CPU (postmaster and children) per upload.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { session, uploadAnswer, type Session } from './forum-raw.js';
import { openPgCluster } from './lib-pg-cluster.js';

const uploads = Number(process.argv[2] ?? 100_000);
const seconds = Number(process.argv[3] ?? 20);
const TICK_MS = 10;
const stat = (pid: number): readonly string[] | undefined => {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
};
const cpuMs = (pid: number): number => {
  const f = stat(pid);
  return f === undefined ? 0 : (Number(f[11]) + Number(f[12])) * TICK_MS;
};
/** CPU ms of `root` and its children. */
const treeCpuMs = (root: number): number => {
  let sum = cpuMs(root);
  for (const d of readdirSync('/proc')) if (Number(stat(Number(d))?.[1]) === root) sum += cpuMs(Number(d));
  return sum;
};

const cluster = await openPgCluster('a28-ushare-read-');
const { sql, signal } = cluster;
try {
  const postmaster = Number(stat(Number((await sql<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`)[0]?.pid))?.[1]);
  const server = await cluster.start(['--max-data-bytes', String(2 ** 40)]);
  const mallory = await session(server.port, 'mallory', signal);
  const bob = await session(server.port, 'bob', signal);
  for (let t = 0; t < 10; t++) await mallory.request('CRT', [`m${t}`]);
  await bob.request('CRT', ['b']);
  const t0 = Date.now();
  await sql`INSERT INTO uploads (thread, filename, uploader, size, committed)
            SELECT 'm' || (g % 10), 'old' || g, 'mallory', 1, true FROM generate_series(1, ${uploads}) g`;
  await sql`ANALYZE uploads`;
  console.log(`${uploads} committed uploads of mallory's written in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const run = async (s: Session, name: string, threads: readonly string[]): Promise<void> => {
    const until = Date.now() + seconds * 1000;
    let ok = 0;
    let other = '';
    let n = 0;
    const pg0 = treeCpuMs(postmaster);
    const t = Date.now();
    await Promise.all(
      [0, 1, 2, 3].map(async (w) => {
        while (Date.now() < until) {
          const g = await s.request('UPD', [threads[n % threads.length] ?? 'b', `new${w}-${n++}`]);
          const a = g.data.kind === 'transfer' ? (await uploadAnswer(s, g, Buffer.from('x'), signal)).trim() : g.lines.join('|');
          if (a === 'OK') ok++;
          else other ||= a;
        }
      }),
    );
    const secs = (Date.now() - t) / 1000;
    const pg = treeCpuMs(postmaster) - pg0;
    console.log(`${name}: ${ok} uploads in ${secs.toFixed(1)} s (${(ok / secs).toFixed(1)}/s); PostgreSQL ${pg} ms (${((pg / 1000 / secs) * 100).toFixed(0)} % of a core, ${(pg / Math.max(1, ok)).toFixed(2)} ms an upload)${other === '' ? '' : `; other: ${other}`}`);
  };
  await run(bob, 'bob (no uploads before)', ['b']);
  await run(mallory, `mallory (${uploads} uploads before)`, Array.from({ length: 10 }, (_, i) => `m${i}`));
  await run(bob, 'bob again', ['b']);
  const plan = await sql.unsafe<{ 'QUERY PLAN': string }[]>(
    `EXPLAIN ANALYZE SELECT COALESCE((SELECT sum(size) FROM uploads WHERE uploader = $1 AND committed), 0)
       + COALESCE((SELECT sum(octet_length(c.data)) FROM upload_chunks c JOIN uploads u ON u.id = c.upload_id WHERE u.uploader = $1 AND NOT u.committed), 0)`,
    ['mallory'],
  );
  console.log(plan.map((r) => r['QUERY PLAN']).filter((l) => /Execution/.test(l)).join(''));
} finally {
  await cluster.close();
}
