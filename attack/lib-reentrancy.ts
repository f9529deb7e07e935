/**
 * Attack round 30: rudpx's event handlers re-entered by the application that receives them (every
 * default option). Round 13 (`lib-misuse.ts`) called the API after close and with bad arguments; this
 * one calls it from inside the events themselves, while a batch of a peer's messages is being handed
 * over: destroy/close/pause/removeAllListeners in 'message', server.close() in 'connection' and in a
 * connection's 'message', send/close/destroy/stream() in 'close', destroy in 'drain', a reply
 * ping-pong of 20,000 rounds. Per case: what was delivered, how each promise settled, uncaught errors,
 * and at the end whether the process exits by itself with nothing left open.
 *
 * Run: `timeout 120 npx tsx attack/lib-reentrancy.ts` (`A30_CASES=1,5`: those cases only)
 */
import { createSocket } from 'node:dgram';
import { connect, listen, type RudpConnection, type RudpServer } from '../packages/rudp/dist/index.js';
import { escaped as uncaught, describe, settle, sleep } from './lib-outcomes.js';

const T0 = performance.now();
/** `A30_CASES=1,5` runs those cases only. */
const only = process.env.A30_CASES?.split(',').map(Number);
const on = (n: number): boolean => only === undefined || only.includes(n);
const record = (name: string, what: string): void => {
  const extra = uncaught.splice(0);
  console.log(`[${((performance.now() - T0) / 1000).toFixed(1)} s] ${name}: ${what}${extra.length > 0 ? ` + ${extra.join('; ')}` : ''}`);
};

/** A server whose every connection is handed to `onConn`; the client side connected to it. */
const pair = async (onConn: (c: RudpConnection, s: RudpServer) => void): Promise<{ server: RudpServer; client: RudpConnection }> => {
  const server = await listen({ port: 0 });
  server.on('connection', (c) => {
    c.on('error', () => undefined);
    onConn(c, server);
  });
  const client = await connect({ port: server.address().port });
  client.on('error', () => undefined);
  return { server, client };
};
/** Sends `n` numbered messages at once (not awaited one by one): one batch at the receiver. */
const burst = (c: RudpConnection, n: number, size = 100): Promise<string>[] =>
  Array.from({ length: n }, (_, i) => settle(c.send(Buffer.alloc(size, i & 255))));
const tally = (results: readonly string[]): string => {
  const m = new Map<string, number>();
  for (const r of results) m.set(r, (m.get(r) ?? 0) + 1);
  return [...m].map(([k, v]) => `${String(v)}× ${k}`).join(', ');
};

// 1. destroy() in the first 'message' of a 500-message batch.
if (on(1)) {
  let seen = 0;
  let afterDestroy = 0;
  let destroyed = false;
  const { server, client } = await pair((c) =>
    c.on('message', () => {
      seen++;
      if (destroyed) afterDestroy++;
      if (seen === 1) {
        c.destroy('enough');
        destroyed = true;
      }
    }),
  );
  const sends = await Promise.all(burst(client, 500));
  await sleep(200);
  record('1 destroy() in the 1st of 500 messages', `${String(seen)} delivered, ${String(afterDestroy)} after destroy; sends: ${tally(sends)}; client closed ${String(client.closed)}`);
  await server.close();
}

// 2. close() (not awaited) in the 1st 'message': the rest of the batch, and the close.
if (on(2)) {
  let seen = 0;
  let closing: Promise<string> | undefined;
  const { server, client } = await pair((c) =>
    c.on('message', () => {
      seen++;
      if (seen === 1) closing = settle(c.close());
    }),
  );
  const sends = await Promise.all(burst(client, 500));
  await sleep(300);
  record('2 close() in the 1st of 500 messages', `${String(seen)} delivered; close ${closing === undefined ? 'not called' : await closing}; sends: ${tally(sends)}`);
  await server.close();
}

// 3. pause() in every 'message', resume() from a microtask or a timer at random: order and count.
if (on(3)) {
  const got: number[] = [];
  let k = 0;
  const { server, client } = await pair((c) =>
    c.on('message', (m: Buffer) => {
      got.push(m.readUInt32BE(0));
      c.pause();
      if (++k % 3 === 0) setTimeout(() => c.resume(), 0);
      else queueMicrotask(() => c.resume());
    }),
  );
  const sends = await Promise.all(
    Array.from({ length: 3000 }, (_, i) => {
      const b = Buffer.alloc(8);
      b.writeUInt32BE(i, 0);
      return settle(client.send(b));
    }),
  );
  for (let i = 0; i < 100 && got.length < 3000; i++) await sleep(50);
  const inOrder = got.every((v, i) => v === i);
  record('3 pause()/resume() re-entered in each of 3,000 messages', `${String(got.length)} delivered, in order ${String(inOrder)}; sends: ${tally(sends)}`);
  await client.close();
  await server.close();
}

// 4. removeAllListeners('message') in the 1st message, a new listener 100 ms later: none lost.
if (on(4)) {
  let first = 0;
  let second = 0;
  const { server, client } = await pair((c) => {
    c.on('message', () => {
      first++;
      c.removeAllListeners('message');
      setTimeout(() => c.on('message', () => second++), 100);
    });
  });
  const sends = await Promise.all(burst(client, 300));
  await sleep(500);
  record('4 removeAllListeners(message) in the 1st of 300, a new one 100 ms later', `${String(first)} + ${String(second)} delivered; sends: ${tally(sends)}`);
  await client.close();
  await server.close();
}

// 5. server.close() in the 'connection' listener.
if (on(5)) {
  const server = await listen({ port: 0 });
  let closes = 0;
  server.on('close', () => closes++);
  let inListener = '';
  server.on('connection', (c) => {
    c.on('error', () => undefined);
    inListener = 'called';
    void settle(server.close()).then((r) => (inListener = r));
  });
  const c = await settle(connect({ port: server.address().port, handshakeTimeoutMs: 2000 }).then((x) => (x.on('error', () => undefined), x.close())));
  await sleep(300);
  record('5 server.close() in its own connection listener', `connect+close: ${c}; server.close: ${inListener}; server 'close' ×${String(closes)}`);
}

// 6. server.close() in one connection's 'message' while 20 connections deliver 100 messages each.
if (on(6)) {
  const server = await listen({ port: 0 });
  let seen = 0;
  let closeResult = '';
  let closeEvents = 0;
  server.on('close', () => closeEvents++);
  server.on('connection', (c) => {
    c.on('error', () => undefined);
    c.on('message', () => {
      seen++;
      if (seen === 50) void settle(server.close()).then((r) => (closeResult = r));
      // A second close from inside another message: must be the same 'close'.
      if (seen === 60) void settle(server.close());
    });
  });
  const clients = await Promise.all(Array.from({ length: 20 }, () => connect({ port: server.address().port })));
  for (const c of clients) c.on('error', () => undefined);
  const sends = await Promise.all(clients.flatMap((c) => burst(c, 100)));
  await sleep(500);
  record('6 server.close() in a message while 20 connections send 100 each', `${String(seen)} delivered; server.close ${closeResult}; 'close' ×${String(closeEvents)}; sends: ${tally(sends)}; clients closed ${String(clients.filter((c) => c.closed).length)}/20`);
}

// 7. In 'close': send, write, close, destroy, stream().write, and 'close' listeners added there.
if (on(7)) {
  const what: string[] = [];
  const { server, client } = await pair((c) => void c);
  let lateClose = 0;
  client.on('close', () => {
    void settle(client.send('x')).then((r) => what.push(`send ${r}`));
    what.push(`write ${String(client.write('x'))}`);
    void settle(client.close()).then((r) => what.push(`close ${r}`));
    client.destroy('again');
    what.push('destroy no throw');
    client.stream().write('x', (e) => what.push(`stream.write ${e ? describe(e) : 'no error'}`));
    client.on('close', () => lateClose++);
  });
  client.destroy('first');
  await sleep(200);
  record("7 send/write/close/destroy/stream().write in 'close'", `${what.join('; ')}; a 'close' listener added in 'close' called ×${String(lateClose)}`);
  await server.close();
}

// 8. destroy() in 'drain' while writes are queued past the high-water mark.
if (on(8)) {
  const { server, client } = await pair((c) => c.on('message', () => undefined));
  let drains = 0;
  client.on('drain', () => {
    drains++;
    client.destroy('in drain');
  });
  let writes = 0;
  while (client.write(Buffer.alloc(64 * 1024))) writes++;
  await sleep(1000);
  record("8 destroy() in 'drain'", `${String(writes + 1)} writes to the mark; 'drain' ×${String(drains)}; closed ${String(client.closed)}; writableLength ${String(client.writableLength)}`);
  await server.close();
}

// 9. A reply ping-pong of 20,000 rounds, each send made inside the other side's 'message'.
if (on(9)) {
  const { server, client } = await pair((c) => c.on('message', (m: Buffer) => void c.send(m).catch(() => undefined)));
  let rounds = 0;
  const done = new Promise<void>((resolve) =>
    client.on('message', (m: Buffer) => {
      if (++rounds >= 20_000) return resolve();
      void client.send(m).catch(() => undefined);
    }),
  );
  const t0 = performance.now();
  const heap0 = process.memoryUsage().heapUsed;
  await client.send(Buffer.alloc(32));
  let cap: NodeJS.Timeout | undefined;
  await Promise.race([done, new Promise<void>((r) => (cap = setTimeout(r, 60_000)))]);
  clearTimeout(cap);
  record('9 ping-pong, each send inside the other end\'s message', `${String(rounds)} rounds in ${((performance.now() - t0) / 1000).toFixed(1)} s, heap ${((process.memoryUsage().heapUsed - heap0) / 2 ** 20).toFixed(1)} MiB more`);
  await client.close();
  await server.close();
}

// 10. for await … break in the 1st message, with 300 queued: the connection after.
if (on(10)) {
  const { server, client } = await pair((c) => {
    void (async () => {
      for await (const m of c) {
        void m;
        break;
      }
    })();
  });
  const sends = await Promise.all(burst(client, 300));
  await sleep(300);
  record('10 for await … break in the 1st of 300', `sends: ${tally(sends)}; client closed ${String(client.closed)}`);
  await server.close();
  await sleep(300);
  record('10 … then server.close()', `client closed ${String(client.closed)}`);
}

// 11. destroy()/close()/server.close() in the 'connection' listener, the client behind a UDP relay (no ICMP
// error from a closed port stands in for the server's CLOSE, as on a real network).
for (const [n, how] of [
  [11, 'destroy'],
  [12, 'close'],
  [13, 'server.close'],
] as const) {
  if (!on(n)) continue;
  const server = await listen({ port: 0 });
  server.on('connection', (c) => {
    c.on('error', () => undefined);
    if (how === 'destroy') c.destroy('go away');
    else if (how === 'close') void c.close();
    else void server.close().catch(() => undefined);
  });
  const relay = createSocket('udp4');
  const up = createSocket('udp4');
  await new Promise<void>((r) => relay.bind(0, '127.0.0.1', () => r()));
  await new Promise<void>((r) => up.bind(0, '127.0.0.1', () => r()));
  let client: { port: number } | undefined;
  const serverPort = server.address().port;
  relay.on('message', (m, from) => ((client = from), up.send(m, serverPort, '127.0.0.1')));
  up.on('message', (m) => client !== undefined && relay.send(m, client.port, '127.0.0.1'));
  up.on('error', () => undefined);
  const t = performance.now();
  const outcome = await connect({ port: relay.address().port, handshakeTimeoutMs: 5_000 }).then(
    async (c) => {
      c.on('error', () => undefined);
      const wasClosed = c.closed;
      const why = wasClosed ? 'closed when handed over' : `'close' ${JSON.stringify(await new Promise((r) => c.once('close', r)))}`;
      return `connected, ${why}; a send then: ${await settle(c.send('x'))}`;
    },
    (e: unknown) => describe(e),
  );
  record(`${String(n)} ${how} in the 'connection' listener, through a relay`, `${outcome} after ${String(Math.round(performance.now() - t))} ms`);
  relay.close();
  up.close();
  await server.close().catch(() => undefined);
}

await sleep(100);
const left = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'PipeWrap');
record('end', `active resources (stdio pipes aside): ${left.length === 0 ? 'none' : left.join(', ')}`);
process.on('exit', () => console.log(`[${((performance.now() - T0) / 1000).toFixed(1)} s] exited by itself`));
