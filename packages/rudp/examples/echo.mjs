// Echo: a server that sends every message back, and a client that checks the answers.
// Run: node examples/echo.mjs            (both sides in one process, port chosen by the OS)
import { connect, listen } from 'rudpx';

const server = await listen({ port: 0 }); // host defaults to 127.0.0.1
server.on('connection', (conn) => {
  console.log(`server: ${conn.remoteAddress}:${conn.remotePort} connected`);
  // send() rejects if the connection dies first: an echo has nobody to tell, so it ignores that.
  conn.on('message', (message) => conn.send(message).catch(() => {}));
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
