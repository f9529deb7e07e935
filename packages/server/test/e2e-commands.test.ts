import { startLossyRelay } from 'udp-relay';
import { afterEach, describe, it } from 'vitest';
import { cleanup, startServer, tempDir, type ServerProc } from './forum-processes.js';
import { runScenario } from './forum-scenario.js';

describe('forum-server and forum-client, scripted sessions (real processes, loopback)', () => {
  const dirs: string[] = [];
  const servers: ServerProc[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()));
    await cleanup(...dirs.splice(0));
  });

  it('every command and error string, direct: exact stdout, server log and data files', async () => {
    const data = await tempDir('data');
    const work = await tempDir('work');
    dirs.push(data, work);
    const server = await startServer(data);
    servers.push(server);
    await runScenario(server.port, data, work, () => server.lines());
  });

  it('the same sessions through a relay losing 20% of datagrams each way: identical output and files', async () => {
    const data = await tempDir('data');
    const work = await tempDir('work');
    dirs.push(data, work);
    const server = await startServer(data);
    servers.push(server);
    const relay = await startLossyRelay({ targetPort: server.port, seed: 20, loss: 0.2 });
    try {
      await runScenario(relay.port, data, work, () => server.lines());
      const stats = relay.stats();
      // The run really was lossy (so the identical results above were earned).
      if (stats.clientToServer.droppedLoss === 0 || stats.serverToClient.droppedLoss === 0) throw new Error(`relay dropped nothing: ${JSON.stringify(stats)}`);
    } finally {
      await relay.close();
    }
  });
});
