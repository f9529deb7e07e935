// A plain rudpx application with every default (attack round 6, angle d): it listens,
// reads every message its peers send and does nothing else. Prints its port.
import { listen } from '../packages/rudp/dist/index.js';

const server = await listen({ port: Number(process.argv[2] ?? 0), host: '127.0.0.1' });
let messages = 0;
server.on('connection', (conn) => {
  conn.on('message', () => void messages++);
  conn.on('error', () => undefined);
});
console.log(`port ${server.address().port}`);
setInterval(() => console.log(`messages ${messages} connections ${server.connections ?? '?'}`), 5_000).unref();
