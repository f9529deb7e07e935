/**
 * A process paused past its idle timeout (its event loop blocked, a
 * SIGSTOP, a starved CPU) while its peer kept sending: the peer's datagrams
 * wait in the socket, and the adapter reads them before it acts on the
 * timeouts that came due meanwhile. Acted on first, the idle timer closed a
 * live connection. The peer runs in a child process of its own (the built
 * package), so it goes on sending while this one is blocked.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type RudpConnection } from '../src/index.js';

const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));

/** A server that sends a message every 20 ms to each connection, in a child process; resolves with its port. */
async function chattyPeer(): Promise<{ child: ChildProcess; port: number }> {
  const code = `
    import { listen } from ${JSON.stringify(dist)};
    const server = await listen({ port: 0, host: '127.0.0.1' });
    server.on('connection', (c) => {
      c.on('error', () => {});
      const t = setInterval(() => { if (!c.closed) c.write('tick'); }, 20);
      c.on('close', () => clearInterval(t));
    });
    console.log(server.address().port);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const [line] = (await once(lines, 'line')) as [string];
  return { child, port: Number(line) };
}

/** Blocks this thread's event loop for `ms`. */
function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // Nothing: the point is that no callback runs.
  }
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill();
});

describe('a process paused past its idle timeout', () => {
  it.skipIf(!existsSync(dist))("keeps a connection whose peer kept sending: the peer's datagrams are read before the timeouts", async () => {
    const peer = await chattyPeer();
    children.push(peer.child);
    const conn: RudpConnection = await connect({ port: peer.port, host: '127.0.0.1', idleTimeoutMs: 400 });
    let received = 0;
    let wanted = 0;
    let onWanted: (() => void) | undefined;
    conn.on('message', () => {
      if (++received >= wanted) onWanted?.();
    });
    const closed = new Promise<string>((resolve) => conn.once('close', () => resolve('closed')));
    /** `count` more messages, or 'closed' if the connection ends first. */
    const more = (count: number): Promise<string> => {
      wanted = received + count;
      return Promise.race([new Promise<string>((resolve) => (onWanted = () => resolve('messages'))), closed]);
    };
    expect(await more(1)).toBe('messages');
    // Paused in a timer callback (the timers phase).
    await new Promise<void>((resolve) =>
      setTimeout(() => {
        busyWait(1_000);
        resolve();
      }, 0),
    );
    expect(await more(3)).toBe('messages');
    // Paused in a message listener (the poll or check phase: the adapter's timer, due meanwhile, runs before
    // the next poll phase, and its end-of-burst wake-up may too).
    const paused = new Promise<void>((resolve) =>
      conn.once('message', () => {
        busyWait(1_000);
        resolve();
      }),
    );
    await paused;
    expect(await more(3)).toBe('messages');
    expect(conn.closed).toBe(false);
    conn.destroy();
  });
});
