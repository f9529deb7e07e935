/**
 * Attack round 13: a third-party application on rudpx's public API with every
 * default option, written as packages/rudp/README.md shows it. One mode a run:
 *
 * - `echo`: the Quick start's echo (`conn.on('message', (m) => conn.send(m).catch(() => {}))`);
 * - `echo-bp`: the same echo with backpressure (`write`, `pause()` until `'drain'`), as the README now shows it;
 * - `stream-echo`: `pipeline(conn.stream(), conn.stream())`;
 * - `stream-sink`: `pipeline(conn.stream(), <a writable taking 64 KiB a second>)` (a slow disk, a slow upstream);
 * - `iterate`: `for await (const m of conn)` with a body that takes 10 ms;
 * - `noread`: keeps each connection (say, until the client logs in) and reads nothing;
 * - `count`: reads every message and counts it (a bare reader).
 *
 * Prints `port N` once listening, then every second one JSON line of its own figures
 * (connections, heap, external, RSS in MiB, CPU ms). Stops after `seconds` (default 60).
 *
 * Run: `npx tsx attack/lib-app.ts <mode> [seconds]` (after `pnpm --filter rudpx build`).
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { listen, type RudpConnection } from '../packages/rudp/dist/index.js';

const mode = process.argv[2] ?? 'echo';
const seconds = Number(process.argv[3] ?? 60);

const handlers: Record<string, (conn: RudpConnection) => void> = {
  echo: (conn) => conn.on('message', (m) => conn.send(m).catch(() => {})),
  'echo-bp': (conn) =>
    conn.on('message', (m) => {
      if (!conn.write(m) && !conn.isPaused()) {
        conn.pause();
        conn.once('drain', () => conn.resume());
      }
    }),
  'stream-echo': (conn) => void pipeline(conn.stream(), conn.stream()).catch(() => {}),
  'stream-sink': (conn) => {
    const slow = new Writable({ write: (_chunk, _enc, cb) => setTimeout(cb, 1000), highWaterMark: 64 * 1024 });
    void pipeline(conn.stream(), slow).catch(() => {});
  },
  iterate: (conn) =>
    void (async () => {
      try {
        for await (const _m of conn) await new Promise((r) => setTimeout(r, 10));
      } catch {
        /* the peer went away */
      }
    })(),
  noread: () => {},
  count: (conn) => conn.on('message', () => void messages++),
};
let messages = 0;
const handler = handlers[mode];
if (!handler) throw new Error(`unknown mode ${mode}`);

const server = await listen({ port: 0 });
server.on('connection', (conn) => {
  conn.on('error', () => {});
  handler(conn);
});
console.log(`port ${server.address().port}`);
const mib = (n: number): number => Math.round(n / 2 ** 20);
// Under `node --expose-gc` (lib-peer.ts starts it so) garbage is collected before each figure: what is left is held.
const gc = (globalThis as { gc?: () => void }).gc;
const timer = setInterval(() => {
  gc?.();
  const m = process.memoryUsage();
  const cpu = process.cpuUsage();
  console.log(JSON.stringify({ connections: server.connections.size, heap: mib(m.heapUsed), external: mib(m.external), rss: mib(m.rss), cpuMs: Math.round((cpu.user + cpu.system) / 1000), messages, wireMiB: mib(server.stats().bytesReceived), dropped: server.stats().droppedTotal }));
}, 1000);
setTimeout(() => {
  clearInterval(timer);
  void server.close().finally(() => process.exit(0));
}, seconds * 1000);
