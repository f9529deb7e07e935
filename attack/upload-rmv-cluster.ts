/**
 * Attack round 23: uploads on one forum-server while the other removes and remakes their thread, on one PostgreSQL.
 * Real processes on loopback: an embedded PostgreSQL and two built forum-servers (`--store`).
 *
 *   npx tsx attack/upload-rmv-cluster.ts [seconds=20] [uploaders=4] [KiB=64]
 *
 * Account `o` on server 1 loops CRT t, then RMV t after 0–100 ms. Meanwhile `uploaders` accounts on server 0
 * each loop UPD t F and, granted, send `KiB` KiB. Every answer is tallied (names taken out). An upload that
 * meets the RMV must be refused with the line for a missing thread (SECURITY.md: "A transfer is bound to the
 * thread it was granted for"), never with "could not complete the upload, please try again". At the end
 * (the thread made once more and its uploads listed), every upload line must have its committed row and its
 * bytes must download whole.
 */
import { randomBytes } from 'node:crypto';
import { download, session, uploadAnswer, type Session } from './forum-raw.js';
import { sleep } from './frame-lib.js';
import { openPgCluster, type ClusterServer } from './lib-pg-cluster.js';

const seconds = Number(process.argv[2] ?? 20);
const uploaders = Number(process.argv[3] ?? 4);
const kib = Number(process.argv[4] ?? 64);

const cluster = await openPgCluster('a23-rmv-');
const { sql, signal } = cluster;
type Proc = ClusterServer;
const problems: string[] = [];
const tally = new Map<string, number>();
const count = (what: string): void => void tally.set(what, (tally.get(what) ?? 0) + 1);
/** An answer with the thread's and files' names taken out. */
const shape = (line: string): string => line.trim().replace(/\bf\d+-\d+\b/g, 'F').replace(/\bt\b/g, 'T');

try {
  const [p0, p1] = (await cluster.startAll(2, ['--request-rate', '0'])) as [Proc, Proc];
  const owner = await session(p1.port, 'o', signal);
  const users: Session[] = [];
  for (let i = 0; i < uploaders; i++) users.push(await session(p0.port, `u${i}`, signal));
  const body = randomBytes(kib * 1024);
  const until = Date.now() + seconds * 1000;
  let cycles = 0;
  const remover = async (): Promise<void> => {
    while (Date.now() < until) {
      await owner.request('CRT', ['t']);
      await sleep(Math.floor(Math.random() * 101));
      await owner.request('RMV', ['t']);
      cycles++;
    }
  };
  const uploader = async (u: Session, w: number): Promise<void> => {
    for (let i = 0; Date.now() < until; i++) {
      const r = await u.request('UPD', ['t', `f${w}-${i}`]);
      if (r.data.kind !== 'transfer') {
        count(`UPD: ${shape(r.lines.join('|'))}`);
        // The thread is between RMV and CRT: asked again at once would only spin.
        await sleep(2);
        continue;
      }
      const answer = await uploadAnswer(u, r, body, signal);
      count(`upload: ${shape(answer) || '(closed without an answer)'}`);
      // The transfer port's per-host cap (more than 16 uploaders from this one address, a burst evicting its oldest)
      // says "try again later" in clear: no RMV in it. forum-raw reported it as '' before it read the channel's error.
      if (/could not complete|try again/i.test(answer) && !answer.startsWith('(in clear) ERR too many transfers at once')) problems.push(`f${w}-${i}: ${answer.trim()}`);
    }
  };
  await Promise.all([remover(), ...users.map((u, w) => uploader(u, w))]);
  // Once more, kept: what lands in it must be whole.
  await owner.request('CRT', ['t']);
  const kept: string[] = [];
  await Promise.all(
    users.map(async (u, w) => {
      const r = await u.request('UPD', ['t', `last${w}`]);
      if ((await uploadAnswer(u, r, body, signal)) === 'OK\n') kept.push(`last${w}`);
    }),
  );
  const lines = (await owner.request('RDT', ['t'])).lines;
  const listed = lines.flatMap((l) => /^\S+ uploaded (\S+)$/.exec(l)?.[1] ?? []);
  const rows = await sql<{ filename: string }[]>`SELECT filename FROM uploads WHERE thread = 't' AND committed`;
  if ([...listed].sort().join() !== rows.map((r) => r.filename).sort().join()) problems.push(`listed ${listed.join(',')} but committed ${rows.map((r) => r.filename).join(',')}`);
  if ([...kept].sort().join() !== [...listed].sort().join()) problems.push(`answered OK ${kept.join(',')} but listed ${listed.join(',')}`);
  for (const f of listed) {
    const got = await download(owner, await owner.request('DWN', ['t', f]), signal);
    if (!(got instanceof Buffer) || !got.equals(body)) problems.push(`DWN ${f}: ${got instanceof Buffer ? `${got.length} bytes, not the ones sent` : got}`);
  }
  const [left] = await sql<{ pending: number }[]>`SELECT count(*)::int AS pending FROM uploads WHERE NOT committed`;
  console.log(`${seconds} s, ${cycles} CRT/RMV cycles on server 1, ${uploaders} uploaders of ${kib} KiB on server 0:`);
  for (const [what, n] of [...tally].sort((a, b) => b[1] - a[1])) console.log(`  ${n} × ${what}`);
  console.log(`end: ${listed.length} uploads listed, each committed and whole; pending rows left ${left?.pending}`);
  console.log(problems.length === 0 ? 'HELD: no problem found' : `PROBLEMS (${problems.length}):\n  ${problems.slice(0, 10).join('\n  ')}`);
} finally {
  await cluster.close();
}
