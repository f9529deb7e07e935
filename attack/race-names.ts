/**
 * Attack round 8, angle 1 (continued): races on names and on upload room in the
 * data-directory store, from several accounts at once, against the built server.
 *
 *   npx tsx attack/race-names.ts [iterations=60]
 *
 * A. Spellings at once: accounts a and b send, in the same instant, CRT `Case<i>`
 *    and CRT `case<i>`; an UPD commit of file `x` to thread `up<i>` (stored
 *    `up<i>-x`) against CRT `UP<i>-X` by another account; and a 100-byte title
 *    with a 100-byte file name (a 201-byte stored name). After all, and after a
 *    restart: no two names in the directory may share their case-folded form,
 *    every upload line has its file.
 * B. Room that must come back: with --max-data-bytes 24 MB, each iteration starts
 *    an 8 MB upload sent in pieces, and while it is under way either its thread is
 *    removed (RMV), or its client resets the TCP connection, or a second account
 *    uploads 8 MB to another thread (the quota then holds both). At the end one
 *    upload of 23 MB (fits only if nothing leaked) must succeed, and no
 *    temporary file may remain.
 */
import { setMaxListeners } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { session, startServer, upload, type Session } from './forum-raw.js';
import { slowUpload } from './slow-upload.js';

const iterations = Number(process.argv[2] ?? 60);
const problems: string[] = [];
const fold = (s: string): string => s.normalize('NFKC').toUpperCase().toLowerCase();

const main = async (): Promise<void> => {
  const dir = await mkdtemp(join(tmpdir(), 'a8-race-'));
  const port = 40_000 + Math.floor(Math.random() * 20_000);
  // Each account's share of the quota (round 27's follow-up) as large as the quota: the forum-wide room is what is measured.
  const extra = ['--max-data-bytes', String(24_000_000), '--max-data-bytes-per-user', String(24_000_000), '--min-free-bytes', '0'];
  let server = await startServer(dir, port, port + 1, extra);
  const abort = new AbortController();
  setMaxListeners(0, abort.signal);
  const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((u) => session(port, u, abort.signal))) as [Session, Session, Session];
  // A.
  let crtBoth = 0;
  const uploadVsCrt = { upload: 0, crt: 0, both: 0 };
  for (let i = 0; i < iterations; i++) {
    const [r1, r2] = await Promise.all([a.request('CRT', [`Case${i}`]), b.request('CRT', [`case${i}`])]);
    if (r1.lines[0]?.endsWith('created') && r2.lines[0]?.endsWith('created')) crtBoth++;
    await c.request('CRT', [`up${i}`]);
    const g = await c.request('UPD', [`up${i}`, 'x']);
    const [okUp, crt] = await Promise.all([upload(c, g, Buffer.from(`c\n1 c: looks like a thread ${i}\n`), abort.signal), b.request('CRT', [`UP${i}-X`])]);
    const crtOk = crt.lines[0]?.endsWith('created') === true;
    if (okUp && crtOk) uploadVsCrt.both++;
    else if (okUp) uploadVsCrt.upload++;
    else if (crtOk) uploadVsCrt.crt++;
  }
  const long = 'L'.repeat(100);
  const longFile = 'f'.repeat(96) + '.bin';
  await a.request('CRT', [long]);
  const gl = await a.request('UPD', [long, longFile]);
  const longOk = await upload(a, gl, Buffer.from('long name'), abort.signal);
  if (!longOk) problems.push('A: the 201-byte stored name was refused');

  // B.
  const outcomes = new Map<string, number>();
  const tally = (k: string): void => void outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
  const SIZE = 8_000_000;
  for (let i = 0; i < Math.min(iterations, 30); i++) {
    const kind = ['rmv', 'reset', 'parallel'][i % 3] as 'rmv' | 'reset' | 'parallel';
    await a.request('CRT', [`q${i}`]);
    const g = await a.request('UPD', [`q${i}`, 'big.bin']);
    let rmvSent = false;
    const up = slowUpload(a, g, SIZE, 16, 15, (piece) => kind === 'reset' && piece === 8);
    let other: Promise<string> | undefined;
    if (kind === 'parallel') {
      await b.request('CRT', [`qb${i}`]);
      other = slowUpload(b, await b.request('UPD', [`qb${i}`, 'big.bin']), SIZE, 16, 15, () => false);
    }
    if (kind === 'rmv') {
      await new Promise((r) => setTimeout(r, 100));
      rmvSent = true;
      const r = await a.request('RMV', [`q${i}`]);
      if (r.lines[0] !== `Thread q${i} removed`) problems.push(`B: RMV ${r.lines.join('|')}`);
    }
    const answer = await up;
    tally(`${kind}: ${answer.slice(0, 60)}`);
    if (answer.includes('quota')) console.error(`iteration ${i} (${kind}): ${answer}`);
    if (other !== undefined) {
      const o = await other;
      tally(`parallel other: ${o.slice(0, 60)}`);
      if (o !== 'OK') console.error(`iteration ${i}: ${o}`);
    }
    // Make room for the next: remove what was stored.
    if (!rmvSent) await a.request('RMV', [`q${i}`]);
    if (kind === 'parallel') await b.request('RMV', [`qb${i}`]);
  }
  await a.request('CRT', ['final']);
  const final = await slowUpload(a, await a.request('UPD', ['final', 'f.bin']), 23_000_000, 4, 0, () => false);
  if (final !== 'OK') problems.push(`B: the final 23 MB upload (fits only if no room leaked): ${final}`);
  const check = async (when: string): Promise<void> => {
    const names = (await readdir(dir)).filter((n) => !n.startsWith('.forum-server'));
    for (const n of names) if (n.startsWith('.forum-')) problems.push(`${when}: left behind ${n}`);
    const byFold = new Map<string, string>();
    for (const n of names) {
      const other = byFold.get(fold(n));
      if (other !== undefined) problems.push(`${when}: ${n} and ${other} are one name`);
      byFold.set(fold(n), n);
    }
    for (const n of names) {
      if (n.startsWith('.') || n === 'credentials.txt' || n.includes('-')) continue;
      const lines = (await readFile(join(dir, n), 'utf8')).split('\n');
      for (const l of lines) {
        const m = /^\S+ uploaded (\S+)$/.exec(l);
        if (m !== null && !names.includes(`${n}-${m[1]}`)) problems.push(`${when}: ${n} lists ${m[1]}, file missing`);
      }
    }
  };
  await check('running');
  // With A8_DEBUG and a server build that logs its quota walks (see README-8.md), their durations.
  if (process.env.A8_DEBUG !== undefined) console.error(server.out.split('\n').filter((l) => l.includes('A8') || l.includes('quota')).join('\n'));
  abort.abort();
  server.child.kill('SIGKILL');
  await server.exited;
  server = await startServer(dir, port, port + 1, extra);
  for (const l of server.out.split('\n')) if (/Warning/.test(l)) problems.push(`restart: ${l}`);
  await check('after restart');
  server.child.kill('SIGTERM');
  await server.exited;
  console.log(`A: both spellings created ${crtBoth} of ${iterations}; upload vs CRT of one stored name: ${JSON.stringify(uploadVsCrt)}`);
  console.log(`B: ${JSON.stringify(Object.fromEntries(outcomes))}; final 23 MB upload: ${final}`);
  console.log(problems.length === 0 ? 'HELD: no problem found' : `PROBLEMS:\n${problems.join('\n')}`);
  await rm(dir, { recursive: true, force: true });
};
await main();
process.exit(0);
