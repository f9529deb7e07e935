import dgram from 'node:dgram';
import { describe } from 'vitest';
import { TRANSPORT_IDLE_ENV } from '../src/transport-idle.js';
import { itWithScope as it, runClient, spawnClient, startServer, tempDir } from './forum-processes.js';
import { rawClient } from './raw-client.js';

// Concurrent: the first two mostly wait for a transport to notice a peer gone, each with a scope of its own.
describe.concurrent('failures: vanished client, dead server, no server (real processes)', () => {

  it('a client that vanishes (kill -9) frees its login once rudp notices, well under the idle timeout', async ({ scope, expect }) => {
    const { dirs, servers, stops } = scope;
    const data = await tempDir('data');
    const cwd = await tempDir('cwd');
    dirs.push(data, cwd);
    // The transport's idle timeout (how soon rudp notices) at its test-only 2 s, not 10 s: the same freeing, sooner.
    // The login is the session's for --idle-timeout (600 s) unless the transport's end frees it.
    const server = await startServer(data, [], undefined, { [TRANSPORT_IDLE_ENV]: '2000' });
    servers.push(server);
    const c = spawnClient(server.port, cwd);
    c.send('yoda');
    c.send('pw1');
    await c.stdout.waitFor('Welcome to the forum\n');
    c.child.kill('SIGKILL');
    await c.exited;
    const killedAt = Date.now();
    const probe = await rawClient(server.port);
    stops.push(() => void probe.close());
    let attempt = 0;
    for (;;) {
      const r = await probe.request(`u${attempt++}`, 'username', ['yoda']);
      if (r.lines[0] !== 'yoda has already logged in') break;
      expect(Date.now() - killedAt).toBeLessThan(20_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect((await probe.request('p', 'password', ['pw1'])).lines).toEqual(['Welcome to the forum']);
    expect(server.lines()).toContain('yoda exited');
  });

  it('a server that dies is reported by the client within a few seconds, non-zero', async ({ scope, expect }) => {
    const { stops, startInTemp: start } = scope;
    const { server, cwd } = await start();
    const c = spawnClient(server.port, cwd);
    stops.push(() => c.child.kill('SIGKILL'));
    c.send('yoda');
    c.send('pw1');
    await c.stdout.waitFor('Welcome to the forum\n');
    server.child.kill('SIGKILL');
    await server.exited;
    const killedAt = Date.now();
    c.send('LST');
    const code = await c.exited;
    expect(code).not.toBe(0);
    expect(Date.now() - killedAt).toBeLessThan(12_000);
    expect(c.stderr.text).toMatch(/^Server unreachable: /m);
  });

  it('no server at the address: the client says so and exits 1', async ({ scope, expect }) => {
    const { dirs, stops } = scope;
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', () => resolve()));
    stops.push(() => silent.close());
    const port = silent.address().port;
    const cwd = await tempDir('cwd');
    dirs.push(cwd);
    // The client's first handshake datagram: its wait has begun. Timed from there, not from the spawn: a loaded
    // machine (CI's 2 cores) took up to 5.9 s to start the client's Node process, no part of the wait.
    const connecting = new Promise<number>((resolve) => silent.once('message', () => resolve(performance.now())));
    const started = performance.now();
    // The client's --timeout (how long connecting waits; 5 s by default) shortened: the same refusal, sooner.
    const r = await runClient(port, cwd, ['yoda'], ['--timeout', '1']);
    const exited = performance.now();
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`Unable to reach the server at 127.0.0.1:${port}\n`);
    expect(exited - started).toBeGreaterThanOrEqual(1_000);
    expect(exited - (await connecting)).toBeLessThan(4_000);
  });
});
