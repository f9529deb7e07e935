/**
 * Attack round 20: upgrades, downgrades and restarts. Runs the built forum-server and forum-client of this
 * worktree ("new") beside an older build ("old", `A20_OLD`, default /tmp/old-a20: a `git worktree add` of an
 * older commit, installed and built there) and prints one line an attempt: what, exit status or answer,
 * what was said, and whether anything acknowledged was lost.
 *
 *   A20_OLD=/tmp/old-a20 npx tsx attack/version-skew.ts [wire|up|down|restart|transfers|identity|pg|all=all]
 *
 * `pg` starts an embedded PostgreSQL (pg-fault-lib.ts; as root it runs as the `postgres` user).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const OLD = process.env.A20_OLD ?? '/tmp/old-a20';
const bins = (root: string): { readonly server: string; readonly client: string } => ({
  server: join(root, 'packages/server/bin/forum-server.js'),
  client: join(root, 'packages/client/bin/forum-client.js'),
});
const NEW = bins(new URL('..', import.meta.url).pathname);
const OLD_BINS = bins(OLD);
const which = process.argv[2] ?? 'all';
const root = await mkdtemp(join(tmpdir(), 'a20-'));
await chmod(root, 0o755);
let portSeed = 20000 + Math.floor(Math.random() * 20000);
const freshPort = (): number => (portSeed += 3);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex').slice(0, 16);
const report = (what: string, verdict: string, said: string): void => console.log(`${what.padEnd(56)} | ${verdict.padEnd(6)} | ${said.replace(/\n/g, ' ⏎ ')}`);

/** A server process, started and ready (or exited: `ready` false). */
interface Running {
  readonly child: ChildProcess;
  readonly port: number;
  readonly ready: boolean;
  readonly output: () => string;
  readonly exited: Promise<number | string | null>;
  stop(signal?: NodeJS.Signals): Promise<number | string | null>;
}

const startServer = async (bin: string, dir: string, extra: readonly string[] = [], port = freshPort()): Promise<Running> => {
  const where = dir.startsWith('postgres://') ? ['--store', dir] : ['--data-dir', dir];
  const child = spawn(process.execPath, [bin, String(port), ...where, '--transfer-port', String(port + 1), ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (out += s));
  const exited = new Promise<number | string | null>((resolve) => child.on('close', (code, signal) => resolve(code ?? signal)));
  for (let i = 0; i < 300 && !out.includes('Waiting for clients') && child.exitCode === null; i++) await sleep(50);
  await sleep(50);
  return {
    child,
    port,
    ready: out.includes('Waiting for clients'),
    output: () => out,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
};

/** forum-client with `lines` piped in, in `cwd`: status, stdout, stderr, milliseconds. */
const clientRun = (bin: string, port: number, lines: readonly string[], knownHosts: string, cwd = root, timeoutS = 3): { status: number | null; out: string; err: string; ms: number } => {
  const started = Date.now();
  const r = spawnSync(process.execPath, [bin, String(port), '--known-hosts', knownHosts, '--timeout', String(timeoutS)], { input: `${lines.join('\n')}\n`, encoding: 'utf8', cwd, timeout: 120_000 });
  return { status: r.status, out: r.stdout, err: r.stderr, ms: Date.now() - started };
};

const lastErr = (err: string): string => err.trim().split('\n').filter((l) => l !== '' && !l.startsWith('Connecting')).slice(-2).join(' ⏎ ');

/** Every file of `dir` with its bytes' digest (the data directory's state, to compare). */
const snapshot = async (dir: string): Promise<Map<string, string>> => {
  const m = new Map<string, string>();
  for (const f of (await readdir(dir)).sort()) m.set(f, sha(await readFile(join(dir, f)).catch(() => Buffer.alloc(0))));
  return m;
};
const changed = (a: Map<string, string>, b: Map<string, string>): string[] => {
  const out: string[] = [];
  for (const [f, h] of a) if (b.get(f) !== h) out.push(b.has(f) ? `~${f}` : `-${f}`);
  for (const f of b.keys()) if (!a.has(f)) out.push(`+${f}`);
  return out;
};

/** The forum written by one version: two accounts, two threads, messages (one edited, one deleted), an upload. */
const writeForum = async (client: string, port: number, kh: string, files: string, tag: string): Promise<{ readonly ok: boolean; readonly said: string; readonly upload: Buffer }> => {
  const upload = randomBytes(300_000);
  await writeFile(join(files, `up-${tag}.bin`), upload);
  const a = clientRun(client, port, ['alice', 'pw-alice', `CRT news-${tag}`, `MSG news-${tag} first from ${tag}`, `MSG news-${tag} second from ${tag}`, `EDT news-${tag} 1 first edited ${tag}`, `UPD news-${tag} up-${tag}.bin`, 'XIT'], kh, files, 5);
  const b = clientRun(client, port, ['bob', 'pw-bob', `CRT talk-${tag}`, `MSG talk-${tag} hello ${tag}`, `MSG talk-${tag} bye ${tag}`, `DLT talk-${tag} 2`, `MSG news-${tag} bob was here ${tag}`, 'XIT'], kh, files, 5);
  const ok = a.status === 0 && b.status === 0 && /uploaded|Uploaded/.test(a.out);
  return { ok, said: ok ? 'written' : `${a.status}/${b.status} ${lastErr(a.err + a.out)} ${lastErr(b.err + b.out)}`, upload };
};

/** Reads back what {@link writeForum} wrote, through `client`: what is missing. */
const readForum = async (client: string, port: number, kh: string, files: string, tag: string, upload: Buffer, suffix: string): Promise<string[]> => {
  const down = join(files, `dl-${suffix}`);
  await mkdir(down, { recursive: true });
  const r = clientRun(client, port, ['alice', 'pw-alice', 'LST', `RDT news-${tag}`, `RDT talk-${tag}`, `DWN news-${tag} up-${tag}.bin`, 'XIT'], kh, down, 5);
  const wrongPw = clientRun(client, port, ['bob', 'wrong', 'bob', 'pw-bob', 'XIT'], kh, down, 5);
  const missing: string[] = [];
  if (r.status !== 0) missing.push(`status ${r.status}: ${lastErr(r.err)}`);
  for (const want of [`news-${tag}`, `talk-${tag}`, `first edited ${tag}`, `second from ${tag}`, `bob was here ${tag}`, `hello ${tag}`, `up-${tag}.bin`]) if (!r.out.includes(want)) missing.push(want);
  if (r.out.includes(`bye ${tag}`)) missing.push(`deleted message back: bye ${tag}`);
  const got = await readFile(join(down, `up-${tag}.bin`)).catch(() => Buffer.alloc(0));
  if (!got.equals(upload)) missing.push(`upload ${got.length} bytes, ${sha(got)} ≠ ${sha(upload)}`);
  if (!/Invalid password/.test(wrongPw.out) || !/Welcome/.test(wrongPw.out)) missing.push(`bob's password: ${lastErr(wrongPw.out)}`);
  return missing;
};

/** Old client vs new server and new client vs old server. */
const wire = async (): Promise<void> => {
  for (const [label, server, client] of [['new client → old server', OLD_BINS.server, NEW.client], ['old client → new server', NEW.server, OLD_BINS.client]] as const) {
    const dir = join(root, `wire-${freshPort()}`);
    const s = await startServer(server, dir);
    for (const timeout of [3, 30]) {
      const r = clientRun(client, s.port, ['alice', 'pw', 'LST', 'XIT'], join(dir, '..', `kh-wire-${s.port}`), root, timeout);
      report(`${label} (--timeout ${timeout})`, String(r.status), `${(r.ms / 1000).toFixed(1)} s: ${lastErr(r.err)}`);
    }
    await s.stop();
  }
};

/** An older release's data directory opened by this one. */
const up = async (): Promise<void> => {
  const dir = join(root, `up-${freshPort()}`);
  const files = join(root, `files-up-${freshPort()}`);
  await mkdir(files, { recursive: true });
  const kh = join(files, 'kh');
  const old = await startServer(OLD_BINS.server, dir);
  const w = await writeForum(OLD_BINS.client, old.port, kh, files, 'old');
  report('old server writes the forum', w.ok ? 'ok' : 'FAIL', w.said);
  // A SIGKILL while an upload is under way leaves the old version's leftovers (a temporary, maybe a journal).
  const big = randomBytes(40_000_000);
  await writeFile(join(files, 'big.bin'), big);
  const c = spawn(process.execPath, [OLD_BINS.client, String(old.port), '--known-hosts', kh], { cwd: files, stdio: ['pipe', 'pipe', 'pipe'] });
  c.stdin.write('carol\npw-carol\nCRT big\nUPD big big.bin\n');
  await sleep(1500);
  old.child.kill('SIGKILL');
  await old.exited;
  c.kill('SIGKILL');
  const before = await snapshot(dir);
  report('old server SIGKILLed during an upload: left', 'info', [...before.keys()].join(' '));
  const s = await startServer(NEW.server, dir);
  report('new server opens the old directory', s.ready ? 'ok' : 'FAIL', s.output().trim().split('\n').filter((l) => !/Waiting|fingerprint|UDP|TCP/.test(l)).join(' ⏎ ') || '(nothing said)');
  if (s.ready) {
    const missing = await readForum(NEW.client, s.port, kh, files, 'old', w.upload, 'new');
    report('new server serves the old forum (same known_hosts)', missing.length === 0 ? 'ok' : 'LOST', missing.join('; ') || 'accounts, threads, edits, deletion, upload, identity');
    const w2 = await writeForum(NEW.client, s.port, kh, files, 'new');
    report('new server writes on the old directory', w2.ok ? 'ok' : 'FAIL', w2.said);
    await s.stop();
    // And back: the new directory opened by the old binary.
    const snap = await snapshot(dir);
    const o = await startServer(OLD_BINS.server, dir);
    report('old server opens the directory the new one wrote', o.ready ? 'ran' : String(await o.exited), o.output().trim().split('\n').filter((l) => !/Waiting|fingerprint|UDP|TCP/.test(l)).join(' ⏎ ') || '(nothing said)');
    if (o.ready) {
      const missing2 = await readForum(OLD_BINS.client, o.port, kh, files, 'new', w2.upload, 'old2');
      const missing3 = await readForum(OLD_BINS.client, o.port, kh, files, 'old', w.upload, 'old3');
      report('old server serves both versions\' data', missing2.length + missing3.length === 0 ? 'ok' : 'LOST', [...missing2, ...missing3].join('; ') || 'all there');
      await o.stop();
    }
    const after = await snapshot(dir);
    report('files the old server changed (reads only above)', 'info', changed(snap, after).join(' ') || 'none');
    const n = await startServer(NEW.server, dir);
    const missing4 = n.ready ? await readForum(NEW.client, n.port, kh, files, 'new', w2.upload, 'new4') : ['did not start'];
    report('new server again after the downgrade', missing4.length === 0 ? 'ok' : 'LOST', missing4.join('; ') || 'all there');
    await n.stop();
  }
};

/** What the new version may leave that the old never wrote: its leftovers opened by the old binary. */
const down = async (): Promise<void> => {
  const dir = join(root, `down-${freshPort()}`);
  const files = join(root, `files-down-${freshPort()}`);
  await mkdir(files, { recursive: true });
  const kh = join(files, 'kh');
  const s = await startServer(NEW.server, dir);
  const w = await writeForum(NEW.client, s.port, kh, files, 'n');
  report('new server writes the forum', w.ok ? 'ok' : 'FAIL', w.said);
  // Killed: its lock (and any journal) left for the old binary to take over.
  await s.stop('SIGKILL');
  // A credentials line the new server holds as damaged (round 19): the old one treats it as skipped.
  const creds = await readFile(join(dir, 'credentials.txt'), 'utf8');
  await writeFile(join(dir, 'credentials.txt'), `${creds}mallory pw \n`);
  const snap = await snapshot(dir);
  const o = await startServer(OLD_BINS.server, dir);
  report('old server on a dir with a damaged line (new: held)', o.ready ? 'ran' : 'FAIL', o.output().trim().split('\n').filter((l) => /arning|malformed/.test(l)).join(' ⏎ ') || '(nothing said)');
  report('old server takes over the new one\'s lock (SIGKILLed)', o.ready ? 'ok' : 'FAIL', o.output().trim().split('\n').filter((l) => /lock|Recovery/.test(l)).join(' ⏎ ') || '(nothing said)');
  if (o.ready) {
    const missing = await readForum(OLD_BINS.client, o.port, kh, files, 'n', w.upload, 'oldn');
    report('old server serves what the new one wrote', missing.length === 0 ? 'ok' : 'LOST', missing.join('; ') || 'all there');
    const r = clientRun(OLD_BINS.client, o.port, ['mallory', 'taken', 'XIT'], kh, files, 5);
    report('old server: login as the damaged line\'s name', 'info', lastErr(r.out));
    await o.stop();
  }
  report('files changed by the old server', 'info', changed(snap, await snapshot(dir)).join(' ') || 'none');
};

/** A data-directory forum restarted under traffic: SIGTERM, SIGKILL, two in quick succession. */
const restart = async (): Promise<void> => {
  const dir = join(root, `restart-${freshPort()}`);
  const files = join(root, `files-restart-${freshPort()}`);
  await mkdir(files, { recursive: true });
  const kh = join(files, 'kh');
  let s = await startServer(NEW.server, dir);
  const port = s.port;
  clientRun(NEW.client, port, ['poster', 'pw', 'CRT t', 'XIT'], kh, files);
  // One interactive client across the restart: what does it say, and is its next command answered?
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    const c = spawn(process.execPath, [NEW.client, String(port), '--known-hosts', kh, '--timeout', '5'], { cwd: files, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.setEncoding('utf8').on('data', (x: string) => (out += x));
    c.stderr.setEncoding('utf8').on('data', (x: string) => (out += x));
    const cExit = new Promise<number | null>((r) => c.on('close', (code) => r(code)));
    c.stdin.write('poster\npw\nMSG t before\n');
    for (let i = 0; i < 200 && !/posted/i.test(out); i++) await sleep(50);
    const t0 = Date.now();
    await s.stop(signal);
    const stopMs = Date.now() - t0;
    s = await startServer(NEW.server, dir, [], port);
    c.stdin.write('MSG t after\n');
    await sleep(3000);
    c.stdin.end('XIT\n');
    const status = await Promise.race([cExit, sleep(20_000).then(() => 'hung')]);
    report(`client across a ${signal} restart (stopped in ${stopMs} ms)`, String(status), out.trim().split("\n").join(" ⏎ ").slice(-600));
  }
  // Posters under a SIGTERM restart and a SIGKILL one, then two restarts in quick succession: every acknowledged message kept.
  const acked: string[] = [];
  const sent: string[] = [];
  const posters = [0, 1, 2].map(async (i) => {
    for (let round = 0; round < 6; round++) {
      const lines = Array.from({ length: 20 }, (_, k) => `p${i}-r${round}-${k}`);
      const r = clientRun(NEW.client, port, [`u${i}`, 'pw', ...lines.map((l) => `MSG t ${l}`), 'XIT'], kh, files, 3);
      sent.push(...lines);
      const answered = (r.out.match(/Message posted|posted/g) ?? []).length;
      acked.push(...lines.slice(0, answered));
      await sleep(100);
    }
  });
  const killer = (async () => {
    for (const signal of ['SIGTERM', 'SIGKILL', 'SIGTERM', 'SIGTERM'] as const) {
      await sleep(signal === 'SIGTERM' && acked.length > 0 ? 300 : 1500);
      await s.stop(signal);
      s = await startServer(NEW.server, dir, [], port);
      if (!s.ready) report('restart', 'FAIL', s.output());
    }
  })();
  await Promise.all([...posters, killer]);
  const text = await readFile(join(dir, 't'), 'utf8');
  const lost = acked.filter((l) => !text.includes(` ${l}\n`));
  const twice = sent.filter((l) => text.split(` ${l}\n`).length > 2);
  report('posters across 4 restarts (SIGTERM, SIGKILL, 2× quick)', lost.length === 0 && twice.length === 0 ? 'ok' : 'LOST', `${acked.length}/${sent.length} acknowledged, ${lost.length} lost${lost.length ? ` (${lost.slice(0, 5).join(' ')})` : ''}, ${twice.length} twice`);
  await s.stop();
};

/** Transfers under way at a SIGTERM and at a SIGKILL: what each client says, what is listed and left after the restart. */
const transfers = async (): Promise<void> => {
  const dir = join(root, `xfer-${freshPort()}`);
  const files = join(root, `files-xfer-${freshPort()}`);
  await mkdir(files, { recursive: true });
  const kh = join(files, 'kh');
  const big = randomBytes(300_000_000);
  await writeFile(join(files, 'big.bin'), big);
  let s = await startServer(NEW.server, dir);
  const port = s.port;
  const seed = clientRun(NEW.client, port, ['up', 'pw', 'CRT x', 'UPD x big.bin', 'XIT'], kh, files, 5);
  if (!/uploaded/.test(seed.out)) report('seed upload', 'FAIL', lastErr(seed.err + seed.out));
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    const down = join(files, `down-${signal}`);
    await mkdir(down, { recursive: true });
    await writeFile(join(down, 'big2.bin'), big);
    const run = (cwd: string, lines: string): { readonly done: Promise<string> } => {
      const c = spawn(process.execPath, [NEW.client, String(port), '--known-hosts', kh], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      c.stdout.setEncoding('utf8').on('data', (x: string) => (out += x));
      c.stderr.setEncoding('utf8').on('data', (x: string) => (out += x));
      c.stdin.end(lines);
      return { done: new Promise((r) => c.on('close', (code) => r(`${code}: ${out.trim().split('\n').map((l) => l.replace(/^(Enter [^:]*: ?|Enter one of the following commands: [A-Z, ]*: ?)+/, '')).filter((l) => l !== '' && l !== 'Welcome to the forum').join(' ⏎ ')}`))) };
    };
    const u = run(down, `up${signal}\npw\nUPD x big2.bin\nXIT\n`);
    const d = run(down, `dn${signal}\npw\nDWN x big.bin\nXIT\n`);
    // Both under way: the download's temporary in the client's directory, the upload's in the data directory.
    for (let i = 0; i < 600; i++) {
      const mine = await readdir(down);
      const theirs = await readdir(dir);
      if (mine.some((f) => f.startsWith('.forum-download-')) && theirs.some((f) => f.startsWith('.forum-tmp-'))) break;
      await sleep(50);
    }
    await sleep(300);
    const t0 = Date.now();
    await s.stop(signal);
    const stopMs = Date.now() - t0;
    const [uo, dout] = await Promise.all([u.done, d.done]);
    s = await startServer(NEW.server, dir, [], port);
    const listed = clientRun(NEW.client, port, ['check', 'pw', 'RDT x', 'XIT'], kh, files, 5);
    const left = (await readdir(down)).filter((f) => f !== 'big2.bin');
    report(`${signal} during an upload and a download (exit in ${stopMs} ms)`, 'info', `upload ${uo} | download ${dout}`);
    report(`  after the restart`, /big2/.test(listed.out) ? 'LISTED' : 'ok', `thread x: ${listed.out.split('\n').filter((l) => /big/.test(l)).join(', ')}; server said: ${s.output().split('\n').filter((l) => /Recovery|Took over|Warning/.test(l)).join(' ⏎ ') || 'nothing'}; left in the client's dir: ${left.join(' ') || 'nothing'}; data dir: ${(await readdir(dir)).join(' ')}`);
  }
  await s.stop();
};

/** A restart with another --identity-file: what a client who knew the old key is told. */
const identity = async (): Promise<void> => {
  const dir = join(root, `id-${freshPort()}`);
  const kh = join(root, `kh-id-${freshPort()}`);
  let s = await startServer(NEW.server, dir);
  const port = s.port;
  clientRun(NEW.client, port, ['alice', 'pw', 'XIT'], kh);
  await s.stop();
  s = await startServer(NEW.server, dir, ['--identity-file', join(root, `other-key-${port}`)], port);
  report('restart with a new --identity-file: server said', s.ready ? 'ran' : 'FAIL', s.output().trim().split('\n').filter((l) => /ident|finger|key/i.test(l)).join(' ⏎ '));
  const r = clientRun(NEW.client, port, ['alice', 'pw', 'XIT'], kh);
  report('client that knew the old key', String(r.status), lastErr(r.err));
  await s.stop();
};

/** PostgreSQL: an old server running while a new one migrates; the old one restarted; a downgrade. */
const pg = async (): Promise<void> => {
  const { startFaultablePg } = await import('./pg-fault-lib.js');
  const db = await startFaultablePg();
  const files = join(root, `files-pg-${freshPort()}`);
  await mkdir(files, { recursive: true });
  const kh = join(files, 'kh');
  try {
    // One identity key for the cluster, as its servers share one address's clients.
    const storeArgs = ['--identity-file', join(root, `pg-key-${freshPort()}`)];
    const o = await startServer(OLD_BINS.server, db.url, storeArgs);
    report('old server on an empty database', o.ready ? 'ok' : 'FAIL', o.output().trim().split('\n').slice(-1).join(''));
    const w = await writeForum(OLD_BINS.client, o.port, kh, files, 'pgold');
    report('old server writes the forum', w.ok ? 'ok' : 'FAIL', w.said);
    const n = await startServer(NEW.server, db.url, storeArgs);
    report('new server migrates while the old one runs', n.ready ? 'ok' : 'FAIL', n.output().trim().split('\n').filter((l) => /schema|migrat/i.test(l)).join(' ⏎ ') || '(nothing said of the schema)');
    const missingNew = await readForum(NEW.client, n.port, kh, files, 'pgold', w.upload, 'pgnew');
    report('new server reads what the old one wrote', missingNew.length === 0 ? 'ok' : 'LOST', missingNew.join('; ') || 'all there');
    // The old server keeps serving on the migrated schema: writes through it, read through the new one.
    const w2 = await writeForum(OLD_BINS.client, o.port, kh, files, 'pgmixed');
    report('old server writes on the migrated schema', w2.ok ? 'ok' : 'FAIL', w2.said);
    const missingMixed = await readForum(NEW.client, n.port, kh, files, 'pgmixed', w2.upload, 'pgmixed');
    report('… read through the new server', missingMixed.length === 0 ? 'ok' : 'LOST', missingMixed.join('; ') || 'all there');
    const w3 = await writeForum(NEW.client, n.port, kh, files, 'pgnew');
    const missingOld = await readForum(OLD_BINS.client, o.port, kh, files, 'pgnew', w3.upload, 'pgold2');
    report('new server writes, old server reads', w3.ok && missingOld.length === 0 ? 'ok' : 'LOST', `${w3.said}; ${missingOld.join('; ') || 'all there'}`);
    await o.stop();
    const o2 = await startServer(OLD_BINS.server, db.url, storeArgs);
    report('old server restarted on the new schema (downgrade)', o2.ready ? 'ran' : String(await o2.exited), o2.output().trim().split('\n').slice(-2).join(' ⏎ '));
    await o2.stop();
    await n.stop();
  } finally {
    await db.destroy();
  }
};

const steps: Record<string, () => Promise<void>> = { wire, up, down, restart, transfers, identity, pg };
for (const [name, step] of Object.entries(steps)) if (which === 'all' || which === name) await step();
await rm(root, { recursive: true, force: true });
