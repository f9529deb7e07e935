/**
 * Attack round 8, angle 1: the data-directory store under concurrency from
 * several accounts on the SAME threads (e2e-crash.test.ts has each user on
 * threads of their own), then SIGKILL mid-burst and a restart. Checks what
 * clients were told against what is on disk.
 *
 *   npx tsx attack/shared-crash.ts [rounds=10] [seed=1]
 *
 * Per round, on a fresh data directory: an owner creates shared threads S0–S2;
 * then at once, until the kill:
 *   - 4 posters (one session each) pipeline MSGs with unique texts to S0–S2;
 *   - an editor, whose 12 messages open S0, EDTs and DLTs them one at a time
 *     (its own messages come first, so their numbers never shift);
 *   - an uploader uploads files to S1 and S2 (some text that reads as a thread);
 *   - a downloader downloads the uploader's acked files;
 *   - a churner CRTs R-k, MSGs it, uploads to it, downloads, and RMVs it while
 *     the download may still run.
 * Killed at a random 0.3–3 s; restarted on the same port; then every thread
 * file must parse with numbers 1..n, an acked MSG must be there exactly once
 * (an unacked one at most once, each poster's in send order), the editor's
 * messages must be its acked state or that plus its one pending change, every
 * upload line must have its file with exactly the bytes sent and every upload
 * file its line, an acked RMV must have left nothing, and no temporary,
 * intent or journal file may remain. The restarted server must log nothing
 * but recovery lines, and take a MSG on each thread.
 */
import { setMaxListeners } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { download, session, startServer, upload, type Session } from './forum-raw.js';
const rounds = Number(process.argv[2] ?? 10);
let seed = Number(process.argv[3] ?? 1);
const rand = (): number => {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed / 2 ** 32;
};
const bytesOf = (n: number): Buffer => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
};

interface PosterLog {
  readonly user: string;
  readonly sent: { thread: string; text: string; acked: boolean }[];
}
interface EditorLog {
  /** Texts of the editor's messages after each acked op; `pending` the state an unacked op would make. */
  acked: string[];
  pending: string[] | undefined;
}
interface UploadLog {
  readonly thread: string;
  readonly filename: string;
  readonly bytes: Buffer;
  state: 'sent' | 'acked' | 'refused';
}
interface ChurnLog {
  readonly title: string;
  rmv: 'none' | 'sent' | 'acked';
  crtAcked: boolean;
}

const problems: string[] = [];
const stats = { rounds: 0, ackedMsgs: 0, unackedMsgs: 0, edits: 0, uploads: 0, downloadsOk: 0, downloadsAborted: 0, rmvs: 0, recoveredLines: 0, wrongDownloads: 0 };

const runRound = async (round: number): Promise<void> => {
  const dir = await mkdtemp(join(tmpdir(), 'a8-crash-'));
  // A random port may be taken by another process: try others.
  let port = 0;
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  for (let attempt = 0; server === undefined; attempt++) {
    port = 40_000 + Math.floor(rand() * 20_000);
    server = await startServer(dir, port, port + 1).catch((e: unknown) => {
      if (attempt >= 5 || !String(e).includes('EADDRINUSE')) throw e;
      return undefined;
    });
  }
  const tcp = port + 1;
  const abort = new AbortController();
  const { signal } = abort;
  setMaxListeners(0, signal);
  let killed = false;
  const owner = await session(port, 'owner', signal);
  for (const t of ['S0', 'S1', 'S2']) await owner.request('CRT', [t]);
  const editor = await session(port, 'editor', signal);
  const editorLog: EditorLog = { acked: [], pending: undefined };
  for (let i = 0; i < 12; i++) {
    const text = `e-${i}-orig`;
    await editor.request('MSG', ['S0', text]);
    editorLog.acked.push(text);
  }
  const posters: PosterLog[] = ['p1', 'p2', 'p3', 'p4'].map((user) => ({ user, sent: [] }));
  const uploads: UploadLog[] = [];
  const churns: ChurnLog[] = [];
  const sessions = await Promise.all(['p1', 'p2', 'p3', 'p4', 'up', 'down', 'churn'].map((u) => session(port, u, signal)));
  const [s1, s2, s3, s4, up, down, churn] = sessions as [Session, Session, Session, Session, Session, Session, Session];

  const posterLoop = async (s: Session, log: PosterLog): Promise<void> => {
    let n = 0;
    while (!signal.aborted) {
      const batch = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => {
        const entry = { thread: `S${Math.floor(rand() * 3)}`, text: `${log.user}-${++n}-${'x'.repeat(Math.floor(rand() * 300))}`, acked: false };
        log.sent.push(entry);
        return s.request('MSG', [entry.thread, entry.text]).then((r) => {
          if (r.lines[0]?.startsWith('Message posted')) entry.acked = true;
          else problems.push(`round ${round}: MSG refused ${r.lines.join('|')}`);
        });
      });
      await Promise.all(batch).catch(() => undefined);
    }
  };
  const editorLoop = async (): Promise<void> => {
    let k = 0;
    while (!signal.aborted) {
      const cur = editorLog.acked;
      if (cur.length === 0) break;
      const doDelete = rand() < 0.25 && cur.length > 3;
      const pickAt = Math.floor(rand() * cur.length);
      const edited = `e-${pickAt}-ed${++k}-${'y'.repeat(Math.floor(rand() * 2000))}`;
      const next = doDelete ? cur.slice(0, -1) : cur.map((t, i) => (i === pickAt ? edited : t));
      let at = next.findIndex((t, i) => t !== cur[i]);
      if (doDelete) at = cur.length - 1;
      if (at < 0) continue;
      editorLog.pending = next;
      const r = await (doDelete ? editor.request('DLT', ['S0', String(at + 1)]) : editor.request('EDT', ['S0', String(at + 1), next[at] as string])).catch(() => undefined);
      if (r === undefined) return;
      if (r.lines[0] === 'The message has been edited' || r.lines[0] === 'The message has been deleted') {
        editorLog.acked = next;
        stats.edits++;
      } else problems.push(`round ${round}: editor ${doDelete ? 'DLT' : 'EDT'} ${at + 1}: ${r.lines.join('|')}`);
      editorLog.pending = undefined;
    }
  };
  const uploadLoop = async (): Promise<void> => {
    let n = 0;
    while (!signal.aborted) {
      const thread = rand() < 0.5 ? 'S1' : 'S2';
      const text = rand() < 0.3;
      const filename = `f${++n}.${text ? 'txt' : 'bin'}`;
      const bytes = text ? Buffer.from(`up\n1 up: not a thread ${n}\n`) : bytesOf(1 + Math.floor(rand() * 200_000));
      const log: UploadLog = { thread, filename, bytes, state: 'sent' };
      uploads.push(log);
      const r = await up.request('UPD', [thread, filename]).catch(() => undefined);
      if (r === undefined) return;
      if (r.data.kind !== 'transfer') {
        log.state = 'refused';
        problems.push(`round ${round}: UPD refused ${r.lines.join('|')}`);
        continue;
      }
      if (await upload(up, r, bytes, signal)) {
        log.state = 'acked';
        stats.uploads++;
      } else if (!signal.aborted) log.state = 'refused';
    }
  };
  const downloadLoop = async (): Promise<void> => {
    while (!signal.aborted) {
      const done = uploads.filter((u) => u.state === 'acked');
      const pick = done[Math.floor(rand() * done.length)];
      if (pick === undefined) {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      const r = await down.request('DWN', [pick.thread, pick.filename]).catch(() => undefined);
      if (r === undefined) return;
      const got = await download(down, r, signal);
      if (signal.aborted || killed) return;
      if (typeof got === 'string') problems.push(`round ${round}: DWN ${pick.thread} ${pick.filename}: ${got}`);
      else if (!got.equals(pick.bytes)) {
        stats.wrongDownloads++;
        problems.push(`round ${round}: DWN ${pick.filename} returned other bytes`);
      } else stats.downloadsOk++;
    }
  };
  const churnLoop = async (): Promise<void> => {
    let k = 0;
    while (!signal.aborted) {
      const log: ChurnLog = { title: `R-${++k}`, rmv: 'none', crtAcked: false };
      churns.push(log);
      try {
        const c = await churn.request('CRT', [log.title]);
        if (!c.lines[0]?.endsWith('created')) throw new Error(c.lines.join('|'));
        log.crtAcked = true;
        await churn.request('MSG', [log.title, `churn ${k}`]);
        const bytes = bytesOf(50_000 + Math.floor(rand() * 400_000));
        const u = await churn.request('UPD', [log.title, 'x.bin']);
        const okUp = await upload(churn, u, bytes, signal);
        if (!okUp) continue;
        const d = await churn.request('DWN', [log.title, 'x.bin']);
        const dl = download(churn, d, signal);
        // RMV while the download runs (or right after).
        log.rmv = 'sent';
        const r = await churn.request('RMV', [log.title]);
        if (r.lines[0] === `Thread ${log.title} removed`) {
          log.rmv = 'acked';
          stats.rmvs++;
        } else problems.push(`round ${round}: RMV ${r.lines.join('|')}`);
        const got = await dl;
        if (typeof got === 'string') stats.downloadsAborted++;
        else if (!got.equals(bytes)) problems.push(`round ${round}: churn download had other bytes`);
      } catch {
        return;
      }
    }
  };
  const loops = Promise.all([
    posterLoop(s1, posters[0] as PosterLog),
    posterLoop(s2, posters[1] as PosterLog),
    posterLoop(s3, posters[2] as PosterLog),
    posterLoop(s4, posters[3] as PosterLog),
    editorLoop(),
    uploadLoop(),
    downloadLoop(),
    churnLoop(),
  ]).catch((e: unknown) => problems.push(`round ${round}: loop threw ${String(e)}`));
  await new Promise((r) => setTimeout(r, 300 + Math.floor(rand() * 2700)));
  killed = true;
  server.child.kill('SIGKILL');
  await server.exited;
  // Replies already on their way count (acked before the kill); wait a moment for them, then abort.
  await new Promise((r) => setTimeout(r, 30));
  abort.abort();
  await loops;
  const killOut = server.out;

  server = await startServer(dir, port, tcp);
  const restartLog = server.out.split('\n').filter((l) => l !== '');
  for (const l of restartLog) {
    if (/Warning|error|Error/.test(l)) problems.push(`round ${round}: restart said: ${l}`);
    if (/undid|finished|kept the upload|Recovered|recovered/.test(l)) stats.recoveredLines++;
  }
  const names = await readdir(dir);
  for (const n of names) if (n.startsWith('.forum-') && n !== '.forum-server-identity' && n !== '.forum-server.lock') problems.push(`round ${round}: left behind ${n}`);
  const files = new Map<string, Buffer>();
  for (const n of names) if (!n.startsWith('.')) files.set(n, await readFile(join(dir, n)));
  // Threads: every file listed with a creator line is a thread (uploads are named T-F).
  const uploadFiles = new Set<string>();
  const threadLines = new Map<string, string[]>();
  for (const [name, bytes] of files) {
    if (name === 'credentials.txt') continue;
    const isThread = ['S0', 'S1', 'S2'].includes(name) || /^R-[0-9]+$/.test(name);
    if (!isThread) {
      uploadFiles.add(name);
      continue;
    }
    const text = bytes.toString('utf8');
    if (!text.endsWith('\n')) problems.push(`round ${round}: ${name} has no final newline`);
    const lines = text.slice(0, -1).split('\n');
    let n = 0;
    for (const l of lines.slice(1)) {
      const m = /^([0-9]+) (\S+): (.*)$/.exec(l);
      if (m !== null) {
        if (Number(m[1]) !== ++n) problems.push(`round ${round}: ${name} message numbered ${m[1]}, expected ${n}`);
      } else if (!/^\S+ uploaded \S+$/.test(l)) problems.push(`round ${round}: ${name} bad line ${JSON.stringify(l.slice(0, 80))}`);
    }
    threadLines.set(name, lines.slice(1));
  }
  const messagesOf = (thread: string, user: string): string[] =>
    (threadLines.get(thread) ?? []).flatMap((l) => {
      const m = /^[0-9]+ (\S+): (.*)$/.exec(l);
      return m !== null && m[1] === user ? [m[2] as string] : [];
    });
  // Posters.
  for (const p of posters) {
    for (const t of ['S0', 'S1', 'S2']) {
      const onDisk = messagesOf(t, p.user);
      const sent = p.sent.filter((e) => e.thread === t);
      const counts = new Map<string, number>();
      for (const x of onDisk) counts.set(x, (counts.get(x) ?? 0) + 1);
      for (const e of sent) {
        const c = counts.get(e.text) ?? 0;
        if (e.acked) stats.ackedMsgs++;
        else stats.unackedMsgs++;
        if (e.acked && c !== 1) problems.push(`round ${round}: acked MSG ${e.text.slice(0, 12)} on ${t} found ${c} times`);
        if (!e.acked && c > 1) problems.push(`round ${round}: unacked MSG ${e.text.slice(0, 12)} found ${c} times`);
      }
      const order = sent.map((e) => e.text).filter((x) => counts.has(x));
      if (order.join('\n') !== onDisk.join('\n')) problems.push(`round ${round}: ${p.user} on ${t}: messages out of order or unknown`);
    }
  }
  // Editor.
  const ed = messagesOf('S0', 'editor');
  const same = (a: readonly string[], b: readonly string[] | undefined): boolean => b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
  if (!same(ed, editorLog.acked) && !same(ed, editorLog.pending)) problems.push(`round ${round}: editor state ${ed.length} msgs matches neither acked (${editorLog.acked.length}) nor pending`);
  // Uploads on S1/S2.
  for (const t of ['S1', 'S2']) {
    const listed = (threadLines.get(t) ?? []).flatMap((l) => /^up uploaded (\S+)$/.exec(l)?.slice(1, 2) ?? []);
    for (const f of listed) {
      const name = `${t}-${f}`;
      const log = uploads.find((u) => u.thread === t && u.filename === f);
      const bytes = files.get(name);
      if (bytes === undefined) problems.push(`round ${round}: ${t} lists ${f} but ${name} is missing`);
      else if (log === undefined || !bytes.equals(log.bytes)) problems.push(`round ${round}: ${name} holds other bytes`);
      uploadFiles.delete(name);
    }
    for (const u of uploads.filter((x) => x.thread === t && x.state === 'acked')) if (!listed.includes(u.filename)) problems.push(`round ${round}: acked upload ${t}-${u.filename} missing`);
  }
  // Churn threads.
  for (const c of churns) {
    const has = threadLines.has(c.title);
    if (c.rmv === 'acked' && has) problems.push(`round ${round}: ${c.title} RMV acked but thread on disk`);
    if (has) {
      for (const l of threadLines.get(c.title) ?? []) {
        const m = /^churn uploaded (\S+)$/.exec(l);
        if (m === null) continue;
        if (!files.has(`${c.title}-${m[1]}`)) problems.push(`round ${round}: ${c.title} lists ${m[1]}, file missing`);
        uploadFiles.delete(`${c.title}-${m[1]}`);
      }
    }
    if (c.crtAcked && c.rmv === 'none' && !has) problems.push(`round ${round}: ${c.title} CRT acked, thread gone`);
  }
  for (const f of uploadFiles) problems.push(`round ${round}: upload file ${f} without a thread line (or unknown file)`);
  // The restarted server takes a MSG on each thread.
  const restartAbort = new AbortController();
  const check = await session(port, 'p1', restartAbort.signal);
  for (const t of ['S0', 'S1', 'S2']) {
    const r = await check.request('MSG', [t, 'after restart']);
    if (!r.lines[0]?.startsWith('Message posted')) problems.push(`round ${round}: MSG after restart: ${r.lines.join('|')}`);
  }
  restartAbort.abort();
  server.child.kill('SIGTERM');
  await server.exited;
  stats.rounds++;
  console.log(
    `round ${round}: posters sent ${posters.reduce((n, p) => n + p.sent.length, 0)}, uploads ${uploads.length}, churn ${churns.length}, editor ops ${stats.edits}; restart: ${restartLog.filter((l) => /undid|finished|kept/.test(l)).join(' / ') || '-'}${killOut.includes('rror') ? ' [server errors before kill]' : ''}`,
  );
  await rm(dir, { recursive: true, force: true });
};

for (let r = 1; r <= rounds; r++) await runRound(r);
console.log(JSON.stringify(stats));
console.log(problems.length === 0 ? 'HELD: no problem found' : `PROBLEMS (${problems.length}):\n${[...new Set(problems)].slice(0, 60).join('\n')}`);
process.exit(0);
