/**
 * Attack round 33, item 1d: what a peer still sending loses when its grace is ended early (refusal-graces.ts
 * `CHATTY_AFTER_SAFE_MS`). On loopback, plain Node sockets as the server's grace and forum-client's upload do: the
 * server writes a refusal line and its FIN, keeps reading and dropping, then (`endAfterMs` later) destroys the
 * socket, as an early end does. The client, in `mode`:
 *
 *   stalled  reads as data comes (as forum-client's transfer channel does: a 'data' listener from the start), has
 *            8 MiB queued to send, and its event loop is blocked for `readAfterMs` (a busy loop): its kernel goes on
 *            sending what was queued, which the server's closed socket answers with a reset;
 *   paused   its reading stopped (`pause`) for `readAfterMs` while a timer writes 1 KiB every 20 ms: a client that
 *            reads only at the end, not forum-client.
 *
 * Recorded: did the client read the line, and what came, in which order.
 *
 *   npx tsx attack/round33-reset-after-line.ts [mode=stalled] [runs=20] [endAfterMs=300] [readAfterMs=600]
 *
 * Linux only (the claim under test is Linux's: a reset does not take back bytes already in the receive queue).
 */
import net from 'node:net';

const mode = process.argv[2] === 'paused' ? 'paused' : 'stalled';
const runs = Number(process.argv[3] ?? 20);
const endAfterMs = Number(process.argv[4] ?? 300);
const readAfterMs = Number(process.argv[5] ?? 600);
const LINE = 'ERR too many transfers from your address\n';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const once = async (): Promise<{ readonly line: boolean; readonly events: string }> => {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => undefined);
    socket.resume();
    socket.end(LINE);
    setTimeout(() => socket.destroy(), endAfterMs);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const client = net.connect({ host: '127.0.0.1', port });
  const events: string[] = [];
  let got = '';
  client.on('error', (e: NodeJS.ErrnoException) => events.push(`error ${e.code ?? e.message}`));
  const onData = (d: Buffer): void => {
    if (got === '') events.push('data');
    got += d.toString();
  };
  let writer: NodeJS.Timeout | undefined;
  if (mode === 'stalled') {
    client.on('data', onData);
    await new Promise<void>((r) => client.once('connect', () => r()));
    client.write(Buffer.alloc(8 * 1024 * 1024, 1));
    // The loop blocked: nothing read, nothing handed to the kernel that was not already there.
    const until = performance.now() + readAfterMs;
    while (performance.now() < until);
  } else {
    client.pause();
    writer = setInterval(() => {
      if (client.writable) client.write(Buffer.alloc(1024, 1));
    }, 20);
    await sleep(readAfterMs);
    client.on('data', onData);
    client.resume();
  }
  await new Promise<void>((r) => (client.destroyed ? r() : client.once('close', () => r())));
  if (writer !== undefined) clearInterval(writer);
  events.push('close');
  server.close();
  return { line: got.startsWith(LINE), events: [...new Set(events)].join(' → ') };
};

let told = 0;
const orders = new Map<string, number>();
for (let i = 0; i < runs; i++) {
  const r = await once();
  if (r.line) told++;
  orders.set(r.events, (orders.get(r.events) ?? 0) + 1);
}
console.log(`${mode}: the server ends the grace ${endAfterMs} ms after its line, the client reads after ${readAfterMs} ms: line read ${told} of ${runs}`);
for (const [order, n] of orders) console.log(`  ${n} × ${order}`);
