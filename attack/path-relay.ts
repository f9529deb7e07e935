/**
 * Attack round 8, angle 4: an attacker on the path (a userspace UDP relay the
 * client talks through) against the built server and forum-client.
 *
 *   npx tsx attack/path-relay.ts rebind     # NAT rebinding mid-session: the relay's upstream port changes
 *   npx tsx attack/path-relay.ts zombie     # withhold 1 in 3 genuine client datagrams, kill the client, release them one per 8 s
 *   npx tsx attack/path-relay.ts baseline   # kill the client, release nothing (control for zombie)
 *   npx tsx attack/path-relay.ts redirect   # copy every client datagram from a second source port as well
 *   npx tsx attack/path-relay.ts replay     # record every client datagram; 35 s later (past the cookie's 30 s) replay them all, in order, within the session and after it ended
 *   npx tsx attack/path-relay.ts hijack     # race every client datagram ahead from a second port (the original 30 ms later) for 5 s, then stop: the connection follows, then comes back
 *   npx tsx attack/path-relay.ts mangle     # both ways: each datagram sent 3 times, 1 in 10 cut to a random length, all delayed 0–40 ms (reordered)
 *
 * Each prints how the client's session fared and how long after the client was
 * gone the same account could log in again (`U has already logged in` until then).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './lib-path.js';

const SERVER_BIN = new URL('../packages/server/bin/forum-server.js', import.meta.url).pathname;
const CLIENT_BIN = new URL('../packages/client/bin/forum-client.js', import.meta.url).pathname;
const mode = process.argv[2] ?? 'rebind';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A child process: its output so far, whether it has ended and all of that output been read (`closed`), and its end. */
const proc = (args: string[], label: string): { child: ChildProcess; out: () => string; closed: () => boolean; exited: Promise<number | null> } => {
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let closed = false;
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  child.stdin?.on('error', () => undefined);
  void label;
  // 'close', not 'exit' (nor `exitCode` set): the output is read once it ended, and 'exit' may come before the last of its pipes is read.
  const exited = new Promise<number | null>((r) =>
    child.once('close', (c) => {
      closed = true;
      r(c);
    }),
  );
  return { child, out: () => out, closed: () => closed, exited };
};
/** The relay: one client address; upstream socket replaceable (rebinding); client datagrams may be withheld. */
const relay = async (serverPort: number) => {
  const front = dgram.createSocket('udp4');
  await new Promise<void>((r) => front.bind(0, '127.0.0.1', () => r()));
  let client: { address: string; port: number } | undefined;
  const newUpstream = async (): Promise<dgram.Socket> => {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    s.on('message', (m) => {
      const c = client;
      if (c === undefined) return;
      if (state.mangle) mangled(m, (b) => front.send(b, c.port, c.address));
      else front.send(m, c.port, c.address);
    });
    return s;
  };
  let up = await newUpstream();
  const extra = await newUpstream();
  extra.removeAllListeners('message');
  extra.on('message', (m) => {
    state.extraReceived++;
    if (!state.extraDead && client !== undefined) front.send(m, client.port, client.address);
  });
  const recorded: Buffer[] = [];
  const state = { recorded, record: false, withholdEvery: 0, n: 0, held: [] as Buffer[], copyFromExtra: false, forwarded: 0, dropAll: false, mangle: false, truncated: 0, raceFromExtraMs: 0, extraDead: false, extraReceived: 0 };
  /** Sends `m` as mangled: three copies, one in ten cut short, each after 0–40 ms. */
  const mangled = (m: Buffer, send: (b: Buffer) => void): void => {
    for (let k = 0; k < 3; k++) {
      let b = m;
      if (Math.random() < 0.1) {
        b = m.subarray(0, Math.floor(Math.random() * m.length));
        state.truncated++;
      }
      setTimeout(() => send(b), Math.random() * 40);
    }
  };
  front.on('message', (m, rinfo) => {
    client = { address: rinfo.address, port: rinfo.port };
    state.n++;
    if (state.record) recorded.push(Buffer.from(m));
    if (state.dropAll) return;
    if (state.withholdEvery > 0 && state.n % state.withholdEvery === 0) {
      state.held.push(Buffer.from(m));
      return;
    }
    state.forwarded++;
    if (state.raceFromExtraMs > 0) {
      extra.send(m, serverPort, '127.0.0.1');
      setTimeout(() => up.send(m, serverPort, '127.0.0.1'), state.raceFromExtraMs);
      return;
    }
    if (state.mangle) return mangled(m, (b) => up.send(b, serverPort, '127.0.0.1'));
    up.send(m, serverPort, '127.0.0.1');
    if (state.copyFromExtra) extra.send(m, serverPort, '127.0.0.1');
  });
  return {
    port: (front.address() as { port: number }).port,
    state,
    rebind: async () => {
      const old = up;
      up = await newUpstream();
      old.close();
    },
    release: (m: Buffer) => up.send(m, serverPort, '127.0.0.1'),
    close: () => {
      front.close();
      up.close();
      extra.close();
    },
  };
};

const main = async (): Promise<void> => {
  const dir = await mkdtemp(join(tmpdir(), 'a8-relay-'));
  const server = proc([SERVER_BIN, '0', '--data-dir', dir, '--transfer-port', '0'], 'server');
  await waitFor(() => server.out().includes('Waiting for clients'), 10_000);
  const port = Number(/UDP [^ ]+:([0-9]+)/.exec(server.out())?.[1]);
  const r = await relay(port);
  const kh = join(dir, 'kh');
  if (mode === 'mangle') r.state.mangle = true;
  if (mode === 'replay') r.state.record = true;
  const client = proc([CLIENT_BIN, String(r.port), '--known-hosts', kh], 'client');
  client.child.stdin?.write('alice\npw\n');
  await waitFor(() => client.out().includes('Welcome'), 10_000);
  client.child.stdin?.write('CRT t\nMSG t before\n');
  await waitFor(() => client.out().includes('Message posted'), 5_000);
  console.log(`[${mode}] logged in through relay; datagrams so far ${r.state.n}`);
  const t0 = Date.now();
  if (mode === 'rebind') {
    await r.rebind();
    client.child.stdin?.write('MSG t after-rebind\n');
    const ok = await waitFor(() => client.out().includes('after-rebind') || /Message posted to t thread[\s\S]*Message posted to t thread/.test(client.out()), 15_000);
    await waitFor(() => client.closed(), 15_000);
    console.log(`[rebind] MSG after rebinding answered: ${ok}; client exit ${client.child.exitCode} after ${Date.now() - t0} ms; client said: ${JSON.stringify(client.out().split('\n').slice(-4).join(' | '))}`);
  } else if (mode === 'mangle') {
    const started = Date.now();
    for (let i = 0; i < 30; i++) client.child.stdin?.write(`MSG t mangled-${i} ${'z'.repeat(i * 100)}\n`);
    client.child.stdin?.write('RDT t\n');
    const ok = await waitFor(() => client.out().includes('mangled-29'), 30_000);
    const posted = (client.out().match(/Message posted to t thread/g) ?? []).length;
    const read = client.out().split('\n').filter((l) => /^[0-9]+ alice: mangled-/.test(l.replace(/^.*?: (?=[0-9]+ alice)/, ''))).length;
    console.log(`[mangle] 30 MSGs and an RDT through the mangling relay: ${posted - 1} of 30 posted, RDT listed ${ok ? 'all' : 'not all'} (${read} lines seen) in ${Date.now() - started} ms; ${r.state.truncated} datagrams cut short; server dropped: ${JSON.stringify(server.out().split('\n').filter((l) => /drop|auth|replay/i.test(l)).slice(0, 3))}`);
  } else if (mode === 'replay') {
    client.child.stdin?.write('MSG t once\n');
    await waitFor(() => (client.out().match(/Message posted/g) ?? []).length === 2, 5_000);
    r.state.record = false;
    const n = r.state.recorded.length;
    console.log(`[replay] recorded ${n} client datagrams (handshake, login, CRT, 2 MSG); waiting 35 s`);
    await sleep(35_000);
    for (const m of r.state.recorded) r.release(m);
    await sleep(1_000);
    client.child.stdin?.write('RDT t\n');
    await waitFor(() => /[0-9]+ alice: once/.test(client.out()), 5_000);
    const onceLines = client.out().split('\n').filter((l) => / alice: once$/.test(l)).length;
    console.log(`[replay] after replaying all ${n} within the session: 'once' listed ${onceLines} time(s); client alive: ${client.child.exitCode === null}; server log since: ${JSON.stringify(server.out().split('\n').filter((l) => l !== '').slice(-3))}`);
    client.child.stdin?.write('XIT\n');
    await waitFor(() => client.closed(), 5_000);
    const logLen = server.out().length;
    for (const m of r.state.recorded) r.release(m);
    await sleep(3_000);
    console.log(`[replay] after XIT, all ${n} replayed again: server log since: ${JSON.stringify(server.out().slice(logLen).trim() || '(nothing)')}`);
  } else if (mode === 'hijack') {
    r.state.raceFromExtraMs = 30;
    const before = (client.out().match(/Message posted/g) ?? []).length;
    for (let i = 0; i < 5; i++) {
      client.child.stdin?.write(`MSG t raced-${i}\n`);
      await sleep(1000);
    }
    const during = (client.out().match(/Message posted/g) ?? []).length - before;
    const toExtra = r.state.extraReceived;
    // The attacker leaves: its port goes dead, the client's datagrams go the normal way again.
    r.state.raceFromExtraMs = 0;
    r.state.extraDead = true;
    const leftAt = Date.now();
    client.child.stdin?.write('MSG t after-attacker-left\n');
    const back = await waitFor(() => (client.out().match(/Message posted/g) ?? []).length - before === 6, 20_000);
    console.log(`[hijack] 5 MSGs while raced from a second port: ${during} answered; server sent ${toExtra} datagrams to the second port meanwhile (${r.state.extraReceived - toExtra} more after it went dead); after the attacker left: MSG answered ${back ? `after ${Date.now() - leftAt} ms` : 'never (20 s)'}; client ${client.child.exitCode === null ? 'alive' : `exited ${client.child.exitCode}`}`);
  } else if (mode === 'redirect') {
    r.state.copyFromExtra = true;
    client.child.stdin?.write('MSG t with-copies\n');
    await sleep(3000);
    const posted = (client.out().match(/Message posted/g) ?? []).length;
    console.log(`[redirect] copies from another port: client still working: ${posted === 2 && client.child.exitCode === null}; server log: ${JSON.stringify(server.out().split('\n').slice(-3))}`);
    r.state.copyFromExtra = false;
  }
  if (mode === 'zombie' || mode === 'baseline') {
    // Let the session run a while with 1 in 3 client datagrams withheld (the client resends what is lost).
    r.state.withholdEvery = mode === 'zombie' ? 3 : 0;
    for (let i = 0; i < 20; i++) {
      client.child.stdin?.write(`MSG t m${i}\n`);
      await sleep(300);
    }
    r.state.withholdEvery = 0;
    console.log(`[${mode}] held ${r.state.held.length} genuine datagrams`);
  }
  // The client goes away (killed: no XIT, no CLOSE).
  client.child.kill('SIGKILL');
  await client.exited;
  const gone = Date.now();
  let releaser: NodeJS.Timeout | undefined;
  if (mode === 'zombie') {
    // Newest first: packet numbers within the replay window of the largest the server saw.
    const held = r.state.held.reverse();
    releaser = setInterval(() => {
      const m = held.shift();
      if (m !== undefined) r.release(m);
    }, 8_000);
    r.release(held.shift() as Buffer);
  }
  // How long until alice can log in again from a fresh client (direct, not through the relay).
  let loggedIn = -1;
  for (let attempt = 0; attempt < 40; attempt++) {
    const c = proc([CLIENT_BIN, String(port), '--known-hosts', kh], 'probe');
    c.child.stdin?.write('alice\npw\n');
    await waitFor(() => /Welcome|already logged in/.test(c.out()) || c.closed(), 8_000);
    const welcomed = c.out().includes('Welcome');
    c.child.kill('SIGKILL');
    if (welcomed) {
      loggedIn = Date.now() - gone;
      break;
    }
    await sleep(2_000);
  }
  if (releaser !== undefined) clearInterval(releaser);
  console.log(`[${mode}] alice could log in again ${loggedIn} ms after her client was killed`);
  r.close();
  server.child.kill('SIGTERM');
  await server.exited;
};
await main();
process.exit(0);
