// Echo: a server that sends every message back, and a client that checks the answers.
// Run: node examples/echo.mjs            (both sides in one process, port chosen by the OS)
import { connect, listen } from 'rudpx';

const server = await listen({ port: 0 }); // host defaults to 127.0.0.1
server.on('connection', (conn) => {
  console.log(`server: ${conn.remoteAddress}:${conn.remotePort} connected`);
  // write() returns false once the client has stopped reading its echoes (a megabyte unacknowledged):
  // the server then stops reading the client's messages until they drain, so the client stalls at its
  // window instead of the server queueing every echo (with send(…).catch() it grew by what the client sent).
  conn.on('message', (message) => {
    if (conn.write(message) || conn.isPaused()) return;
    conn.pause();
    conn.once('drain', () => conn.resume());
  });
});
const { port } = server.address();

const conn = await connect({ host: 'localhost', port });
const replies = conn[Symbol.asyncIterator]();
for (const text of ['hello', 'reliable', 'world']) {
  await conn.send(text); // resolves once the server has it
  const { value } = await replies.next(); // a Buffer
  console.log(`client: sent ${text}, got back ${value.toString()}`);
}
console.log(`client: smoothed RTT ${conn.stats().srttMs.toFixed(2)} ms`);
await conn.close(); // graceful: anything queued is delivered first
await server.close();
