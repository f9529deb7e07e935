// A port free for TCP on loopback right now: the demo, cluster, fuzz and soak scripts start servers on it.
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
