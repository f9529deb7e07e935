/**
 * Attack round 18, item 4: forum-client killed (SIGKILL) mid-upload and mid-download (data directory), and the
 * same user logging in again at once: whether the name is free or held, for how long, with what message; what
 * the server kept of the upload; whether the same upload then goes through.
 *
 *   npx tsx attack/client-kill.ts [fileMiB=64]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rawConnection, session, startServer } from './forum-raw.js';
import { downloadBytes, sha, uploadAnswer } from './pg-fault-lib.js';

const size = Number(process.argv[2] ?? 64) * 2 ** 20;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const CLIENT_BIN = new URL('../packages/client/bin/forum-client.js', import.meta.url).pathname;
const dir = await mkdtemp(join(tmpdir(), 'a18-ck-data-'));
const cwd = await mkdtemp(join(tmpdir(), 'a18-ck-cwd-'));
const port = 20000 + Math.floor(Math.random() * 20000);
const server = await startServer(dir, port, port + 1, ['--max-upload-bytes', String(2 * size)]);
const stop = new AbortController();
setMaxListeners(0, stop.signal);

/** Files of the data directory and their sizes. */
const listing = async (): Promise<Map<string, number>> => {
  const m = new Map<string, number>();
  for (const f of await readdir(dir)) m.set(f, (await stat(join(dir, f)).catch(() => ({ size: -1 }))).size);
  return m;
};

try {
  const bytes = randomBytes(size);
  await writeFile(join(cwd, 'up.bin'), bytes);
  const owner = await session(port, 'kim', stop.signal);
  await owner.request('CRT', ['t']);
  const seeded = await uploadAnswer(owner, await owner.request('UPD', ['t', 'big.bin']), bytes);
  if (seeded !== 'OK') throw new Error(seeded);
  await owner.request('XIT', []);
  const before = await listing();

  for (const what of ['UPD t up.bin', 'DWN t big.bin']) {
    const c = spawn(process.execPath, [CLIENT_BIN, String(port), '--known-hosts', join(cwd, 'kh')], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (out += d.toString()));
    c.stdin.write('kim\npw-kim\n');
    for (let i = 0; i < 200 && !out.includes('Welcome'); i++) await sleep(50);
    c.stdin.write(`${what}\n`);
    // Mid-transfer: the upload's bytes growing in a file of the data directory, or the download's in the client's directory.
    const growing = async (): Promise<string | undefined> => {
      const where = what.startsWith('UPD') ? dir : cwd;
      for (const f of await readdir(where)) {
        if (what.startsWith('UPD') && before.has(f)) continue;
        if (!what.startsWith('UPD') && (f === 'up.bin' || f === 'kh')) continue;
        const s = await stat(join(where, f)).catch(() => undefined);
        if (s !== undefined && s.size > 8 * 2 ** 20 && s.size < size) return `${f} ${(s.size / 2 ** 20).toFixed(0)} MiB`;
      }
      return undefined;
    };
    let mid: string | undefined;
    for (let i = 0; i < 2000 && (mid = await growing()) === undefined; i++) await sleep(5);
    c.kill('SIGKILL');
    const t0 = performance.now();
    const since = (): string => ((performance.now() - t0) / 1000).toFixed(2);
    await new Promise((r) => c.once('close', r));
    console.log(`${what}: forum-client killed with ${mid ?? '(no partial file seen)'}; it had printed: ${JSON.stringify(out.split('\n').slice(-2).join(' | ').slice(-160))}`);
    // forum-client again at once, as the user would start it: what it prints.
    const again = await new Promise<string>((resolve) => {
      const c2 = spawn(process.execPath, [CLIENT_BIN, String(port), '--known-hosts', join(cwd, 'kh')], { cwd });
      let o = '';
      c2.stdout.on('data', (d: Buffer) => (o += d.toString()));
      c2.stderr.on('data', (d: Buffer) => (o += d.toString()));
      c2.stdin.end('kim\n');
      c2.once('close', () => resolve(o.replace(/\n/g, ' | ').slice(0, 200)));
    });
    console.log(`  forum-client started again (${since()} s after the kill), username kim: ${JSON.stringify(again)}`);
    // Raw logins every 100 ms until welcomed.
    const answers = new Map<string, number>();
    let welcomed = '';
    for (let i = 0; i < 400 && welcomed === ''; i++) {
      const r = await rawConnection(port, { signal: stop.signal });
      const u = await r.request('username', ['kim']);
      const next = u.data.kind === 'auth' ? u.data.next : '';
      const w = next === 'password' ? await r.request('password', ['pw-kim']) : u;
      const line = w.lines[0] ?? '';
      if (line === 'Welcome to the forum') welcomed = since();
      else answers.set(line, (answers.get(line) ?? 0) + 1);
      await r.request('XIT', []).catch(() => undefined);
      r.conn.destroy();
      if (welcomed === '') await sleep(100);
    }
    console.log(`  kim welcomed ${welcomed} s after the kill; before: ${[...answers].map(([k, n]) => `${n} x ${JSON.stringify(k)}`).join(', ') || 'none'}`);
    const now = await listing();
    const extra = [...now].filter(([f]) => !before.has(f) && f !== 't-up.bin');
    console.log(`  data directory: new files ${JSON.stringify(extra)}; server log since: ${JSON.stringify(server.out.split('\n').filter((l) => /kim|up\.bin|big\.bin|ransfer/i.test(l)).slice(-4))}`);
    if (what.startsWith('UPD')) {
      const s = await session(port, 'kim', stop.signal);
      console.log(`  RDT t: ${(await s.request('RDT', ['t'])).lines.join(' | ')}`);
      const t1 = performance.now();
      const ans = await uploadAnswer(s, await s.request('UPD', ['t', 'up.bin']), bytes);
      const got = await downloadBytes(s, await s.request('DWN', ['t', 'up.bin']));
      console.log(`  the same upload again: ${ans} in ${((performance.now() - t1) / 1000).toFixed(1)} s; downloaded ${typeof got === 'string' ? got : sha(got) === sha(bytes) ? 'the same bytes' : 'OTHER bytes'}`);
      await s.request('XIT', []);
    }
    out = '';
  }
  console.log(`server running: ${server.child.exitCode === null && server.child.signalCode === null}`);
} finally {
  stop.abort();
  server.child.kill('SIGTERM');
  await server.exited;
  await rm(dir, { recursive: true, force: true });
  await rm(cwd, { recursive: true, force: true });
}
