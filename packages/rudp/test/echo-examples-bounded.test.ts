/**
 * The echo servers the package shows (the README's Quick start, examples/echo.mjs and echo.cjs),
 * run as written against a client that sends and never reads its echoes (attack round 13,
 * attack/README-13.md). They answered with `conn.send(m).catch(() => {})`, which queues whatever it
 * is given: once the client's receive window was full, every echo waited in the server, which grew
 * by what the client sent (+1,177 MiB in 10 s from one connection on loopback). Each must now hold
 * back: stop reading the client until its echoes drain, so the client stalls at the server's window.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
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

describe('the echo servers the package shows, against a client that never reads', () => {
  it.each(handlers)('%s holds a bounded queue and stalls the client at its window', async (_name, handler) => {
    const server = await listen({ port: 0 });
    const log = console.log;
    console.log = () => {};
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
      console.log = log;
      await server.close();
    }
  }, 30_000);
});
