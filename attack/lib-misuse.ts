/**
 * Attack round 13: what an application's misuse of rudpx's public API does (every default option).
 * Each case runs in this process on loopback and prints what happened: the error's class and code,
 * whether the process saw an uncaught exception or an unhandled rejection, and whether a socket or
 * timer was left behind (the process must exit by itself at the end: `timeout 60` around it says so).
 *
 * Run: `timeout 60 npx tsx attack/lib-misuse.ts`
 */
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { connect, listen, type RudpConnection } from '../packages/rudp/dist/index.js';
import { escaped as uncaught, describe, settle, sleep } from './lib-outcomes.js';

const results: [string, string][] = [];
const record = (name: string, what: string): void => {
  const extra = uncaught.splice(0);
  results.push([name, extra.length > 0 ? `${what} + ${extra.join('; ')}` : what]);
};

const server = await listen({ port: 0 });
const port = server.address().port;
const serverSide: RudpConnection[] = [];
server.on('connection', (c) => {
  serverSide.push(c);
  c.on('error', () => {});
});

// send / write / stream writes after close() and after destroy().
{
  const c = await connect({ port });
  const closing = c.close();
  record('send while close() drains', await settle(c.send('x')));
  record('write while close() drains', String(c.write('x')));
  await closing;
  record('send after close', await settle(c.send('x')));
  record('write after close', String(c.write('x')));
  const s = c.stream();
  const w = await new Promise<string>((r) => s.write('x', (e) => r(e ? describe(e) : 'callback without error')));
  record('stream().write after close', w);
  record('close() again', await settle(c.close()));
  c.destroy();
  record('destroy() after close', 'no throw');
}
// Abort during connect: a port that swallows datagrams (nothing answers, no ICMP).
{
  const sink = createSocket('udp4');
  await new Promise<void>((r) => sink.bind(0, '127.0.0.1', () => r()));
  const ac = new AbortController();
  const p = connect({ port: sink.address().port, signal: ac.signal });
  setTimeout(() => ac.abort(new Error('user gave up')), 50);
  record('abort 50 ms into a handshake nobody answers', await settle(p));
  record('connect to that port (handshakeTimeoutMs 300)', await settle(connect({ port: sink.address().port, handshakeTimeoutMs: 300 })));
  sink.close();
}
record('connect to a closed port', await settle(connect({ port: 9 })));
record('connect to no-such-host.invalid', await settle(connect({ host: 'no-such-host.invalid', port })));
record("connect({ port: '4000' })", await settle(connect({ port: '4000' as unknown as number })));
record('connect({ port: 70000 })', await settle(connect({ port: 70000 })));
record('listen({ port: -1 })', await settle(listen({ port: -1 })));
record('listen({ host: 300.1.1.1 })', await settle(listen({ port: 0, host: '300.1.1.1' })));
record("connect({ receiveWindow: '1' })", await settle(connect({ port, receiveWindow: '1' as unknown as number })));
{
  const c = await connect({ port });
  record('send(42)', await settle(c.send(42 as unknown as string)));
  record('send(33 MiB) (the window takes 32 MiB less 256)', await settle(c.send(Buffer.alloc(33 * 2 ** 20))));
  record('send(x, { signal: aborted })', await settle(c.send('x', { signal: AbortSignal.abort() })));
  let threw = 'no throw';
  try {
    c.write(Symbol('x') as unknown as string);
  } catch (e) {
    threw = describe(e);
  }
  record('write(Symbol())', threw);
  await c.close();
}
// A 'message' listener and a 'connection' listener that throw: does the connection (and the server) go on?
{
  const c = await connect({ port });
  await sleep(50);
  const peer = serverSide.at(-1)!;
  let seen = 0;
  peer.on('message', () => {
    seen++;
    throw new Error('listener bug');
  });
  await c.send('one');
  await c.send('two');
  await sleep(100);
  record("a 'message' listener that throws (uncaughtException handler installed)", `${seen} of 2 messages seen, connection ${peer.closed ? 'closed' : 'open'}`);
  peer.removeAllListeners('message');
  await c.close();
  server.once('connection', () => {
    throw new Error('connection listener bug');
  });
  const c2 = await connect({ port });
  await sleep(50);
  const c3 = await connect({ port });
  record("a 'connection' listener that throws", `next connect ${c3.closed ? 'closed' : 'established'}`);
  await Promise.all([c2.close(), c3.close()]);
}
// stream(): destroyed mid-write without an error; a pipeline whose source fails; the peer vanishing under `.pipe()`.
{
  const c = await connect({ port });
  await sleep(50);
  const peer = serverSide.at(-1)!;
  peer.stream().on('error', () => {}).resume();
  const s = c.stream();
  const big = Readable.from((function* () {
    for (let i = 0; i < 1000; i++) yield Buffer.alloc(64 * 1024, i);
  })());
  const p = pipeline(big, s);
  await sleep(30);
  s.destroy();
  record('stream().destroy() mid-pipeline (no error)', `${await settle(p)}; connection ${c.closed ? 'closed' : 'open'}, send after: ${await settle(c.send('after'))}`);
  await c.close();
}
{
  const c = await connect({ port });
  await sleep(50);
  const peer = serverSide.at(-1)!;
  peer.stream().on('error', () => {}).resume();
  const failing = new Readable({
    read() {
      this.destroy(new Error('disk read failed'));
    },
  });
  let peerSaw = 'nothing';
  peer.once('close', (reason) => (peerSaw = `close '${reason.message}'`));
  const r = await settle(pipeline(failing, c.stream()));
  await sleep(100);
  record('pipeline(failing source, conn.stream())', `${r}; connection ${c.closed ? 'closed' : 'open'}, peer saw ${peerSaw}`);
}
{
  // The app pipes a connection's stream with .pipe() and no 'error' listener; the peer closes before ending its stream.
  const c = await connect({ port });
  await sleep(50);
  const peer = serverSide.at(-1)!;
  peer.stream().pipe(new Writable({ write: (_c, _e, cb) => cb() }));
  await c.send('part of a stream');
  await c.close();
  await sleep(100);
  record(".pipe() of stream() with no 'error' listener, the peer closes mid-stream", uncaught.length > 0 ? 'the peer crashed it' : 'no error surfaced');
}
// One long-lived AbortSignal (a process's shutdown controller) given to every connect, send and close.
{
  const { getEventListeners } = (await import('node:events')).EventEmitter;
  const ac = new AbortController();
  const many: RudpConnection[] = [];
  for (let i = 0; i < 300; i++) many.push(await connect({ port, signal: ac.signal }));
  const afterConnect = getEventListeners(ac.signal, 'abort').length;
  await Promise.all(many.map((c) => c.send('x', { signal: ac.signal })));
  const afterSend = getEventListeners(ac.signal, 'abort').length;
  await Promise.all(many.map((c) => c.close({ signal: ac.signal })));
  record('one AbortSignal for 300 connects, sends and closes', `abort listeners left: ${afterConnect} after the connects, ${afterSend} after the sends, ${getEventListeners(ac.signal, 'abort').length} after the closes`);
}
// Closing the server while clients connect and while a send waits.
{
  const c = await connect({ port });
  const pending = settle(c.send(Buffer.alloc(4 * 2 ** 20)));
  const connecting = settle(connect({ port }));
  await server.close();
  record('server.close() with a client mid-handshake', await connecting);
  record("server.close() with the client's 4 MiB send pending", await pending);
  record('server.address() after close', (() => {
    try {
      return JSON.stringify(server.address());
    } catch (e) {
      return describe(e);
    }
  })());
  await c.close();
}
// Leaks: sockets and handles left by many aborted connects, server starts and stops, connect/close cycles.
{
  const { readdirSync } = await import('node:fs');
  const fds = (): number => readdirSync('/proc/self/fd').length;
  const resources = (): string => JSON.stringify(Object.entries(process.getActiveResourcesInfo().reduce<Record<string, number>>((a, r) => ((a[r] = (a[r] ?? 0) + 1), a), {})));
  await sleep(200);
  const before = `${fds()} fds, ${resources()}`;
  const sink = createSocket('udp4');
  await new Promise<void>((r) => sink.bind(0, '127.0.0.1', () => r()));
  const aborted = await Promise.all(
    Array.from({ length: 200 }, (_, i) => {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), i % 20);
      return settle(connect({ port: sink.address().port, signal: ac.signal }));
    }),
  );
  sink.close();
  for (let i = 0; i < 100; i++) await (await listen({ port: 0 })).close();
  const live = await listen({ port: 0 });
  for (let i = 0; i < 100; i++) await (await connect({ port: live.address().port })).close();
  for (let i = 0; i < 50; i++) (await connect({ port: live.address().port })).destroy();
  await live.close();
  await sleep(500);
  record(
    '200 connects aborted at 0-19 ms, 100 listen/close, 150 connect/close or destroy',
    `${aborted.filter((a) => a.includes('ABORT_ERR')).length} ABORT_ERR; before ${before}; after ${fds()} fds, ${resources()}`,
  );
}
for (const [name, what] of results) console.log(`${name}: ${what}`);
const t = setTimeout(() => console.log('still alive 5 s later: a handle was left behind'), 5000);
t.unref();
await once(process, 'beforeExit');
console.log('exited by itself');
