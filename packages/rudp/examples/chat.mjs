// Chat: a server relays each line to every other member; three clients talk.
// Shows: 'connection' and per-connection state, async iteration, broadcast with backpressure.
// Run: node examples/chat.mjs
import { connect, listen } from 'rudpx';

const server = await listen({ port: 0 });
const members = new Map(); // RudpConnection -> name

server.on('connection', async (conn) => {
  try {
    for await (const message of conn) {
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
    // A member that cannot keep up is dropped rather than buffered without bound.
    if (member.bufferedAmount > 4 * member.writableHighWaterMark) member.destroy('too slow');
    else member.send(line).catch(() => {});
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
