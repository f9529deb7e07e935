/**
 * The Node API's tests on loopback: servers, a server and a client connected
 * to it, a port that never answers, all closed after each test
 * (`afterEach(closeOpened)` in the test file); small waits on what a
 * connection receives, and the `RudpError` a promise rejects with.
 */
import dgram from 'node:dgram';
import { expect } from 'vitest';
import { connect, listen, RudpError, type RudpConnection, type RudpServer } from '../../src/index.js';

/** What a test opened, closed by {@link closeOpened} newest first. */
export const opened: { close(): Promise<void> }[] = [];

/** Closes what the last test opened, newest first (an `afterEach` hook). */
export async function closeOpened(): Promise<void> {
  for (const o of opened.splice(0).reverse()) await o.close();
}

/** A server listening on a port of `host`, closed after the test. */
export async function server(host = '127.0.0.1'): Promise<RudpServer> {
  const s = await listen({ port: 0, host });
  opened.push(s);
  return s;
}

/** A bound UDP socket that never answers, and its port. */
export async function silentPort(): Promise<{ port: number; close(): Promise<void> }> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const closer = { port: sock.address().port, close: () => new Promise<void>((r) => sock.close(() => r())) };
  opened.push(closer);
  return closer;
}

/** The `RudpError` `p` rejects with (the test fails if it resolves or rejects with anything else). */
export async function rejection(p: Promise<unknown>): Promise<RudpError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(RudpError);
  return e as RudpError;
}

/** A server whose connections are handed to `onConnection`, and a client connected to it. */
export async function pair(onConnection: (c: RudpConnection) => void = () => undefined, serverOptions: { receiveWindow?: number } = {}): Promise<{ server: RudpServer; client: RudpConnection }> {
  const server = await listen({ port: 0, ...serverOptions });
  opened.push(server);
  server.on('connection', onConnection);
  const client = await connect({ port: server.address().port });
  opened.push(client);
  return { server, client };
}

/** The next `n` messages of `conn`. */
export function take(conn: RudpConnection, n: number): Promise<Buffer[]> {
  const got: Buffer[] = [];
  return new Promise((resolve) => {
    const on = (m: Buffer): void => {
      got.push(m);
      if (got.length === n) {
        conn.off('message', on);
        resolve(got);
      }
    };
    conn.on('message', on);
  });
}

/** Resolves once `ok()` holds (polled; the test's own timeout bounds it). */
export async function until(ok: () => boolean): Promise<void> {
  while (!ok()) await new Promise((r) => setTimeout(r, 5));
}
