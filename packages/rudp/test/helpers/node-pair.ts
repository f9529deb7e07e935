/**
 * The Node API's test pairs on loopback: a server and a client connected to
 * it, closed after each test (`afterEach(closeOpened)` in the test file), and
 * small waits on what a connection receives.
 */
import { connect, listen, type RudpConnection, type RudpServer } from '../../src/index.js';

/** What a test opened, closed by {@link closeOpened} newest first. */
export const opened: { close(): Promise<void> }[] = [];

/** Closes what the last test opened, newest first (an `afterEach` hook). */
export async function closeOpened(): Promise<void> {
  for (const o of opened.splice(0).reverse()) await o.close();
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
