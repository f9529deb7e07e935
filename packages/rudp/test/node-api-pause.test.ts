/**
 * A process paused past its idle timeout (its event loop blocked, a
 * SIGSTOP, a starved CPU) while its peer kept sending: the peer's datagrams
 * wait in the socket, and the adapter reads them before it acts on the
 * timeouts that came due meanwhile. Acted on first, the idle timer closed a
 * live connection. The peer runs in a child process of its own (the built
 * package), so it goes on sending while this one is blocked. A server reads
 * the whole backlog before it acts (the socket hands over a turn's worth at a
 * time), and a peer that really went silent is still closed at the timeout.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, listen, type RudpConnection } from '../src/index.js';

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

/**
 * `count` clients of the server at `port`, each sending its wall-clock time at once and then every 250 ms, in a child
 * process; resolves once all are connected.
 */
async function chattyClients(port: number, count: number): Promise<ChildProcess> {
  const code = `
    import { connect } from ${JSON.stringify(dist)};
    // Each sends from its handshake on: the server's idle timeout is shorter than it takes them all to connect.
    // Ten handshakes at a time, not all at once: 150 at once kept this process busy past the server's idle timeout
    // on a loaded machine, and a connection whose first message had not come by then was given up (3 of 5 runs at
    // load ~13, none of its messages heard): a client gone quiet, not the server's pause this test is about.
    process.on('unhandledRejection', (e) => { console.error(e); process.exit(1); });
    for (let i = 0; i < ${count}; i += 10) {
      await Promise.all(Array.from({ length: Math.min(10, ${count} - i) }, async () => {
        const c = await connect({ port: ${port}, host: '127.0.0.1', plaintext: true });
        c.on('error', () => {});
        const stamp = () => { if (!c.closed) c.write(String(Date.now())); };
        stamp();
        setInterval(stamp, 250);
      }));
    }
    console.log('connected');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  await once(lines, 'line');
  return child;
}

/** Resolves after `ms` with the event loop blocked, from a timer callback (the timers phase). */
function pauseInTimer(ms: number): Promise<void> {
  return new Promise<void>((resolve) =>
    setTimeout(() => {
      busyWait(ms);
      resolve();
    }, 0),
  );
}

/** Blocks this thread's event loop for `ms`. */
function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // Nothing: the point is that no callback runs.
  }
}

/**
 * How long the 400 ms idle timeout tests block their loop, ms: past the timeout by more than the peer's 20 ms ticks.
 * Each pause burns its CPU (the loop spins): 1,000 ms before, in a file that runs twice (the native and node:dgram
 * sockets); the pause is long enough to put every due timeout behind the backlog, how much longer adds nothing.
 */
const PAUSE_MS = 700;

const children: ChildProcess[] = [];
afterEach(() => {
  // SIGKILL: a stopped child would keep a SIGTERM pending.
  for (const c of children.splice(0)) c.kill('SIGKILL');
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
    // Paused in a timer callback (the timers phase). PAUSE_MS is past the idle timeout, and the last tick heard
    // came at most one tick (20 ms) before the pause on an idle machine: the timeout is due when the pause ends.
    await pauseInTimer(PAUSE_MS);
    expect(await more(3)).toBe('messages');
    // Paused in a message listener (the poll or check phase: the adapter's timer, due meanwhile, runs before
    // the next poll phase, and its end-of-burst wake-up may too).
    const paused = new Promise<void>((resolve) =>
      conn.once('message', () => {
        busyWait(PAUSE_MS);
        resolve();
      }),
    );
    await paused;
    expect(await more(3)).toBe('messages');
    expect(conn.closed).toBe(false);
    conn.destroy();
  });

  it.skipIf(!existsSync(dist))('a server keeps all of 150 connections whose clients kept sending: the whole backlog is read first, not one turn of it', async () => {
    const count = 150;
    // Longer than the first test's: 150 handshakes in one child process take a while on a loaded machine, and its 150
    // clients, 600 messages a second, starved of CPU there (load ~10), went quiet past 1 s (1 of 6 runs, ten handshakes
    // at a time): the clients' silence, not the server's pause. The pauses are 1.5 of it all the same.
    const idleTimeoutMs = 2_000;
    // Plaintext: the handshakes and packets of 150 connections cost a loaded machine less CPU.
    const server = await listen({ port: 0, host: '127.0.0.1', idleTimeoutMs, plaintext: true });
    const conns: RudpConnection[] = [];
    /** Connections that had a message stamped (the client's wall clock) at `since` or later. */
    const heard = new Set<RudpConnection>();
    let since = Number.POSITIVE_INFINITY;
    let onAllHeard: (() => void) | undefined;
    let onClose: ((c: RudpConnection, kind: string) => void) | undefined;
    /** The kind of the first close before any wait for messages began. */
    let closedBefore: string | undefined;
    server.on('connection', (c) => {
      conns.push(c);
      c.on('error', () => {});
      c.on('message', (data: Buffer) => {
        if (Number(data.toString()) < since) return;
        heard.add(c);
        if (heard.size === count) onAllHeard?.();
      });
      c.on('close', (r: { kind: string }) => {
        if (onClose === undefined) closedBefore ??= r.kind;
        onClose?.(c, r.kind);
      });
    });
    /**
     * 'all' once every connection has had a message sent at `from` or later, or the kind of the close
     * of one that had not. A client starved of CPU by a loaded machine after the pause may go quiet
     * long enough to be given up: those of its messages that waited in the socket are read first.
     */
    const everyOneHeard = (from: number): Promise<string> => {
      heard.clear();
      since = from;
      return new Promise<string>((resolve) => {
        if (closedBefore !== undefined) resolve(closedBefore);
        onAllHeard = () => resolve('all');
        onClose = (c, kind) => {
          if (!heard.has(c)) resolve(kind);
        };
      });
    };
    try {
      await chattyClients(server.address().port, count);
      expect(await everyOneHeard(0)).toBe('all');
      expect(conns.length).toBe(count);
      // Some 1,800 datagrams wait after the pause (150 clients, 4 a second, 3 s); the socket hands over 32 (node:dgram)
      // or 128 (the addon) a turn.
      let pausedAt = Date.now();
      // 1.5 idle timeouts: every connection's timeout is due when it ends (each client sends every 250 ms).
      await pauseInTimer(1.5 * idleTimeoutMs);
      expect(await everyOneHeard(pausedAt)).toBe('all');
      // Paused in a message listener: the wake-up after it finds the backlog too.
      const paused = new Promise<void>((resolve) =>
        conns[0]?.once('message', () => {
          pausedAt = Date.now();
          busyWait(1.5 * idleTimeoutMs);
          resolve();
        }),
      );
      await paused;
      expect(await everyOneHeard(pausedAt)).toBe('all');
    } finally {
      await server.close();
    }
  });

  it.skipIf(!existsSync(dist))('closes a connection whose peer went silent at its idle timeout, paused or not', async () => {
    const idleTimeoutMs = 400;
    for (const pause of [false, true]) {
      const peer = await chattyPeer();
      children.push(peer.child);
      const conn = await connect({ port: peer.port, host: '127.0.0.1', idleTimeoutMs });
      conn.on('error', () => {});
      let lastHeard = 0;
      conn.on('message', () => (lastHeard = performance.now()));
      await once(conn, 'message');
      const closed = new Promise<{ kind: string; at: number }>((resolve) => conn.once('close', (r: { kind: string }) => resolve({ kind: r.kind, at: performance.now() })));
      // Stopped: it sends nothing more, not even a CLOSE.
      peer.child.kill('SIGSTOP');
      // From its last message heard, not from the stop: a peer starved of CPU by a loaded machine may have gone
      // quiet before it (its ACKs between ticks can only put the timeout later).
      const silentFrom = lastHeard;
      if (pause) await pauseInTimer(PAUSE_MS);
      const resumed = performance.now();
      const end = await closed;
      expect(end.kind).toBe('timeout');
      // The idle clock runs from the last packet heard, sent before the stop (a tick every 20 ms, ACKs between).
      expect(end.at - silentFrom).toBeGreaterThanOrEqual(idleTimeoutMs - 50);
      // After a pause, at once: nothing read from the socket put the timeout off by another idle timeout.
      if (pause) expect(end.at - resumed).toBeLessThan(idleTimeoutMs);
    }
  });
});
