/**
 * The UDP sockets rudp's adapter uses. `dgram` resolves the destination of
 * every `send` through a lookup function; Node's default (`dns.lookup`)
 * answers an IP literal only on the next tick, so each datagram would cost a
 * `process.nextTick` and an async-hooks scope before it reaches the socket.
 * Every address rudp sends to is a literal (the peer's validated source
 * address), so once the socket is bound literals are answered at once.
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import { isIP } from 'node:net';

/** Kernel receive buffer every rudp socket asks for (the kernel caps it at net.core.rmem_max). */
export const RECV_BUFFER_BYTES = 4 * 1024 * 1024;

type Lookup = NonNullable<dgram.SocketOptions['lookup']>;

/** A `udp4`/`udp6` socket whose sends to IP literals skip the next-tick DNS hop once it is bound. */
export function createUdpSocket(type: 'udp4' | 'udp6'): dgram.Socket {
  let bound = false;
  // The last literal answered: a server sends to one host's many ports, or to few hosts, so
  // this spares most sends the literal check.
  let lastLiteral = '';
  let lastFamily = 4;
  const lookup: Lookup = (hostname, options, callback) => {
    if (bound && hostname === lastLiteral) return callback(null, hostname, lastFamily);
    const family = isIP(hostname);
    // bind() keeps Node's asynchronous answer: callers may attach 'listening' after bind() returns.
    if (bound && family !== 0) {
      lastLiteral = hostname;
      lastFamily = family;
      callback(null, hostname, family);
    } else dns.lookup(hostname, options, callback);
  };
  const socket = dgram.createSocket({ type, lookup, recvBufferSize: RECV_BUFFER_BYTES });
  socket.once('listening', () => {
    bound = true;
  });
  return socket;
}
