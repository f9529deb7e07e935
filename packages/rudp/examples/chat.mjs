// Chat: a server relays each line to every other member; three clients talk.
// Shows: 'connection' and per-connection state, async iteration, broadcast with backpressure.
// Run: node examples/chat.mjs
import { connect, listen } from 'rudpx';

const server = await listen({ port: 0 });
const members = new Map(); // RudpConnection -> name
// Each member may send 20 lines a second, in bursts of 40. Faster, its loop waits: its lines stay in
// the transport, its window fills and its client stalls. Without this one member's flood was relayed to
// every other as fast as it came (loopback: some 100,000 lines a second), more than readers keep up with.
const LINES_PER_SECOND = 20;
const LINE_BURST = 40;
// A line is at most this long; a longer one drops its member. Unbounded, a line could be as long as the
// server's receive window takes (32 MiB): relayed, it was queued for every member at once, and the next
// line found them all past the "too slow" mark and dropped them (one 5 MiB line and one byte did it).
const MAX_LINE_BYTES = 4096;

server.on('connection', async (conn) => {
  let tokens = LINE_BURST;
  let last = performance.now();
  try {
    for await (const message of conn) {
      const now = performance.now();
      tokens = Math.min(LINE_BURST, tokens + ((now - last) / 1000) * LINES_PER_SECOND);
      last = now;
      if (tokens < 1) {
        await new Promise((resolve) => setTimeout(resolve, ((1 - tokens) / LINES_PER_SECOND) * 1000));
        tokens = 1;
        last = performance.now();
      }
      tokens--;
      if (message.length > MAX_LINE_BYTES) {
        conn.destroy('line too long');
        break;
      }
      const text = message.toString();
      if (!members.has(conn)) {
        // The first message is the member's name.
        members.set(conn, text);
        broadcast(conn, `* ${text} joined`);
      } else {
        broadcast(conn, `<${members.get(conn)}> ${text}`);
      }
    }
  } catch (e) {
    console.log(`server: ${members.get(conn)} dropped (${e.code})`); // e.g. ETIMEDOUT
  }
  const name = members.get(conn);
  members.delete(conn);
  if (name) broadcast(conn, `* ${name} left`);
});

function broadcast(from, line) {
  for (const member of members.keys()) {
    if (member === from) continue;
    // A member that cannot keep up is dropped rather than buffered without bound: measured in
    // writableLength (bytes and 256 a line), as short lines cost far more than their bytes (by
    // bufferedAmount, 4 MiB of 8-byte lines was some 520,000 queued, +277 MiB of heap).
    // write, not send: no promise to keep per line and member (nobody awaits it).
    if (member.writableLength > 4 * member.writableHighWaterMark) member.destroy('too slow');
    else member.write(line);
  }
}

/** Joins as `name`; prints what it hears; resolves with the lines once it heard `expected` of them. */
async function join(name, expected) {
  const conn = await connect({ port: server.address().port });
  await conn.send(name);
  const heard = (async () => {
    const lines = [];
    for await (const message of conn) {
      lines.push(message.toString());
      console.log(`${name} hears: ${message}`);
      if (lines.length === expected) break;
    }
    return lines;
  })();
  return { conn, heard };
}

const alice = await join('alice', 4); // bob joined, carol joined, bob's line, carol's line
const bob = await join('bob', 2); // carol joined, carol's line
const carol = await join('carol', 1); // bob's line
await bob.conn.send('hi all');
await carol.heard;
await carol.conn.send('hello bob');
await Promise.all([alice.heard, bob.heard]);
for (const { conn } of [alice, bob, carol]) await conn.close();
await server.close();
