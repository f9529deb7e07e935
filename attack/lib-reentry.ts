/**
 * Attack round 31: what an application's handlers and arguments can do to rudpx from the inside.
 * Reentrancy: close()/destroy()/write()/send()/pause()/resume()/server.close() called from inside every
 * event rudpx emits ('connection', 'message', 'drain', 'close', 'error', a stream's 'data', an abort
 * listener), and listeners that throw. Arguments: transferred buffers, SharedArrayBuffer views, a buffer
 * changed after write(), 0-byte and largest messages, options of the wrong type or out of range, aborted
 * signals, names that do not resolve, IPv6 zones. Each case prints what happened: errors (class and code),
 * what escaped to the process (uncaught exceptions, unhandled rejections), the server's live connection
 * table, and at the end the fds and active handles left (the process must exit by itself: `timeout`).
 *
 * Run: `timeout 120 npx tsx attack/lib-reentry.ts` (against the built package, `packages/rudp/dist`).
 */
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { connect, listen, type RudpConnection, type RudpServer } from '../packages/rudp/dist/index.js';
import { describe, escaped, settle, sleep } from './lib-outcomes.js';

const tryCall = (f: () => unknown): string => {
  try {
    return `returned ${String(f())}`;
  } catch (e) {
    return `threw ${describe(e)}`;
  }
};
const results: [string, string][] = [];
const record = (name: string, what: string): void => {
  const extra = escaped.splice(0);
  results.push([name, extra.length > 0 ? `${what} + ESCAPED ${[...new Set(extra)].join('; ')} (${extra.length}x)` : what]);
  if (process.env['PROGRESS']) console.error(`[${name}]`);
};
const fds = (): number => readdirSync('/proc/self/fd').length;
const resources = (): string => JSON.stringify(Object.entries(process.getActiveResourcesInfo().reduce<Record<string, number>>((a, r) => ((a[r] = (a[r] ?? 0) + 1), a), {})));

await sleep(100);
const before = `${fds()} fds, ${resources()}`;

/** A server whose 'connection' handler is `onConnection`; a client connects; `body` runs; both are closed after. */
async function scenario(name: string, onConnection: (c: RudpConnection, s: RudpServer) => void, body: (client: RudpConnection | string, s: RudpServer) => Promise<string>): Promise<void> {
  const s = await listen({ port: 0 });
  s.on('connection', (c) => onConnection(c, s));
  let client: RudpConnection | string;
  try {
    client = await connect({ port: s.address().port, handshakeTimeoutMs: 1000 });
    client.on('error', () => {});
  } catch (e) {
    client = `connect ${describe(e)}`;
  }
  let what: string;
  try {
    what = await body(client, s);
  } catch (e) {
    what = `body threw ${describe(e)}`;
  }
  await sleep(50);
  const closeServer = await settle(s.close());
  if (typeof client !== 'string') client.destroy();
  record(name, `${what}; server.close() ${closeServer}, live after ${s.connections.size}`);
}

/** A client (ECHO: the server echoes) and `n` messages it got back, within `ms`. */
const collect = (c: RudpConnection, ms: number): Promise<string[]> => {
  const got: string[] = [];
  c.on('message', (m: Buffer) => got.push(m.toString()));
  return sleep(ms).then(() => got);
};
const echo = (c: RudpConnection): void => void c.on('message', (m: Buffer) => c.write(m));

// ---------------------------------------------------------------- reentrancy: the server's 'connection' handler
for (const [what, act] of [
  ['destroy()', (c: RudpConnection) => c.destroy()],
  ['close()', (c: RudpConnection) => void c.close()],
  ['write() then destroy()', (c: RudpConnection) => (c.write('hi'), c.destroy())],
  ['server.close()', (_c: RudpConnection, s: RudpServer) => void s.close()],
  ['throw', () => { throw new Error('handler bug'); }],
] as const) {
  await scenario(`'connection' handler: ${what}`, act, async (client) => {
    if (typeof client === 'string') return client;
    const closed = once(client, 'close').then(([r]) => JSON.stringify(r));
    const got = await collect(client, 300);
    return `client got [${got.join(',')}], close ${await Promise.race([closed, sleep(2000).then(() => 'none in 2 s')])}, send after: ${await settle(client.send('x'))}`;
  });
}

// ---------------------------------------------------------------- reentrancy: 'message' handlers
for (const [what, act] of [
  ['destroy() at the 2nd', (c: RudpConnection, n: number) => n === 2 && c.destroy()],
  ['close() at the 2nd', (c: RudpConnection, n: number) => n === 2 && void c.close()],
  ['pause() at the 2nd, resume() next tick', (c: RudpConnection, n: number) => n === 2 && (c.pause(), setImmediate(() => c.resume()))],
  ['resume() pause() resume() each', (c: RudpConnection) => (c.resume(), c.pause(), c.resume())],
  ['removeAllListeners(message) at the 2nd', (c: RudpConnection, n: number) => n === 2 && c.removeAllListeners('message')],
  ['throw at the 2nd', (_c: RudpConnection, n: number) => { if (n === 2) throw new Error('handler bug'); }],
  ['throw at every one', () => { throw new Error('handler bug'); }],
] as const) {
  let n = 0;
  let seen = 0;
  await scenario(`server 'message' handler: ${what}`, (c) => c.on('message', () => { seen = ++n; act(c, n); }), async (client) => {
    if (typeof client === 'string') return client;
    const sends = await Promise.all([1, 2, 3, 4, 5].map((i) => settle(client.send(`m${i}`))));
    await sleep(100);
    return `server read ${seen}; client sends ${[...new Set(sends)].join('/')}; client ${client.closed ? 'closed' : 'open'}`;
  });
}

// ---------------------------------------------------------------- reentrancy: 'close', 'error', 'drain' handlers
await scenario("'close' handler calls write/send/close/destroy/pause/resume", (c) => echo(c), async (client) => {
  if (typeof client === 'string') return client;
  const inside = new Promise<string>((r) =>
    client.on('close', () => {
      const sent = client.send('after').then(() => 'resolved', (e: unknown) => describe(e));
      r(`write ${tryCall(() => client.write('x'))}, close() ${tryCall(() => void client.close())}, destroy ${tryCall(() => client.destroy())}, pause/resume ${tryCall(() => client.pause().resume())}, send → ${'pending'}`);
      void sent.then((s) => escaped.length === 0 && results.push(['  (send in close handler settled)', s]));
    }),
  );
  client.destroy();
  return await inside;
});
await scenario("'close' handler of a server connection calls server.close()", (c, s) => c.on('close', () => void s.close()), async (client) => {
  if (typeof client === 'string') return client;
  await client.close();
  return 'client closed';
});
{
  // The peer vanishes under a relay: the relay's port closes, the client's connected socket hears the ICMP
  // error (ECONNRESET, an 'error' event), and its 'error' listener destroys the connection and throws.
  const s = await listen({ port: 0 });
  s.on('connection', (c) => c.on('error', () => {}));
  const relay = createSocket('udp4');
  await new Promise<void>((r) => relay.bind(0, '127.0.0.1', () => r()));
  let clientAt: { port: number } | undefined;
  relay.on('message', (m, from) => {
    if (from.port === s.address().port) {
      if (clientAt) relay.send(m, clientAt.port, '127.0.0.1');
    } else {
      clientAt = from;
      relay.send(m, s.address().port, '127.0.0.1');
    }
  });
  const c = await connect({ port: (relay.address() as { port: number }).port });
  let errors = 0;
  c.on('error', () => {
    errors++;
    c.destroy();
    throw new Error('error handler bug');
  });
  const closed = once(c, 'close').then(([x]) => JSON.stringify(x));
  relay.close();
  const pending = settle(c.send('into a closed port'));
  const r = await Promise.race([closed, sleep(3000).then(() => 'none in 3 s')]);
  record("'error' handler destroys and throws (the peer's port closed)", `'error' ${errors}x, close ${r}, pending send ${await pending}, send after ${await settle(c.send('x'))}`);
  await s.close();
}
await scenario("'drain' handler destroys / writes more", (c) => c.pause(), async (client) => {
  if (typeof client === 'string') return client;
  // The server reads nothing (paused): the client's writes pile up until write() says false.
  let writes = 0;
  while (client.write(Buffer.alloc(60_000))) writes++;
  const drained = new Promise<string>((r) => client.once('drain', () => r(`drain: write ${tryCall(() => client.write('more'))}, destroy ${tryCall(() => client.destroy())}`)));
  return `write() false after ${writes + 1} writes (writableLength ${client.writableLength}); ${await Promise.race([drained, sleep(1500).then(() => 'no drain in 1.5 s (server paused: expected)')])}`;
});

// ---------------------------------------------------------------- reentrancy: streams, abort listeners
await scenario("stream 'data' handler: end() and destroy()", (c) => echo(c), async (client) => {
  if (typeof client === 'string') return client;
  const st = client.stream();
  st.on('error', () => {});
  const r = new Promise<string>((res) => st.on('data', () => res(`end ${tryCall(() => st.end())}, destroy ${tryCall(() => st.destroy())}`)));
  st.write('hello');
  return `${await Promise.race([r, sleep(1000).then(() => 'no data')])}; connection ${client.closed ? 'closed' : 'open'}`;
});
{
  // An application's own abort listener on the connect signal, added before connect's: it destroys the
  // server and throws while rudpx's listener is still to run.
  const s = await listen({ port: 0 });
  const ac = new AbortController();
  ac.signal.addEventListener('abort', () => {
    void s.close();
    throw new Error('abort listener bug');
  });
  const p = connect({ port: s.address().port, signal: ac.signal });
  ac.abort();
  record('abort listener closes the server and throws; connect aborted in the same tick', `${await settle(p)}; server live ${s.connections.size}`);
  await s.close();
}
{
  const s = await listen({ port: 0 });
  const c = await connect({ port: s.address().port });
  const sendAc = new AbortController();
  const p = c.send('x', { signal: sendAc.signal });
  sendAc.signal.addEventListener('abort', () => c.destroy());
  sendAc.abort();
  record('abort of a send whose listener destroys the connection', `${await settle(p)}; closed ${c.closed}`);
  const c2 = await connect({ port: s.address().port });
  record('close({ signal: AbortSignal.abort() })', `${await settle(c2.close({ signal: AbortSignal.abort() }))}; closed ${c2.closed}`);
  await s.close();
}

// ---------------------------------------------------------------- arguments
await scenario('bytes: SharedArrayBuffer, a buffer changed after write(), 0 bytes, the largest', (c) => echo(c), async (client) => {
  if (typeof client === 'string') return client;
  const got: string[] = [];
  client.on('message', (m: Buffer) => got.push(m.length <= 8 ? `${m.length}:${m.toString()}` : `${m.length} B`));
  const sab = new SharedArrayBuffer(3);
  new Uint8Array(sab).set([0x73, 0x61, 0x62]);
  client.write(new Uint8Array(sab));
  const b = Buffer.from('before');
  client.write(b);
  b.write('after!');
  client.write(new Uint8Array(0));
  const max = client.maxMessageSize();
  const big = await settle(client.send(Buffer.alloc(max)));
  const over = tryCall(() => client.write(Buffer.alloc(max + 1)));
  await sleep(300);
  return `echoes [${got.join(', ')}]; maxMessageSize ${max}: send ${big}; +1: ${over}`;
});
await scenario('bytes: a buffer transferred (detached) after write(), and one detached before', (c) => echo(c), async (client) => {
  if (typeof client === 'string') return client;
  const closed = once(client, 'close').then(([r]) => JSON.stringify(r));
  const ab = new ArrayBuffer(200_000);
  const pending = settle(client.send(new Uint8Array(ab)));
  structuredClone(ab, { transfer: [ab] });
  const r = await Promise.race([closed, sleep(2000).then(() => 'none in 2 s')]);
  const gone = new ArrayBuffer(8);
  const view = new Uint8Array(gone);
  structuredClone(gone, { transfer: [gone] });
  return `close ${r}; pending send ${await pending}; write(detached view) ${tryCall(() => client.write(view))}`;
});
{
  const bad: [string, Record<string, unknown>][] = [
    ['highWaterMark NaN', { highWaterMark: Number.NaN }],
    ['highWaterMark Infinity', { highWaterMark: Number.POSITIVE_INFINITY }],
    ['highWaterMark -1', { highWaterMark: -1 }],
    ['highWaterMark "1024"', { highWaterMark: '1024' }],
    ['idleTimeoutMs NaN', { idleTimeoutMs: Number.NaN }],
    ['idleTimeoutMs 1e300', { idleTimeoutMs: 1e300 }],
    ['receiveWindow 2**53', { receiveWindow: 2 ** 53 }],
    ['receiveWindow 1.5', { receiveWindow: 1024.5 }],
    ['mtu 0', { mtu: 0 }],
    ['maxConnections 0', { maxConnections: 0 }],
    ['keepAliveMs Infinity', { keepAliveMs: Number.POSITIVE_INFINITY }],
    ['port NaN', { port: Number.NaN }],
    ['port "4000"', { port: '4000' }],
    ['port 65536', { port: 65536 }],
    ['host 42', { host: 42 }],
    ['signal "x"', { signal: 'x' }],
    ['lookup 5', { lookup: 5 }],
    ['redundancy null', { redundancy: null }],
    ['congestion () => null', { congestion: () => null }],
  ];
  const s = await listen({ port: 0 });
  const out: string[] = [];
  for (const [name, o] of bad) {
    const isListenOnly = name.startsWith('maxConnections');
    const p = isListenOnly ? listen({ port: 0, ...o }) : connect({ port: s.address().port, ...o });
    const r = await settle(p.then(async (x) => void (await x.close())));
    out.push(`${name} → ${r.replace(/:.*/, '')}`);
  }
  record('options of the wrong type or range (listen/connect)', out.join('; '));
  // Options given to calls on an open connection.
  const c = await connect({ port: s.address().port });
  const calls: string[] = [];
  calls.push(`write(x, { channel: NaN }) ${tryCall(() => c.write('x', { channel: Number.NaN }))}`);
  calls.push(`write(x, { channel: 256 }) ${tryCall(() => c.write('x', { channel: 256 }))}`);
  calls.push(`write(x, { reliable: 'no' }) ${tryCall(() => c.write('x', { reliable: 'no' as unknown as boolean }))}`);
  calls.push(`raiseReceiveWindow(NaN) ${tryCall(() => c.raiseReceiveWindow(Number.NaN))}`);
  calls.push(`raiseReceiveWindow(Infinity) ${tryCall(() => c.raiseReceiveWindow(Number.POSITIVE_INFINITY))}`);
  calls.push(`raiseReceiveWindow(2**60) ${tryCall(() => c.raiseReceiveWindow(2 ** 60))}`);
  calls.push(`exportKeyingMaterial('l', new Uint8Array(0), NaN) ${tryCall(() => c.exportKeyingMaterial('l', new Uint8Array(0), Number.NaN).length)}`);
  calls.push(`destroy(42) ${tryCall(() => c.destroy(42 as unknown as string))}`);
  calls.push(`close({ signal: 1 }) ${await settle(c.close({ signal: 1 as unknown as AbortSignal }))}`);
  calls.push(`still open ${!c.closed}, send ${await settle(c.send('ok'))}`);
  record('arguments of the wrong type or range on a connection', calls.join('; '));
  await c.close();
  await s.close();
}
{
  const s = await listen({ port: 0 });
  const port = s.address().port;
  const silent = createSocket('udp4');
  await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
  const ac = new AbortController();
  const t0 = Date.now();
  const p = connect({ port: (silent.address() as { port: number }).port, signal: ac.signal });
  ac.abort();
  record('connect to an IP address, aborted in the same tick (silent port)', `${await settle(p)} after ${Date.now() - t0} ms`);
  silent.close();
  record('connect({ signal: AbortSignal.abort() })', await settle(connect({ port, signal: AbortSignal.abort() })));
  record("connect({ host: 'no-such-host.invalid' })", await settle(connect({ port, host: 'no-such-host.invalid' })));
  record("connect with a lookup that throws", await settle(connect({ port, host: 'x.test', lookup: () => { throw new Error('lookup bug'); } })));
  record("connect with a lookup that calls back twice", await settle(connect({ port, host: 'x.test', lookup: ((_h: string, _o: unknown, cb: (e: null, a: { address: string; family: number }[]) => void) => { cb(null, [{ address: '127.0.0.1', family: 4 }]); cb(null, [{ address: '127.0.0.1', family: 4 }]); }) as never })));
  await s.close();
  const s6 = await listen({ port: 0, host: '::1' }).then(async (srv) => {
    const a = await settle(connect({ port: srv.address().port, host: '::1%lo' }).then((c) => c.close()));
    const b = await settle(connect({ port: srv.address().port, host: 'fe80::1%nonexistent0' }).then((c) => c.close()));
    await srv.close();
    return `'::1%lo' ${a}; 'fe80::1%nonexistent0' ${b}`;
  }, (e: unknown) => `listen on ::1 ${describe(e)}`);
  record('IPv6 zones', s6);
}

// ---------------------------------------------------------------- resources from the user side
{
  const s = await listen({ port: 0 });
  s.on('connection', (c) => c.pause());
  const c = await connect({ port: s.address().port });
  // Ignore write()'s false: queue 64 MiB for a peer that reads nothing.
  let falseAt = -1;
  for (let i = 0; i < 1024; i++) if (!c.write(Buffer.alloc(65_536)) && falseAt < 0) falseAt = i;
  await sleep(500);
  // Held by reference (the application's Buffers, not copies): bufferedAmount says how much.
  record('1,024 × 64 KiB written to a paused peer, write()=false ignored', `write() false from write ${falseAt + 1}; bufferedAmount ${c.bufferedAmount} (the application's own queue, as a net.Socket's)`);
  const t0 = Date.now();
  c.destroy();
  await sleep(100);
  record('  then destroy()', `bufferedAmount ${c.bufferedAmount}, writableLength ${c.writableLength} after ${Date.now() - t0} ms`);
  await s.close();
}
{
  const s = await listen({ port: 0 });
  const fd0 = fds();
  const rss0 = process.memoryUsage().rss;
  const many: RudpConnection[] = [];
  for (let i = 0; i < 300; i++) many.push(await connect({ port: s.address().port }));
  record('300 client connections opened, never closed', `+${fds() - fd0} fds (one socket each), RSS +${Math.round((process.memoryUsage().rss - rss0) / 2 ** 20)} MiB, server live ${s.connections.size}`);
  for (const c of many) c.unref();
  await s.close();
  await sleep(200);
  record('  then server.close()', `clients closed ${many.filter((c) => c.closed).length}/300 (told by the server's CLOSE), fds +${fds() - fd0}`);
  for (const c of many) c.destroy();
}

{
  // A process that ends its work with connections still open: does it exit by itself?
  const dist = new URL('../packages/rudp/dist/index.js', import.meta.url).href;
  const run = async (label: string, body: string): Promise<void> => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--input-type=module', '-e', `import { listen, connect } from '${dist}';\n${body}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = once(child, 'close').then(([code]) => `exited (code ${String(code)}) after ${Date.now() - t0} ms`);
    const r = await Promise.race([exited, sleep(3000).then(() => 'still running after 3 s')]);
    if (r.startsWith('still')) child.kill();
    record(`process exit: ${label}`, `${r}${err ? `; stderr ${err.trim().split('\n')[0]}` : ''}`);
  };
  await run('a connection left open (ref, the default)', "const s = await listen({ port: 0 }); const c = await connect({ port: s.address().port }); s.unref();");
  await run('a connection and server unref()d', "const s = await listen({ port: 0 }); const c = await connect({ port: s.address().port }); s.unref(); c.unref(); for (const x of s.connections) x.unref(); c.write('bye');");
  await run('a client unref()d with 1 MiB unacknowledged', "const s = await listen({ port: 0 }); s.on('connection', (x) => x.pause()); const c = await connect({ port: s.address().port }); for (let i = 0; i < 16; i++) c.write(Buffer.alloc(65536)); s.unref(); c.unref(); for (const x of s.connections) x.unref();");
  await run('process.exit() with connections open', "const s = await listen({ port: 0 }); const c = await connect({ port: s.address().port }); c.write('x'); process.exit(0);");
}

await sleep(300);
for (const [name, what] of results) console.log(`${name}: ${what}`);
console.log(`before: ${before}; after: ${fds()} fds, ${resources()}`);
const t = setTimeout(() => console.log('still alive 5 s later: a handle was left behind'), 5000);
t.unref();
await once(process, 'beforeExit');
console.log('exited by itself');
