/**
 * Attack round 17, item 2: two uploads whose names are one name, committed at the same instant, against the built
 * server's data directory (identity wrapper and file store), from one account pipelining or from two accounts.
 *
 *   npx tsx attack/upload-collide.ts [rounds=30] [bytes=20000]
 *
 * Each round, every pair below is granted first (both UPDs answered with a token), then both bodies are sent at once:
 *   same     one account, the same name twice (`x<i>.txt` to `t<i>`: two tokens of one session);
 *   case     two accounts, `y<i>.txt` and `Y<i>.TXT` to `t<i>`;
 *   fold     two accounts, `straße<i>` and `STRASSE<i>` (full case folding: one name) to `t<i>`;
 *   cross    two accounts, upload `q-r<i>` of thread `p<i>` and upload `r<i>` of thread `p<i>-q`: both stored
 *            `p<i>-q-r<i>`, one file;
 *   crosscase  the same with `P<i>-Q` and `R<i>`.
 * For each pair: how often both were answered OK (a lost or doubled file), one, or none. At the end: every upload line
 * of every thread (RDT) has its file and its bytes (DWN), and no two files of the directory share a case-folded form.
 */
import { setMaxListeners } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { download, session, startServer, upload, type Session } from './forum-raw.js';

const rounds = Number(process.argv[2] ?? 30);
const size = Number(process.argv[3] ?? 20_000);
const fold = (s: string): string => s.normalize('NFKC').toUpperCase().toLowerCase();
const dir = await mkdtemp(join(tmpdir(), 'a17-collide-'));
const port = 40_000 + Math.floor(Math.random() * 20_000);
const server = await startServer(dir, port, port + 1, ['--min-free-bytes', '0']);
const abort = new AbortController();
setMaxListeners(0, abort.signal);
const [a, b] = (await Promise.all(['a', 'b'].map((u) => session(port, u, abort.signal)))) as [Session, Session];
const tally = new Map<string, { both: number; one: number; none: number; refusals: Set<string> }>();
const body = (tag: string): Buffer => Buffer.concat([Buffer.from(`${tag}\n`), Buffer.alloc(size - tag.length - 1, tag.charCodeAt(0))]);
const expected = new Map<string, Buffer>(); // `thread\0file` -> bytes its winner sent

const pair = async (kind: string, s1: Session, t1: string, f1: string, s2: Session, t2: string, f2: string): Promise<void> => {
  const [g1, g2] = await Promise.all([s1.request('UPD', [t1, f1]), s2.request('UPD', [t2, f2])]);
  const b1 = body(`1${kind}${t1}${f1}`);
  const b2 = body(`2${kind}${t2}${f2}`);
  const [ok1, ok2] = await Promise.all([upload(s1, g1, b1, abort.signal), upload(s2, g2, b2, abort.signal)]);
  const t = tally.get(kind) ?? { both: 0, one: 0, none: 0, refusals: new Set<string>() };
  tally.set(kind, t);
  if (ok1 && ok2) t.both++;
  else if (ok1 || ok2) t.one++;
  else t.none++;
  for (const g of [g1, g2]) if (g.data.kind !== 'transfer') t.refusals.add(g.lines.join('|'));
  if (ok1) expected.set(`${t1}\0${f1}`, b1);
  if (ok2) expected.set(`${t2}\0${f2}`, b2);
};

const t0 = performance.now();
try {
  for (let i = 0; i < rounds; i++) {
    await a.request('CRT', [`t${i}`]);
    await a.request('CRT', [`p${i}`]);
    await b.request('CRT', [`p${i}-q`]);
    await a.request('CRT', [`P${i}x`]);
    await b.request('CRT', [`P${i}x-Q`]);
    await Promise.all([
      pair('same', a, `t${i}`, `x${i}.txt`, a, `t${i}`, `x${i}.txt`),
      pair('case', a, `t${i}`, `y${i}.txt`, b, `t${i}`, `Y${i}.TXT`),
      pair('fold', a, `t${i}`, `straße${i}`, b, `t${i}`, `STRASSE${i}`),
      pair('cross', a, `p${i}`, `q-r${i}`, b, `p${i}-q`, `r${i}`),
      pair('crosscase', a, `P${i}x`, `q-R${i}`, b, `P${i}x-Q`, `r${i}`),
    ]);
  }
  console.log(`${rounds} rounds in ${((performance.now() - t0) / 1000).toFixed(1)} s, ${size}-byte bodies`);
  for (const [kind, t] of tally) console.log(`${kind}: both OK ${t.both}, one ${t.one}, none ${t.none}${t.refusals.size > 0 ? `; refused at UPD: ${[...t.refusals].slice(0, 3).join(' / ')}` : ''}`);
  // Every upload line has its file, with the winner's bytes.
  let lines = 0;
  let wrong = 0;
  const lst = await a.request('LST', []);
  for (const title of lst.lines) {
    const rdt = await a.request('RDT', [title]);
    for (const l of rdt.lines) {
      const m = /^[^ ]+ uploaded (.+)$/.exec(l);
      if (m === null) continue;
      lines++;
      const got = await download(a, await a.request('DWN', [title, m[1] as string]), abort.signal);
      const want = expected.get(`${title}\0${m[1]}`);
      if (!(got instanceof Buffer) || want === undefined || !got.equals(want)) {
        wrong++;
        if (wrong <= 5) console.log(`  ${title} / ${m[1]}: ${got instanceof Buffer ? `${got.length} bytes, ${want === undefined ? 'no OK for it' : 'not the bytes sent'}` : got}`);
      }
    }
  }
  const files = (await readdir(dir)).filter((f) => !f.startsWith('.'));
  const folded = new Map<string, string[]>();
  for (const f of files) folded.set(fold(f), [...(folded.get(fold(f)) ?? []), f]);
  const clashes = [...folded.values()].filter((v) => v.length > 1);
  console.log(`upload lines ${lines}, of them wrong or missing ${wrong}; OKs ${expected.size}; files ${files.length}; case-folded clashes ${clashes.length}${clashes.length > 0 ? ` (${clashes.slice(0, 3).map((c) => c.join(' = ')).join(', ')})` : ''}`);
  const temps = (await readdir(dir)).filter((f) => f.startsWith('.') && f !== '.forum-server.lock' && f !== '.forum-server-identity');
  console.log(`dot files left: ${temps.length === 0 ? 'none' : temps.join(', ')}`);
} finally {
  abort.abort();
  server.child.kill('SIGTERM');
  await server.exited;
  await rm(dir, { recursive: true, force: true });
}
