/**
 * Attack round 9, angle 1b: uploads, edits, CRT and RMV across a takeover.
 * Server A is frozen (SIGSTOP) while 4 accounts stream paced uploads to it,
 * one edits its messages and one creates and removes threads; its lock is
 * deleted by hand (or, with `pidns`, it runs in a pid namespace of its own
 * and B waits for the lock to go stale); B starts, removes T2 (a thread A's
 * uploads target) and makes it again, uploads to T1 under the name of an
 * upload A has in flight there, and creates the names A's churner uses; A
 * is continued. Then the directory is checked against what each client was
 * told.
 *
 *   npx tsx attack/fence-uploads.ts [rounds=3] [seed=1] [delete|pidns]
 *
 * Checks: every upload line has its file, holding the bytes of the upload
 * that was confirmed (A's before the freeze, A's after SIGCONT, B's); every
 * upload file has its line; a confirmed upload is there unless B removed its
 * thread; the T2 that B made again holds nothing of the old one; a CRT or
 * RMV B confirmed is what the directory shows; the editor's messages hold
 * its last confirmed text or the one it had in flight; nothing temporary,
 * no intent or journal is left; a third server opens the directory without
 * warnings or recovery.
 */
import { setMaxListeners } from 'node:events';
import { mkdtemp, readdir, readFile, rm, unlink } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deriveTransferKeys, SecureTransferChannel, sessionExporter, type Reply } from '../packages/forum-protocol/dist/index.js';
import { leftovers, longSession, sleep, startServer, threadProblems, type LongSession } from './fence-lib.js';

const rounds = Number(process.argv[2] ?? 3);
let seed = Number(process.argv[3] ?? 1);
const mode = process.argv[4] ?? 'delete';
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
  for (let i = 0; i < n; i += 4) b.writeUInt32LE(Math.floor(rand() * 2 ** 32), Math.min(i, n - 4));
  return b;
};

/** An upload sent in 16 pieces `gapMs` apart; resolves with the server's answer line (or why none). */
const pacedUpload = (s: LongSession, reply: Reply, bytes: Buffer, gapMs: number, signal: AbortSignal): Promise<string> =>
  new Promise((resolve) => {
    if (reply.data.kind !== 'transfer') return resolve(`no grant: ${reply.lines.join('|')}`);
    const { port, token } = reply.data;
    const socket = net.connect({ host: '127.0.0.1', port });
    let answer = '';
    let failure = '';
    let settled = false;
    const done = (): void => {
      if (settled) return;
      settled = true;
      resolve(answer !== '' ? answer.trim() : `<${failure || 'closed'}>`);
    };
    signal.addEventListener('abort', () => socket.destroy());
    socket.on('error', () => undefined);
    socket.on('close', () => setImmediate(done));
    socket.write(`${token}\n`);
    const ch = new SecureTransferChannel(socket, deriveTransferKeys(sessionExporter(s.conn), token), 'client');
    ch.on('error', (e) => (failure ||= e.message));
    ch.on('data', (b: Buffer) => (answer += b.toString()));
    ch.on('close', done);
    ch.write(`${bytes.length}\n`);
    const size = Math.ceil(bytes.length / 16);
    let i = 0;
    const next = (): void => {
      if (socket.destroyed) return;
      const piece = bytes.subarray(i * size, (i + 1) * size);
      if (i === 15) return void ch.end(piece);
      ch.write(piece);
      i++;
      setTimeout(next, gapMs);
    };
    next();
  });

interface Upload {
  readonly server: 'A' | 'B';
  readonly thread: string;
  readonly filename: string;
  readonly bytes: Buffer;
  state: 'sent' | 'confirmed' | 'refused';
  confirmedAfterCont: boolean;
}

const problems: string[] = [];
const totals = { rounds: 0, uploadsConfirmed: 0, uploadsConfirmedAfterCont: 0, uploadsInFlight: 0, edits: 0, crtRmv: 0, bOps: 0, bRefusedOnce: 0, broken: 0 };

const runRound = async (round: number): Promise<void> => {
  const say = (s: string): void => void problems.push(`round ${round}: ${s}`);
  const dir = await mkdtemp(join(tmpdir(), 'a9-fup-'));
  const portA = 41_000 + Math.floor(rand() * 9_000) * 2;
  const a = await startServer(dir, portA, { ownPidns: mode === 'pidns' });
  const abort = new AbortController();
  setMaxListeners(0, abort.signal);
  const owner = await longSession(portA, 'owner', abort.signal);
  for (const t of ['T0', 'T1', 'T2']) await owner.request('CRT', [t]);
  const editor = await longSession(portA, 'editor', abort.signal);
  // The editor's messages open T0: their numbers never shift. Per message: the confirmed text, and those sent
  // since without a confirmation (refused ones too: 'could not complete' may mean 'may or may not be stored').
  const edits: { confirmed: string; since: string[] }[] = [];
  for (let i = 0; i < 6; i++) {
    await editor.request('MSG', ['T0', `e${i}-0`]);
    edits.push({ confirmed: `e${i}-0`, since: [] });
  }
  let frozen = false;
  let continued = false;
  const uploads: Upload[] = [];
  const uploaders = await Promise.all(['u0', 'u1', 'u2', 'u3'].map((u) => longSession(portA, u, abort.signal)));
  const uploadLoops = uploaders.map(async (s, k) => {
    for (let n = 0; !frozen; n++) {
      const up: Upload = { server: 'A', thread: ['T1', 'T2'][n % 2] as string, filename: `u${k}f${n}.bin`, bytes: bytesOf(200_000 + Math.floor(rand() * 800_000)), state: 'sent', confirmedAfterCont: false };
      uploads.push(up);
      const r = await s.request('UPD', [up.thread, up.filename]).catch(() => undefined);
      if (r === undefined) return;
      const answer = await pacedUpload(s, r, up.bytes, 25 + Math.floor(rand() * 40), abort.signal);
      if (answer === 'OK') {
        up.state = 'confirmed';
        up.confirmedAfterCont = continued;
      } else up.state = 'refused';
    }
  });
  const editLoop = (async () => {
    for (let k = 1; !frozen; k++) {
      const i = Math.floor(rand() * edits.length);
      const e = edits[i];
      if (e === undefined) break;
      const text = `e${i}-${k}-${'y'.repeat(Math.floor(rand() * 300))}`;
      e.since.push(text);
      const r = await editor.request('EDT', ['T0', String(i + 1), text]).catch(() => undefined);
      if (r === undefined) return;
      if (r.lines[0] === 'The message has been edited') {
        e.confirmed = text;
        e.since = [];
        totals.edits++;
      }
    }
  })();
  const churner = await longSession(portA, 'churn', abort.signal);
  const churnLog: { title: string; op: 'CRT' | 'RMV'; ok: boolean | undefined }[] = [];
  const churnLoop = (async () => {
    for (let k = 0; !frozen; k++) {
      const title = `R${k % 6}`;
      const op: 'CRT' | 'RMV' = Math.floor(k / 6) % 2 === 0 ? 'CRT' : 'RMV';
      const entry = { title, op, ok: undefined as boolean | undefined };
      churnLog.push(entry);
      const r = await churner.request(op, [title]).catch(() => undefined);
      if (r === undefined) return;
      entry.ok = r.lines[0] === (op === 'CRT' ? `Thread ${title} created` : `Thread ${title} removed`);
      totals.crtRmv++;
    }
  })();
  await sleep(1200 + Math.floor(rand() * 800));
  process.kill(a.pid, 'SIGSTOP');
  frozen = true;
  const inFlight = uploads.filter((u) => u.state === 'sent');
  if (mode === 'delete') await unlink(join(dir, '.forum-server.lock'));
  const b = await startServer(dir, portA + 2, { waitMs: 45_000 }).catch((e: unknown) => {
    // A frozen server left behind would outlive the script: ended first.
    process.kill(a.pid, 'SIGKILL');
    a.child.kill('SIGKILL');
    throw e;
  });
  const bAbort = new AbortController();
  setMaxListeners(0, bAbort.signal);
  const bs = await longSession(portA + 2, 'bee', bAbort.signal);
  // What B was told, to check against the directory.
  // T2's creator (owner) removes it through B and makes it again.
  const bOwner = await longSession(portA + 2, 'owner', bAbort.signal);
  const bRmv = await bOwner.request('RMV', ['T2']);
  if (bRmv.lines[0] !== 'Thread T2 removed') say(`B's RMV T2: ${bRmv.lines.join('|')}`);
  const bCrt = await bOwner.request('CRT', ['T2']);
  if (bCrt.lines[0] !== 'Thread T2 created') say(`B's CRT T2: ${bCrt.lines.join('|')}`);
  // B uploads to T1 under the name of an upload A has in flight there (or a fresh name).
  const clash = inFlight.find((u) => u.thread === 'T1')?.filename ?? 'bee.bin';
  const bUp: Upload = { server: 'B', thread: 'T1', filename: clash, bytes: bytesOf(300_000), state: 'sent', confirmedAfterCont: false };
  uploads.push(bUp);
  const bGrant = await bs.request('UPD', ['T1', clash]);
  const bAnswer = await pacedUpload(bs, bGrant, bUp.bytes, 5, bAbort.signal);
  bUp.state = bAnswer === 'OK' ? 'confirmed' : 'refused';
  // B creates every churn name A used (an existing one is refused as existing).
  const bThreads = new Map<string, string>();
  for (let k = 0; k < 6; k++) bThreads.set(`R${k}`, (await bs.request('CRT', [`R${k}`])).lines[0] ?? '');
  // A wakes; its uploads in flight keep streaming.
  continued = true;
  process.kill(a.pid, 'SIGCONT');
  const aCode = await Promise.race([a.exited, sleep(45_000).then(() => 'running after 45 s' as const)]);
  if (aCode !== 3) say(`A ended with ${String(aCode)}`);
  await Promise.race([Promise.all([...uploadLoops, editLoop, churnLoop]), sleep(10_000)]);
  abort.abort();
  // Once A is gone, B serves on: a MSG to each thread, and a listing.
  // A file A changed late is refused once (B reads it again), then takes the retry.
  let retried = 0;
  for (const t of ['T0', 'T1', 'T2']) {
    let r = await bs.request('MSG', [t, `after ${t}`]);
    if (!r.lines[0]?.startsWith('Message posted')) {
      retried++;
      r = await bs.request('MSG', [t, `after ${t}`]);
    }
    if (!r.lines[0]?.startsWith('Message posted')) say(`B's MSG to ${t} after A stopped, twice: ${r.lines.join('|')}`);
  }
  bAbort.abort();
  b.child.kill('SIGTERM');
  await b.exited;
  const bErrors = b.out().split('\n').filter((l) => /Warning|rror/.test(l));
  // Expected: one refusal per file A changed late ('changed by another program'); anything else is a problem.
  for (const l of bErrors) if (!/changed by another program/.test(l)) say(`B said: ${l.slice(0, 200)}`);
  if (bErrors.length > retried) say(`B logged ${bErrors.length} errors for ${retried} refused MSGs: ${bErrors.join(' / ').slice(0, 300)}`);

  // The directory against what clients were told.
  const names = await readdir(dir);
  const files = new Map<string, Buffer>();
  for (const n of names) if (!n.startsWith('.') && n !== 'credentials.txt') files.set(n, await readFile(join(dir, n)));
  const threads = new Map<string, string>();
  for (const [n, bytes] of files) if (/^(T[0-2]|R[0-5])$/.test(n)) threads.set(n, bytes.toString('utf8'));
  for (const [t, text] of threads) for (const p of threadProblems(t, text)) say(p);
  const uploadFiles = new Set([...files.keys()].filter((n) => !threads.has(n)));
  for (const [t, text] of threads) {
    for (const m of text.matchAll(/^(\S+) uploaded (\S+)$/gm)) {
      const name = `${t}-${m[2] ?? ''}`;
      const file = files.get(name);
      const confirmed = uploads.filter((u) => u.thread === t && u.filename === m[2] && u.state === 'confirmed');
      if (file === undefined) say(`${t} lists ${m[2]} by ${m[1]}, file missing`);
      else if (confirmed.length > 0 && !confirmed.some((u) => file.equals(u.bytes))) say(`${name} holds bytes of no confirmed upload`);
      else if (confirmed.length === 0 && !uploads.some((u) => u.thread === t && u.filename === m[2] && file.equals(u.bytes))) say(`${name} holds bytes of no upload sent`);
      uploadFiles.delete(name);
    }
  }
  for (const f of uploadFiles) say(`upload file ${f} without a line`);
  for (const u of uploads.filter((x) => x.state === 'confirmed')) {
    // B removed T2 (and made it again) after A's uploads to it: only uploads confirmed by B count there.
    if (u.thread === 'T2' && u.server === 'A') {
      if ((threads.get('T2') ?? '').includes(` uploaded ${u.filename}`)) say(`A's upload ${u.filename} (confirmed${u.confirmedAfterCont ? ' after SIGCONT' : ''}) is in the T2 that B made again`);
      continue;
    }
    if (!(threads.get(u.thread) ?? '').includes(` uploaded ${u.filename}\n`)) say(`confirmed upload ${u.thread}-${u.filename} (${u.server}${u.confirmedAfterCont ? ', after SIGCONT' : ''}) missing`);
  }
  if ((threads.get('T2') ?? '').split('\n').filter((l) => l !== '').length !== 2) say(`B's new T2 holds ${JSON.stringify(threads.get('T2')?.slice(0, 200))}`);
  for (const [title, answer] of bThreads) {
    if (answer === `Thread ${title} created` && !threads.has(title)) say(`B created ${title}, but it is not there`);
    if (answer === `Thread ${title} created` && (threads.get(title) ?? '').split('\n')[0] !== 'bee') say(`B created ${title}, but the file's creator is ${(threads.get(title) ?? '').split('\n')[0]}`);
  }
  const t0Lines = (threads.get('T0') ?? '').split('\n');
  edits.forEach((e, i) => {
    const line = t0Lines[i + 1] ?? '';
    const text = /^[0-9]+ editor: (.*)$/.exec(line)?.[1];
    if (text !== e.confirmed && !e.since.includes(text ?? '')) say(`editor message ${i + 1} is ${JSON.stringify(text?.slice(0, 20))}, neither its confirmed text nor one sent since`);
  });
  for (const n of await leftovers(dir)) say(`left behind ${n}`);
  const c = await startServer(dir, portA + 4);
  c.child.kill('SIGTERM');
  await c.exited;
  for (const l of c.out().split('\n')) if (/Warning|Recovery|rror/.test(l)) say(`third server: ${l.slice(0, 200)}`);
  const confirmedA = uploads.filter((u) => u.server === 'A' && u.state === 'confirmed');
  totals.uploadsConfirmed += confirmedA.length;
  totals.uploadsConfirmedAfterCont += confirmedA.filter((u) => u.confirmedAfterCont).length;
  totals.uploadsInFlight += inFlight.length;
  totals.bOps += 4 + bThreads.size;
  totals.bRefusedOnce += retried;
  totals.rounds++;
  const broken = problems.some((p) => p.startsWith(`round ${round}:`));
  if (broken) totals.broken++;
  console.log(
    `round ${round}: A: ${confirmedA.length} uploads confirmed (${confirmedA.filter((u) => u.confirmedAfterCont).length} after SIGCONT), ${inFlight.length} in flight at the freeze, ${churnLog.length} CRT/RMV; ` +
      `B: RMV+CRT T2, upload ${clash} to T1 ${bUp.state}, CRT R0-R5: ${[...bThreads.values()].filter((x) => x.endsWith('created')).length} created, MSGs refused once for a file A changed late: ${retried}; A exit ${String(aCode)}; ${broken ? 'BROKEN' : 'ok'}`,
  );
  if (process.env['A9_KEEP'] === undefined) await rm(dir, { recursive: true, force: true });
  else console.log(`  kept ${dir}\n  A said:\n${a.out()}\n  B said:\n${b.out()}`);
};

for (let r = 1; r <= rounds; r++) await runRound(r);
console.log(JSON.stringify(totals));
console.log(problems.length === 0 ? 'HELD: no problem found' : `PROBLEMS (${problems.length}):\n${[...new Set(problems)].slice(0, 40).join('\n')}`);
process.exit(0);
