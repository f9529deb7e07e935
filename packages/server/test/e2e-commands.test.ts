import { startLossyRelay } from 'udp-relay';
import { describe, it } from 'vitest';
import { cleanup, startServer, tempDir, type ServerProc } from './forum-processes.js';
import { runScenario } from './forum-scenario.js';

/** Runs `test` against a server of its own on fresh data and work directories, stopped and removed after. */
const withServer = async (test: (server: ServerProc, data: string, work: string) => Promise<void>): Promise<void> => {
  const data = await tempDir('data');
  const work = await tempDir('work');
  try {
    const server = await startServer(data);
    try {
      await test(server, data, work);
    } finally {
      await server.stop();
    }
  } finally {
    await cleanup(data, work);
  }
};

// The two runs share nothing (each its server, directories and ports) and mostly wait (client starts,
// round trips, the relay's losses recovered): side by side, the file takes the longer one's time, not both.
// Side by side on a loaded machine, a client's start and handshake through the lossy relay passed the 5 s
// connect limit (`Unable to reach the server`, 3 runs of 4 at a load of 15 on 2 cores): the clients wait up to
// 20 s here, which changes nothing they print.
const CLIENT_ARGS = ['--timeout', '20'];
describe.concurrent('forum-server and forum-client, scripted sessions (real processes, loopback)', () => {
  it('every command and error string, direct: exact stdout, server log and data files', async () => {
    await withServer((server, data, work) => runScenario(server.port, data, work, () => server.lines(), CLIENT_ARGS));
  });

  it('the same sessions through a relay losing 20% of datagrams each way: identical output and files', async () => {
    await withServer(async (server, data, work) => {
      const relay = await startLossyRelay({ targetPort: server.port, seed: 20, loss: 0.2 });
      try {
        await runScenario(relay.port, data, work, () => server.lines(), CLIENT_ARGS);
        const stats = relay.stats();
        // The run really was lossy (so the identical results above were earned).
        if (stats.clientToServer.droppedLoss === 0 || stats.serverToClient.droppedLoss === 0) throw new Error(`relay dropped nothing: ${JSON.stringify(stats)}`);
      } finally {
        await relay.close();
      }
    });
  });
});
