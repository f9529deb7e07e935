/**
 * The servers the package shows, run as written against hostile clients (attack round 13,
 * attack/README-13.md).
 *
 * The echoes (the README's Quick start, examples/echo.mjs and echo.cjs), against a client that sends
 * and never reads its echoes: they answered with `conn.send(m).catch(() => {})`, which queues whatever
 * it is given, so once the client's receive window was full every echo waited in the server, which
 * grew by what the client sent (+1,177 MiB in 10 s from one connection on loopback). Each must now
 * hold back: stop reading the client until its echoes drain, so the client stalls at the server's window.
 *
 * The chat (examples/chat.mjs), against a member that floods one-byte lines and one that never reads:
 * every line was relayed as it came (some 100,000 a second on loopback), and the silent member was
 * dropped only once 4 MiB of line bytes were queued for it (some 520,000 lines, +277 MiB of heap).
 * Each member's lines are now paced (20 a second, bursts of 40: the flooder's own window holds the
 * rest) and a member is dropped by `writableLength`, which counts what short lines cost. A line was as
 * long as the window took: one of 5 MiB and a byte after it dropped every other member as too slow; a
 * line over 4 KiB now drops its sender.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { RudpConnection, RudpServer } from '../src/index.js';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, listen } from '../src/index.js';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));

/** The `server.on('connection', …)` statement of `source`: its text up to the matching parenthesis. */
function connectionHandler(source: string): string {
  const start = source.indexOf("server.on('connection'");
  if (start < 0) throw new Error('no connection handler');
  let depth = 0;
  let quote: string | undefined;
  for (let i = start + 'server.on'.length; i < source.length; i++) {
    const ch = source[i]!;
    if (quote !== undefined) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = undefined;
      continue;
    }
    if (ch === "'" || ch === '"' || ch === '`') quote = ch;
    else if (ch === '/' && source[i + 1] === '/') i = source.indexOf('\n', i);
    else if (ch === '(') depth++;
    else if (ch === ')' && --depth === 0) return source.slice(start, i + 1);
  }
  throw new Error('unbalanced connection handler');
}

const readme = readFileSync(`${pkgDir}README.md`, 'utf8');
const quickStart = readme.slice(readme.indexOf('### Quick start'), readme.indexOf('CommonJS:'));
const handlers: readonly (readonly [string, string])[] = [
  ['README Quick start', connectionHandler(quickStart)],
  ['examples/echo.mjs', connectionHandler(readFileSync(`${pkgDir}examples/echo.mjs`, 'utf8'))],
  ['examples/echo.cjs', connectionHandler(readFileSync(`${pkgDir}examples/echo.cjs`, 'utf8'))],
];

const MESSAGE = Buffer.alloc(64 * 1024, 1);
/** What the client offers: three of the server's 32 MiB windows. */
const OFFERED = 96 * 1024 * 1024;
/** The client's own window: small, so its echoes fill it at once. */
const CLIENT_WINDOW = 1024 * 1024;

// Side by side: each ends by waiting out the 2 s without 'drain' that says its client is stalled. `console.log` is
// silenced for all three at once (each saving and restoring it, one could restore another's silence).
describe.concurrent('the echo servers the package shows, against a client that never reads', () => {
  const log = console.log;
  beforeAll(() => {
    console.log = () => {};
  });
  afterAll(() => {
    console.log = log;
  });
  it.each(handlers)('%s holds a bounded queue and stalls the client at its window', async (_name, handler) => {
    const server = await listen({ port: 0 });
    try {
      // The example's own statement, run as written on this server (`console.log` in it silenced).
      new Function('server', handler)(server);
      const client = await connect({ port: server.address().port, receiveWindow: CLIENT_WINDOW });
      let offered = 0;
      // Sends as a well-behaved writer does (waiting for 'drain'), never reads: it stops when the
      // server stops taking its messages (no 'drain' for 2 s) or once it offered three windows.
      while (offered < OFFERED) {
        offered += MESSAGE.length;
        if (client.write(MESSAGE)) continue;
        const drained = await Promise.race([once(client, 'drain').then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 2000))]);
        if (!drained) break;
      }
      const [conn] = server.connections;
      // The server's unacknowledged echoes: its high-water mark (1 MiB) and a message past it at most.
      expect(conn!.writableLength).toBeLessThanOrEqual(conn!.writableHighWaterMark + MESSAGE.length + 256);
      // The client was held back at about the server's window (32 MiB) and the echoes' mark, never three windows.
      expect(offered).toBeLessThan(48 * 1024 * 1024);
      client.destroy();
    } finally {
      await server.close();
    }
  }, 30_000);
});

/** examples/chat.mjs's server, as written: its text from `const server = await listen` to the clients' helpers, run here. */
const chatServer = async (): Promise<{ server: RudpServer; members: Map<RudpConnection, string> }> => {
  const source = readFileSync(`${pkgDir}examples/chat.mjs`, 'utf8');
  const serverPart = source.slice(source.indexOf('const server = await listen'), source.indexOf('/** Joins as'));
  type Room = { server: RudpServer; members: Map<RudpConnection, string> };
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...args: string[]) => (l: typeof listen) => Promise<Room>;
  return new AsyncFunction('listen', `${serverPart}\nreturn { server, members };`)(listen);
};

describe('examples/chat.mjs, against a member that floods one-byte lines and one that never reads', () => {
  it('relays the flood at the pace of a chat, holds the flooder back, and queues nothing for the silent member', async () => {
    const { server, members } = await chatServer();
    const log = console.log;
    console.log = () => {};
    try {
      const port = server.address().port;
      const silent = await connect({ port });
      await silent.send('silent');
      const reader = await connect({ port });
      let heard = 0;
      reader.on('message', () => void heard++);
      await reader.send('reader');
      const flooder = await connect({ port });
      await flooder.send('flooder');
      // Every name seen by the server: each member's first line.
      while (members.size < 3) await new Promise((r) => setTimeout(r, 10));
      const silentAtServer = [...members.keys()].find((c) => members.get(c) === 'silent')!;
      heard = 0;
      let written = 0;
      let mostQueued = 0;
      const until = performance.now() + 2500;
      while (performance.now() < until) {
        written++;
        mostQueued = Math.max(mostQueued, silentAtServer.writableLength);
        if (flooder.write('x')) continue;
        // Held back: wait for 'drain' (the server read on), at most 100 ms.
        await new Promise<void>((resolve) => {
          const done = (): void => {
            clearTimeout(timer);
            flooder.off('drain', done);
            resolve();
          };
          const timer = setTimeout(done, 100);
          flooder.once('drain', done);
        });
      }
      // 2.5 s at 20 lines a second and a burst of 40 (the flooder's name took one): at most 90 relayed, with room
      // for timers; on the old example every line written was relayed at once, hundreds of thousands.
      expect(heard).toBeLessThanOrEqual(100);
      expect(heard).toBeGreaterThan(30);
      // What the flooder wrote beyond that waits in its own window at the server, not in queues to the others:
      // the credit its connection grants while the chat reads at its pace (the first 1 MiB grant: some 4,080
      // one-byte lines, each counted 257 bytes; some 130,000 when the whole 32 MiB window was granted at once),
      // and its own send buffer.
      expect(written).toBeGreaterThan(4_000);
      expect(mostQueued).toBeLessThanOrEqual(4 * silentAtServer.writableHighWaterMark);
      for (const c of [silent, reader, flooder]) c.destroy();
    } finally {
      console.log = log;
      await server.close();
    }
  }, 30_000);
});

describe('examples/chat.mjs, against a member that sends one line as long as the window takes', () => {
  it('drops that member, not the others: the line is never relayed', async () => {
    const { server, members } = await chatServer();
    const log = console.log;
    console.log = () => {};
    try {
      const port = server.address().port;
      const reader = await connect({ port });
      const heard: string[] = [];
      reader.on('message', (m: Buffer) => void heard.push(m.length > 100 ? `${m.length} bytes` : m.toString()));
      await reader.send('reader');
      const sender = await connect({ port });
      await sender.send('sender');
      while (members.size < 2) await new Promise((r) => setTimeout(r, 10));
      // A 5 MiB line and one byte after it: relayed, the line put the reader past 4 × its 1 MiB mark at once.
      // Whichever is dropped first: the sender (now) or the reader (the old example).
      const dropped = Promise.race([once(sender, 'close').then(() => 'sender'), once(reader, 'close').then(() => 'reader')]);
      sender.write(Buffer.alloc(5 * 1024 * 1024, 0x61));
      sender.write('x');
      expect(await dropped).toBe('sender');
      // The room goes on: the reader is still a member and hears the next one to join.
      const third = await connect({ port });
      await third.send('third');
      while (!heard.includes('* third joined')) await new Promise((r) => setTimeout(r, 10));
      expect(reader.closed).toBe(false);
      expect([...members.values()]).toEqual(['reader', 'third']);
      expect(heard).toEqual(['* sender joined', '* sender left', '* third joined']);
      for (const c of [reader, third]) c.destroy();
    } finally {
      console.log = log;
      await server.close();
    }
  }, 30_000);
});
