/**
 * Attack round 15, a helper of journal-growth.ts (run as its own process so that sealing hundreds of MiB does
 * not stall the caller's sessions): one account at `addr` uploads 4 files of `mib` MiB at a time, streamed in
 * 1 MiB writes, to a new thread of its own, then removes the thread, round after round for `seconds`. What it
 * does to the server: keeps the data directory's disk busy writing (and, at each upload's end, syncing) the
 * upload files, which every other synced write of the server then waits behind.
 *
 *   npx tsx attack/upload-churn.ts <port> <user> <addr> <seconds> [mib=256]
 */
import { once, setMaxListeners } from 'node:events';
import net from 'node:net';
import { deriveTransferKeys, SecureTransferChannel, sessionExporter, type Reply } from '../packages/forum-protocol/dist/index.js';
import { session, type Session } from './forum-raw.js';

const [portText, user = 'u0', addr = '127.0.17.1', secondsText, mibText] = process.argv.slice(2);
const port = Number(portText);
const seconds = Number(secondsText);
const mib = Number(mibText ?? 256);
const abort = new AbortController();
setMaxListeners(0, abort.signal);
const chunk = Buffer.alloc(1024 * 1024, 0x61);

/** Streams `mib` MiB through the transfer connection `reply` names; true when the server answered OK. */
const stream = async (s: Session, reply: Reply): Promise<boolean> => {
  if (reply.data.kind !== 'transfer') return false;
  const { port: tcp, token } = reply.data;
  const socket = net.connect({ host: '127.0.0.1', port: tcp, localAddress: addr });
  socket.on('error', () => undefined);
  socket.write(`${token}\n`);
  const ch = new SecureTransferChannel(socket, deriveTransferKeys(sessionExporter(s.conn), token), 'client');
  let answer = '';
  ch.on('error', () => undefined);
  ch.on('data', (b: Buffer) => (answer += b.toString()));
  const closed = once(socket, 'close');
  ch.write(`${mib * 1024 * 1024}\n`);
  for (let i = 0; i < mib && !socket.destroyed; i++) if (!ch.write(chunk)) await Promise.race([once(ch, 'drain'), closed]);
  ch.end();
  await closed;
  return answer === 'OK\n';
};

const s = await session(port, user, abort.signal, addr);
const t0 = performance.now();
let ok = 0;
for (let round = 0; performance.now() - t0 < seconds * 1000; round++) {
  const title = `${user}r${round}`;
  await s.request('CRT', [title]);
  const results = await Promise.all(
    Array.from({ length: 4 }, async (_, k) => {
      const g = await s.request('UPD', [title, `f${k}`]);
      return stream(s, g);
    }),
  );
  ok += results.filter(Boolean).length;
  await s.request('RMV', [title]);
}
console.log(`${user}: ${ok} uploads of ${mib} MiB in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
abort.abort();
process.exit(0);
