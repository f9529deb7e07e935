// A port free on loopback right now: the demo, cluster, fuzz and soak scripts start servers on it.
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

/** Resolves with a TCP port on 127.0.0.1 that nothing listens on at this moment. */
export const freePort = () =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/**
 * Resolves with a port on 127.0.0.1 that is free for both TCP and UDP at this moment
 * (nginx listens on both): a free TCP port from the system, kept only if UDP can bind it too.
 */
export const freeUdpTcpPort = async () => {
  for (let tries = 0; ; tries++) {
    const port = await freePort();
    const udp = createSocket('udp4');
    const free = await new Promise((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => resolve(true));
    });
    await new Promise((resolve) => udp.close(resolve));
    if (free) return port;
    if (tries >= 20) throw new Error('no port free for both TCP and UDP on 127.0.0.1 after 20 tries');
  }
};
