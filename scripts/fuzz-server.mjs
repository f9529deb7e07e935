#!/usr/bin/env node
// Hostile-datagram run against the built forum-server, on 127.0.0.1 only.
// Usage (after `pnpm build`): node scripts/fuzz-server.mjs [--count N] [--seed S] [--sockets K]
// Starts forum-server on a free port with a temporary data directory, sends N
// hostile UDP datagrams (random bytes, mutated rudp INITIALs, forged cookies,
// DATA for unknown connections, replayed cookie INITIALs), then runs a normal
// forum-client session and checks it works. Reports the server's peak RSS.
// Exits non-zero on any failure; every wait is bounded.
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort } from './free-port.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const HOST = '127.0.0.1';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: '1' },
    sockets: { type: 'string', default: '4' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('Usage: node scripts/fuzz-server.mjs [--count N] [--seed S] [--sockets K]   (run `pnpm build` first)');
  process.exit(0);
}
const COUNT = Number(values.count);
const SEED = Number(values.seed);
const SOCKETS = Number(values.sockets);
if (!Number.isInteger(COUNT) || COUNT < 0 || !Number.isFinite(SEED) || !Number.isInteger(SOCKETS) || SOCKETS < 1 || SOCKETS > 64) {
  console.error('fuzz-server: --count and --sockets must be positive integers, --seed a number');
  process.exit(2);
}

const core = await import(join(root, 'packages/rudp/dist/core.js')).catch(() => undefined);
const testing = await import(join(root, 'packages/rudp/dist/testing.js')).catch(() => undefined);
const serverBin = join(root, 'packages/server/bin/forum-server.js');
const clientBin = join(root, 'packages/client/bin/forum-client.js');
for (const [what, ok] of [
  ['packages/rudp/dist', core && testing],
  ['packages/server/dist/main.js', exists(join(root, 'packages/server/dist/main.js'))],
  ['packages/client/dist/main.js', exists(join(root, 'packages/client/dist/main.js'))],
]) {
  if (!ok) {
    console.error(`fuzz-server: ${what} is missing; run \`pnpm build\` first`);
    process.exit(2);
  }
}
const { encodeInitial, parseHeader, PacketWriter, PacketType, MAX_DATAGRAM, writePing } = core;
// RETRY payload: a one-byte varint length (tokens are < 64 bytes) and the token.
const decodeRetry = (payload) => (payload.length > 0 && payload[0] < 64 && payload.length >= 1 + payload[0] ? payload.subarray(1, 1 + payload[0]) : undefined);
const { createRandom, fillRandomBytes } = testing;

function exists(p) {
  try {
    readFileSync(p);
    return true;
  } catch {
    return false;
  }
}


const withTimeout = (promise, ms, what) =>
  Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms).unref())]);

const rssKiB = (pid) => {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
};

const failures = [];
const dataDir = mkdtempSync(join(tmpdir(), 'forum-fuzz-'));
// The client's known-hosts file: this run's, not the user's (each run's server has a new key).
const knownHostsDir = mkdtempSync(join(tmpdir(), 'forum-fuzz-known-hosts-'));
const port = await freePort();
const server = spawn(process.execPath, [serverBin, String(port), '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
let serverOut = '';
let serverErr = '';
server.stdout.on('data', (b) => (serverOut += b));
server.stderr.on('data', (b) => (serverErr += b));
const serverExit = new Promise((resolve) => server.once('exit', (code, signal) => resolve({ code, signal })));

const rss = [];
const sampler = setInterval(() => {
  const v = rssKiB(server.pid);
  if (v !== undefined) rss.push(v);
}, 100);

try {
  await withTimeout(
    new Promise((resolve, reject) => {
      const check = () => (serverOut.includes('Waiting for clients') ? resolve() : undefined);
      server.stdout.on('data', check);
      server.once('exit', () => reject(new Error(`server exited early: ${serverErr.trim()}`)));
      check();
    }),
    15_000,
    'server start',
  );
  const rssStart = rssKiB(server.pid);

  // ------------------------------------------------------------------ hostile datagrams
  const rnd = createRandom(SEED);
  const below = (n) => rnd() % n;
  const sockets = await Promise.all(
    Array.from({ length: SOCKETS }, () =>
      new Promise((resolve) => {
        const s = createSocket('udp4');
        s.on('error', () => undefined);
        s.bind(0, HOST, () => resolve(s));
      }),
    ),
  );
  // RETRY tokens the server hands our sockets: echoed (some mutated, some from the wrong socket) as cookie INITIALs.
  const tokens = [];
  let repliesReceived = 0;
  for (const [i, s] of sockets.entries()) {
    s.on('message', (msg) => {
      repliesReceived++;
      const h = parseHeader(new Uint8Array(msg.buffer, msg.byteOffset, msg.length));
      if (typeof h === 'string' || h.type !== PacketType.Retry) return;
      const token = decodeRetry(h.payload);
      if (token && tokens.length < 4096) tokens.push({ socket: i, scid: h.dcid, token: token.slice() });
    });
  }
  const initial = (scid, token) => encodeInitial(new Uint8Array(MAX_DATAGRAM), below(1000), { scid, token, params: { receiveWindow: 1 << 20 } });
  const base = initial(1, new Uint8Array(0)).slice();

  const hostile = () => {
    switch (below(10)) {
      case 0:
      case 1:
        return fillRandomBytes(rnd, new Uint8Array(below(MAX_DATAGRAM + 200)));
      case 2: {
        // A real INITIAL with bits flipped.
        const d = base.slice();
        for (let k = 1 + below(8); k > 0; k--) d[below(d.length)] ^= 1 << below(8);
        return d;
      }
      case 3:
        // A real INITIAL cut short.
        return base.slice(0, below(base.length));
      case 4:
        // Token-less INITIAL: the server answers with a small RETRY and keeps no state.
        return initial(rnd() | 1, new Uint8Array(0));
      case 5:
        // Forged cookie.
        return initial(rnd() | 1, fillRandomBytes(rnd, new Uint8Array(below(2) === 0 ? 12 : below(65))));
      case 6: {
        // A real cookie, echoed with one byte changed (or with the wrong connection id).
        const t = tokens[below(Math.max(1, tokens.length))];
        if (!t) return initial(rnd() | 1, new Uint8Array(12));
        const token = t.token.slice();
        if (below(2) === 0) token[below(token.length)] ^= 1 + below(255);
        return initial(below(2) === 0 ? t.scid : t.scid ^ 1, token);
      }
      case 7: {
        // DATA for connections that do not exist, well checksummed.
        const w = new PacketWriter(new Uint8Array(64 + below(200)), PacketType.Data, rnd(), rnd());
        writePing(w);
        return w.finish().slice();
      }
      case 8: {
        // Valid checksum, wrong version / unknown type.
        const w = new PacketWriter(new Uint8Array(40), PacketType.Data, rnd(), rnd());
        writePing(w);
        const d = w.finish().slice();
        d[below(2)] = 5 + below(250);
        return d;
      }
      default:
        return fillRandomBytes(rnd, new Uint8Array(1 + below(40)));
    }
  };

  const started = performance.now();
  let inFlight = 0;
  let sent = 0;
  let sendErrors = 0;
  // Echoing a real cookie creates a real (idle) connection: a bounded number, to exercise state limits.
  let realEchoes = 0;
  const PAUSE_EVERY = 2000;
  for (let i = 0; i < COUNT; i++) {
    let data;
    let sock = sockets[below(sockets.length)];
    if (realEchoes < 200 && tokens.length > 0 && below(1000) === 0) {
      const t = tokens.pop();
      sock = sockets[t.socket];
      data = initial(t.scid, t.token);
      realEchoes++;
    } else {
      data = hostile();
    }
    inFlight++;
    sock.send(data, port, HOST, (err) => {
      inFlight--;
      if (err) sendErrors++;
      else sent++;
    });
    if (i % PAUSE_EVERY === PAUSE_EVERY - 1) {
      // Let the kernel buffers and the server catch up.
      await withTimeout(
        new Promise((resolve) => {
          const wait = () => (inFlight === 0 ? resolve() : setImmediate(wait));
          wait();
        }),
        30_000,
        'send queue drain',
      );
      await new Promise((r) => setTimeout(r, 2));
      if (server.exitCode !== null || server.signalCode !== null) throw new Error(`server died during the fuzz: ${serverErr.trim()}`);
    }
    if ((i + 1) % 100_000 === 0) process.stderr.write(`  ${i + 1} datagrams sent, server RSS ${((rss.at(-1) ?? 0) / 1024).toFixed(1)} MiB\n`);
  }
  await withTimeout(
    new Promise((resolve) => {
      const wait = () => (inFlight === 0 ? resolve() : setImmediate(wait));
      wait();
    }),
    30_000,
    'final send drain',
  );
  const fuzzSeconds = (performance.now() - started) / 1000;
  for (const s of sockets) s.close();

  // ------------------------------------------------------------------ a normal session afterwards
  const session = await runClient(port);
  for (const want of ['Welcome to the forum', 'Thread fuzzthread created', 'Message posted to fuzzthread thread', '1 fuzzer: hello after the fuzz', 'Goodbye']) {
    if (!session.out.includes(want)) failures.push(`client output lacks "${want}"`);
  }
  if (session.code !== 0) failures.push(`client exited with ${session.code}`);
  if (server.exitCode !== null || server.signalCode !== null) failures.push(`server is not running after the fuzz: ${serverErr.trim()}`);

  const peak = Math.max(...rss);
  console.log('');
  console.log('| fuzz-server | value |');
  console.log('|---|---|');
  console.log(`| hostile datagrams sent | ${sent.toLocaleString('en')} (${sendErrors} send errors) |`);
  console.log(`| time / rate | ${fuzzSeconds.toFixed(1)} s / ${Math.round(sent / fuzzSeconds).toLocaleString('en')} datagrams/s |`);
  console.log(`| server replies received | ${repliesReceived.toLocaleString('en')} (RETRY/ACCEPT; real cookie echoes: ${realEchoes}) |`);
  console.log(`| server RSS start / peak | ${((rssStart ?? 0) / 1024).toFixed(1)} MiB / ${(peak / 1024).toFixed(1)} MiB |`);
  console.log(`| client session afterwards | ${failures.length === 0 ? 'ok' : 'FAILED'} (${session.ms} ms) |`);
} catch (e) {
  failures.push(e instanceof Error ? e.message : String(e));
} finally {
  clearInterval(sampler);
  if (server.exitCode === null && server.signalCode === null) server.kill('SIGTERM');
  const exit = await withTimeout(serverExit, 10_000, 'server exit').catch(() => {
    server.kill('SIGKILL');
    return { code: null, signal: 'SIGKILL' };
  });
  if (exit.signal === 'SIGKILL') failures.push('server did not exit on SIGTERM within 10 s');
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(knownHostsDir, { recursive: true, force: true });
}

if (failures.length > 0) {
  console.error(`fuzz-server: FAILED\n  ${failures.join('\n  ')}`);
  if (serverErr.trim()) console.error(`server stderr (last 2 KiB):\n${serverErr.slice(-2048)}`);
  process.exit(1);
}
console.log('fuzz-server: ok');

/** One scripted forum-client session: new user, CRT, MSG, RDT, XIT. */
async function runClient(port) {
  const t0 = performance.now();
  const child = spawn(process.execPath, [clientBin, String(port), '--known-hosts', join(knownHostsDir, 'known_hosts')], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b) => (out += b));
  child.stderr.on('data', (b) => (out += b));
  const lines = ['fuzzer', 'fuzzpw', 'CRT fuzzthread', 'MSG fuzzthread hello after the fuzz', 'RDT fuzzthread', 'XIT'];
  // Answer each prompt as it appears, so the client reads the line it asked for.
  const prompts = ['Enter username: ', 'password: ', 'XIT: ', 'XIT: ', 'XIT: ', 'XIT: '];
  let next = 0;
  let seen = 0;
  const feed = () => {
    while (next < lines.length) {
      const at = out.indexOf(prompts[next], seen);
      if (at < 0) return;
      seen = at + prompts[next].length;
      child.stdin.write(`${lines[next]}\n`);
      next++;
    }
    child.stdin.end();
  };
  child.stdout.on('data', feed);
  const code = await withTimeout(new Promise((resolve) => child.once('exit', (c) => resolve(c))), 30_000, 'client session').catch((e) => {
    child.kill('SIGKILL');
    out += `\n[${e.message}]`;
    return -1;
  });
  return { out, code, ms: Math.round(performance.now() - t0) };
}
