/**
 * Attack round 21: the forum across paths that change and misbehave, against the built
 * forum-server and forum-client, through lib-path.ts's impairing relay on loopback.
 *
 *   npx tsx attack/path-change.ts <scenario> [scenario…]     # or `all`
 *
 * Scenarios (each on a fresh server; a 3.9 MiB thread `big` for large replies, a thread `t`):
 *   rebind-idle        port rebinding every 1 s for 10 s while idle, then an MSG
 *   rebind-ip-idle     the same, alternating the address 127.0.0.1 / 127.0.0.2
 *   rebind-msgs        60 MSGs of 4 KB while the address alternates every 1 s
 *   rebind-rdt         3 RDTs of `big` while the address alternates every 1 s (baseline: `clean-rdt`)
 *   mtu-1200, mtu-1280 3 RDTs of `big` and 20 MSGs of 4 KB; 1.5 s in, datagrams above N bytes are dropped both ways
 *   outage-idle-S      S ∈ 5, 15, 40: everything dropped for S seconds while idle, then an MSG
 *   outage-msg-S       an MSG written 0.5 s into an S-second outage
 *   outage-rdt-S       an outage of S seconds 1 s into 3 RDTs of `big`
 *   replylost-S        the server → client direction drops everything for S s from just before an MSG
 *   asym-down, asym-up 50 % loss one way: 20 MSGs of 4 KB and 2 RDTs of `big`
 *   reorder-dup        both ways: 0–40 ms jitter (reordered), 30 % duplicated: the same work
 *   corrupt            both ways: 5 % of datagrams with one byte flipped anywhere: the same work
 *   flip-header        both ways: 30 % of datagrams with one byte flipped in bytes 0–11: the same work
 *   loss30             both ways: 30 % loss (flip-header's baseline): the same work
 *   truncate-1000      after login, datagrams above 1000 bytes cut to 1000 both ways: the same work
 *
 * Each prints what the user saw (lines, exit status, times), what the server logged, the server's RSS,
 * and the check: every acknowledged MSG stored exactly once, none stored that the client reported failed
 * unless said (read back through a direct client).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { largeThreadFile } from '../packages/server/test/large-thread.js';
import { startPathRelay, startTcpPath, waitFor, type PathRelay, type TcpPath } from './lib-path.js';

const SERVER_BIN = new URL('../packages/server/bin/forum-server.js', import.meta.url).pathname;
const CLIENT_BIN = new URL('../packages/client/bin/forum-client.js', import.meta.url).pathname;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const BIG_MESSAGES = Math.floor((3.9 * 1024 * 1024) / 4012);
const TEXT = 'x'.repeat(4000);

/** A child process whose output lines are kept with the time they came (ms since its start). */
interface Proc {
  readonly child: ChildProcess;
  readonly started: number;
  text(): string;
  lines(): readonly { readonly at: number; readonly line: string }[];
  write(s: string): void;
  exited: Promise<number | null>;
}

const proc = (args: readonly string[], cwd?: string): Proc => {
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], cwd });
  const started = Date.now();
  let text = '';
  const lines: { at: number; line: string }[] = [];
  let partial = '';
  const take = (d: Buffer): void => {
    text += d.toString();
    partial += d.toString();
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) lines.push({ at: Date.now() - started, line });
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  child.stdin?.on('error', () => undefined);
  return {
    child,
    started,
    text: () => text,
    lines: () => lines,
    write: (s) => void child.stdin?.write(s),
    exited: new Promise((r) => child.once('close', (c) => r(c))),
  };
};

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });

const count = (s: string, re: RegExp): number => (s.match(re) ?? []).length;
const rssMiB = (pid: number | undefined): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid ?? 0}/status`, 'utf8'))?.[1] ?? 0) / 1024;

interface World {
  readonly dir: string;
  readonly server: Proc;
  readonly port: number;
  readonly relay: PathRelay;
  readonly client: Proc;
  readonly kh: string;
  /** The client's working directory (its uploads' sources, its downloads). */
  readonly cwd: string;
  /** The TCP path to the transfer port (the server advertises it). */
  readonly tcp: TcpPath;
}

const startWorld = async (): Promise<World> => {
  const dir = await mkdtemp(join(tmpdir(), 'a21-'));
  await writeFile(join(dir, 'credentials.txt'), 'alice pw\nbob pw\n');
  await writeFile(join(dir, 'big'), largeThreadFile('bob', BIG_MESSAGES));
  // The transfer port is fixed first so that the server can advertise the TCP path in front of it.
  const transferPort = await freePort();
  const tcp = await startTcpPath(transferPort);
  const server = proc([SERVER_BIN, '0', '--data-dir', dir, '--transfer-port', String(transferPort), '--advertised-transfer-port', String(tcp.port)]);
  if (!(await waitFor(() => /UDP [^ ]+:([0-9]+)/.test(server.text()), 30_000))) throw new Error(`no server: ${server.text()}`);
  const port = Number(/UDP [^ ]+:([0-9]+)/.exec(server.text())?.[1]);
  const relay = await startPathRelay(port);
  const kh = join(dir, 'kh');
  // The machine is shared: a handshake that a loaded moment lost is tried once more.
  const cwd = join(dir, 'client');
  await mkdir(cwd);
  let client = proc([CLIENT_BIN, String(relay.port), '--known-hosts', kh], cwd);
  client.write('alice\npw\n');
  if (!(await waitFor(() => client.text().includes('Welcome') || client.child.exitCode !== null, 15_000)) || !client.text().includes('Welcome')) {
    client.child.kill('SIGKILL');
    client = proc([CLIENT_BIN, String(relay.port), '--known-hosts', kh], cwd);
    client.write('alice\npw\n');
    if (!(await waitFor(() => client.text().includes('Welcome'), 15_000))) throw new Error(`no login: ${client.text()}`);
  }
  client.write('CRT t\n');
  await waitFor(() => /Thread t created/.test(client.text()), 5_000);
  return { dir, server, port, relay, client, kh, cwd, tcp };
};

/** Reads thread `t` back through a direct client (not through the relay): each tag's count. */
const readBack = async (w: World): Promise<Map<string, number>> => {
  const c = proc([CLIENT_BIN, String(w.port), '--known-hosts', w.kh]);
  c.write('bob\npw\nRDT t\nXIT\n');
  await c.exited;
  const tags = new Map<string, number>();
  for (const m of c.text().matchAll(/alice: (m[0-9]+)/g)) tags.set(m[1] ?? '', (tags.get(m[1] ?? '') ?? 0) + 1);
  return tags;
};

/** Writes MSGs m0..m{n-1} of 4 KB one line each (the client sends them one at a time). */
const writeMsgs = (w: World, n: number, from = 0): void => {
  for (let i = from; i < from + n; i++) w.client.write(`MSG t m${i} ${TEXT}\n`);
};
const posted = (w: World): number => count(w.client.text(), /Message posted to t thread/g);
const rdtsDone = (w: World): number => count(w.client.text(), new RegExp(`${BIG_MESSAGES} bob: lorem`, 'g'));

/** Ends the scenario: the client's fate, the server's log and RSS, and the read-back check of MSGs m0..m{sent-1}. */
const report = async (name: string, w: World, sent: number, t0: number, extra: string): Promise<void> => {
  const alive = w.client.child.exitCode === null;
  if (alive) w.client.write('XIT\n');
  await Promise.race([w.client.exited, sleep(10_000)]);
  const acked = posted(w);
  const back = await readBack(w);
  const stored = [...back.values()].filter((n) => n >= 1).length;
  const twice = [...back.entries()].filter(([, n]) => n > 1).map(([k]) => k);
  // The client acknowledges in order, one request at a time: m0..m{acked-1} must be there.
  const lost = Array.from({ length: acked }, (_, i) => `m${i}`).filter((k) => !back.has(k));
  const tail = w.client
    .lines()
    .filter((l) => !/^[0-9]+ bob: lorem|Message posted|^> *$|^\s*$/.test(l.line))
    .slice(-4)
    .map((l) => `${(l.at / 1000).toFixed(1)}s ${l.line.slice(0, 220)}`);
  const serverLog = w.server
    .lines()
    .map((l) => l.line)
    .filter((l) => !/Waiting for clients|fingerprint|listening|UDP|TCP|^bob /.test(l))
    .slice(-4);
  console.log(
    `[${name}] ${extra}; client ${alive ? 'alive at the end' : `exited ${w.client.child.exitCode}`} after ${((Date.now() - t0) / 1000).toFixed(1)} s; ` +
      `MSGs acknowledged ${acked} of ${sent}, stored ${stored}, acknowledged but lost ${lost.length}, stored twice ${twice.length}; ` +
      `server RSS ${rssMiB(w.server.child.pid).toFixed(0)} MiB; up ${JSON.stringify(w.relay.upCounts)} down ${JSON.stringify(w.relay.downCounts)}\n` +
      `    client said: ${JSON.stringify(tail)}\n    server said: ${JSON.stringify(serverLog)}`,
  );
  w.relay.close();
  w.tcp.close();
  w.server.child.kill('SIGTERM');
  await w.server.exited;
};

/** Rebinds every `everyMs` for `ms`, alternating the address when `ip`. */
const rebindEvery = (w: World, everyMs: number, ip: boolean): (() => void) => {
  let stop = false;
  void (async () => {
    while (!stop) {
      await sleep(everyMs);
      if (stop) break;
      const next = ip ? (w.relay.upstream().address === '127.0.0.1' ? '127.0.0.2' : '127.0.0.1') : undefined;
      await w.relay.rebind(next);
    }
  })();
  return () => {
    stop = true;
  };
};

/** 20 MSGs of 4 KB then `rdts` RDTs of big: done within `ms`? Returns seconds taken or -1. */
const work = async (w: World, msgs: number, rdts: number, ms: number): Promise<number> => {
  const t = Date.now();
  writeMsgs(w, msgs);
  for (let i = 0; i < rdts; i++) w.client.write('RDT big\n');
  const ok = await waitFor(() => (posted(w) >= msgs && rdtsDone(w) >= rdts) || w.client.child.exitCode !== null, ms);
  return ok && w.client.child.exitCode === null ? (Date.now() - t) / 1000 : -1;
};

const scenarios: Record<string, () => Promise<void>> = {};

for (const ip of [false, true]) {
  scenarios[ip ? 'rebind-ip-idle' : 'rebind-idle'] = async () => {
    const w = await startWorld();
    const t0 = Date.now();
    const stop = rebindEvery(w, 1000, ip);
    await sleep(10_000);
    stop();
    const t = Date.now();
    writeMsgs(w, 1);
    const ok = await waitFor(() => posted(w) >= 1 || w.client.child.exitCode !== null, 15_000);
    await report(ip ? 'rebind-ip-idle' : 'rebind-idle', w, 1, t0, `${w.relay.rebinds()} rebindings over 10 s idle; MSG after: ${ok && posted(w) >= 1 ? `answered in ${Date.now() - t} ms` : 'not answered'}`);
  };
}

scenarios['rebind-msgs'] = async () => {
  const w = await startWorld();
  const t0 = Date.now();
  const stop = rebindEvery(w, 1000, true);
  const took = await work(w, 60, 0, 120_000);
  stop();
  await report('rebind-msgs', w, 60, t0, `60 MSGs of 4 KB with ${w.relay.rebinds()} rebindings (address alternating): ${took < 0 ? 'not all answered' : `done in ${took.toFixed(1)} s`}`);
};

for (const name of ['clean-rdt', 'rebind-rdt', 'rebind-port-rdt']) {
  scenarios[name] = async () => {
    const w = await startWorld();
    const t0 = Date.now();
    const stop = name === 'clean-rdt' ? () => undefined : rebindEvery(w, 1000, name === 'rebind-rdt');
    const took = await work(w, 0, 3, 180_000);
    stop();
    await report(name, w, 0, t0, `3 RDTs of 3.9 MiB with ${w.relay.rebinds()} rebindings: ${took < 0 ? 'not all whole' : `done in ${took.toFixed(1)} s`}`);
  };
}

for (const size of [1200, 1280, 1100, 0]) {
  scenarios[`mtu-${size}`] = async () => {
    const w = await startWorld();
    const t0 = Date.now();
    // Let PMTUD climb first (loopback carries 1,472).
    w.client.write('RDT big\n');
    await waitFor(() => rdtsDone(w) >= 1, 60_000);
    const largestBefore = w.relay.downCounts.largest;
    // Size 0: no drop (the baseline).
    const drop = setTimeout(() => {
      if (size === 0) return;
      w.relay.up.maxSize = size;
      w.relay.down.maxSize = size;
    }, 1500);
    const t = Date.now();
    writeMsgs(w, 20);
    for (let i = 0; i < 3; i++) w.client.write('RDT big\n');
    const ok = await waitFor(() => (posted(w) >= 20 && rdtsDone(w) >= 4) || w.client.child.exitCode !== null, 120_000);
    clearTimeout(drop);
    // The longest gap between two lines of the client's output after the drop: the stall a user saw.
    const after = w.client.lines().filter((l) => l.at >= t - w.client.started);
    let gap = 0;
    for (let i = 1; i < after.length; i++) gap = Math.max(gap, (after[i]?.at ?? 0) - (after[i - 1]?.at ?? 0));
    // When each MSG was answered and each RDT whole, s after the work began.
    const marks = after.filter((l) => /Message posted/.test(l.line) || l.line.includes(`${BIG_MESSAGES} bob: lorem`)).map((l) => `${/Message/.test(l.line) ? 'M' : 'R'}${((l.at - (t - w.client.started)) / 1000).toFixed(1)}`);
    console.log(`[mtu-${size}] timeline: ${marks.join(' ')}`);
    await report(
      `mtu-${size}`,
      w,
      20,
      t0,
      `datagrams up to ${largestBefore} B before; above ${size} B dropped 1.5 s in: 20 MSGs + 3 RDTs ${ok && w.client.child.exitCode === null ? `done in ${((Date.now() - t) / 1000).toFixed(1)} s` : 'not done'}, longest silence of the client's output ${gap} ms, largest datagram carried ${w.relay.downCounts.largest} B`,
    );
  };
}

for (const s of [5, 15, 40]) {
  scenarios[`outage-idle-${s}`] = async () => {
    const w = await startWorld();
    const t0 = Date.now();
    w.relay.outage = true;
    await sleep(s * 1000);
    w.relay.outage = false;
    const t = Date.now();
    writeMsgs(w, 1);
    const ok = await waitFor(() => posted(w) >= 1 || w.client.child.exitCode !== null, 15_000);
    await report(`outage-idle-${s}`, w, 1, t0, `${s} s outage while idle; MSG after it: ${ok && posted(w) >= 1 ? `answered in ${Date.now() - t} ms` : 'not answered'}`);
  };
  scenarios[`outage-msg-${s}`] = async () => {
    const w = await startWorld();
    const t0 = Date.now();
    w.relay.outage = true;
    await sleep(500);
    const t = Date.now();
    writeMsgs(w, 1);
    await sleep(s * 1000 - 500);
    w.relay.outage = false;
    const ok = await waitFor(() => posted(w) >= 1 || w.client.child.exitCode !== null, 15_000);
    await report(`outage-msg-${s}`, w, 1, t0, `MSG written 0.5 s into a ${s} s outage: ${ok && posted(w) >= 1 ? `answered ${Date.now() - t} ms after it was written` : 'not answered'}`);
  };
  scenarios[`outage-rdt-${s}`] = async () => {
    const w = await startWorld();
    const t0 = Date.now();
    const t = Date.now();
    for (let i = 0; i < 3; i++) w.client.write('RDT big\n');
    await sleep(1000);
    w.relay.outage = true;
    await sleep(s * 1000);
    w.relay.outage = false;
    const ok = await waitFor(() => rdtsDone(w) >= 3 || w.client.child.exitCode !== null, 60_000);
    await report(`outage-rdt-${s}`, w, 0, t0, `${s} s outage 1 s into 3 RDTs: ${ok && rdtsDone(w) >= 3 ? `all whole ${((Date.now() - t) / 1000).toFixed(1)} s after they were asked` : `${rdtsDone(w)} whole`}`);
  };
  scenarios[`replylost-${s}`] = async () => {
    const w = await startWorld();
    const t0 = Date.now();
    writeMsgs(w, 2);
    await waitFor(() => posted(w) >= 2, 5_000);
    w.relay.down.loss = 1;
    const t = Date.now();
    writeMsgs(w, 1, 2);
    await sleep(s * 1000);
    w.relay.down.loss = 0;
    const ok = await waitFor(() => posted(w) >= 3 || w.client.child.exitCode !== null, 15_000);
    await report(`replylost-${s}`, w, 3, t0, `server→client cut for ${s} s from an MSG (m2): ${ok && posted(w) >= 3 ? `answered ${Date.now() - t} ms after it was written` : 'not answered'}`);
  };
}

const impaired = (name: string, set: (r: PathRelay) => void, afterLogin = true): void => {
  scenarios[name] = async () => {
    const w = await startWorld();
    const t0 = Date.now();
    if (afterLogin) set(w.relay);
    const took = await work(w, 20, 2, 240_000);
    await report(name, w, 20, t0, `20 MSGs of 4 KB + 2 RDTs of 3.9 MiB: ${took < 0 ? 'not done' : `done in ${took.toFixed(1)} s`}`);
  };
};
impaired('clean-work', () => undefined);
impaired('asym-down', (r) => (r.down.loss = 0.5));
impaired('asym-up', (r) => (r.up.loss = 0.5));
impaired('loss30', (r) => {
  for (const d of [r.up, r.down]) d.loss = 0.3;
});
impaired('reorder-dup', (r) => {
  for (const d of [r.up, r.down]) Object.assign(d, { jitterMs: 40, dup: 0.3 });
});
impaired('corrupt', (r) => {
  for (const d of [r.up, r.down]) Object.assign(d, { flip: 0.05 });
});
impaired('flip-header', (r) => {
  for (const d of [r.up, r.down]) Object.assign(d, { flip: 0.3, flipFrom: 0, flipTo: 12 });
});
impaired('truncate-1000', (r) => {
  for (const d of [r.up, r.down]) d.truncateTo = 1000;
});

/**
 * The TCP transfer channel across a path change: a NAT that reboots (every connection reset) or whose mapping goes
 * silent (nothing passes; a NAT rebinding does this to a TCP connection, which cannot follow a new port) 1.5 s into a
 * 60 MB upload or 0.4 s into a 60 MB download, then, after the failure, the same transfer again.
 */
for (const how of ['reset', 'silent', 'none'] as const) {
  for (const dir of ['upload', 'download'] as const) {
    scenarios[`tcp-${how}-${dir}`] = async () => {
      const w = await startWorld();
      const t0 = Date.now();
      const size = 60 * 1024 * 1024;
      const bytes = Buffer.alloc(size, 7);
      if (dir === 'upload') await writeFile(join(w.cwd, 'f.bin'), bytes);
      else await writeFile(join(w.dir, 't-f.bin'), bytes);
      // A download needs the thread's upload line: made by an upload of the client's own first.
      if (dir === 'download') {
        await writeFile(join(w.cwd, 'f.bin'), bytes);
        w.client.write('UPD t f.bin\n');
        await waitFor(() => /f\.bin uploaded to t thread/.test(w.client.text()), 60_000);
        await rm(join(w.cwd, 'f.bin'));
      }
      // The transfer is slowed by the relay's own pace: the client's stall rule needs bytes moving, so cut at 2 s.
      const before = w.client.text().length;
      const t = Date.now();
      w.client.write(dir === 'upload' ? 'UPD t f.bin\n' : 'DWN t f.bin\n');
      // A download moves at loopback speed once granted (60 MB within 1.5 s in some runs): cut it sooner.
      await sleep(dir === 'upload' ? 1500 : 400);
      if (how === 'reset') w.tcp.reset();
      else if (how === 'silent') w.tcp.blackHole(true);
      const said = await waitFor(() => /failed|may or may not|uploaded to|downloaded|exists/.test(w.client.text().slice(before)) || w.client.child.exitCode !== null, 120_000);
      const first = w.client.text().slice(before).split('\n').filter((l) => /Upload|Download|uploaded|downloaded|exists/.test(l)).join(' | ');
      const took = Date.now() - t;
      w.tcp.blackHole(false);
      // Again, on a path that works.
      const again = w.client.text().length;
      const serverFiles = (await readdir(w.dir)).filter((f) => f.startsWith('.forum-tmp') || f.includes('f.bin'));
      w.client.write(dir === 'upload' ? 'UPD t f.bin\n' : 'DWN t f.bin\n');
      await waitFor(() => /failed|may or may not|uploaded to|downloaded|exists/.test(w.client.text().slice(again)) || w.client.child.exitCode !== null, 120_000);
      const second = w.client.text().slice(again).split('\n').filter((l) => /Upload|Download|uploaded|downloaded|exists/.test(l)).join(' | ');
      const clientFiles = await readdir(w.cwd);
      // What landed: the server's copy of an upload, the client's of a download (once the second try said so).
      const stored = await readFile(dir === 'upload' ? join(w.dir, 't-f.bin') : join(w.cwd, 'f.bin')).then((b) => (b.equals(bytes) ? 'whole' : `${b.length} B, differs`), () => 'none');
      await report(
        `tcp-${how}-${dir}`,
        w,
        0,
        t0,
        `60 MB ${dir}, its TCP path ${how === 'reset' ? 'reset' : how === 'silent' ? 'silenced' : 'left alone'} ${dir === 'upload' ? 1.5 : 0.4} s in: ${said ? `said after ${(took / 1000).toFixed(1)} s` : 'nothing said in 120 s'}: ${JSON.stringify(first.slice(0, 300))}; server's files meanwhile ${JSON.stringify(serverFiles)}; again: ${JSON.stringify(second.slice(0, 200))}; client's files ${JSON.stringify(clientFiles)}; the ${dir === 'upload' ? "server's t-f.bin" : "client's f.bin"} ${stored}; TCP connections ${w.tcp.connections()}`,
      );
    };
  }
}

const names = process.argv.slice(2);
const run = names.length === 0 || names[0] === 'all' ? Object.keys(scenarios) : names;
for (const n of run) {
  const f = scenarios[n];
  if (f === undefined) {
    console.error(`unknown scenario ${n}; known: ${Object.keys(scenarios).join(' ')}`);
    process.exit(2);
  }
  await f();
}
process.exit(0);
