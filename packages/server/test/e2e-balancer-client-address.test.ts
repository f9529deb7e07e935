/**
 * Behind nginx (deploy/nginx.conf, stream UDP + TCP), a server sees each client's own IP address, so
 * every per-host limit counts one client host, not every client of the balancer together. Before,
 * nginx's upstream sockets were bound to nginx's own address: each server saw 127.0.0.1 for every
 * client, and one client host that used up a per-host limit (connections, account creations, …)
 * locked out every other client behind the same nginx. Clients here come from 127.0.0.2 and
 * 127.0.0.3 (loopback only); as root (CI) nginx runs the shipped `proxy_bind $remote_addr transparent`,
 * unless the host refuses it (a container without CAP_NET_RAW): then the loopback binding, as the first title says.
 */
import { spawnSync } from 'node:child_process';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { connect, createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UDP_SESSIONS_PER_HOST, type ClientAddressMode } from '../../../deploy/nginx-config.mjs';
import { clientAddressHere, findNginx, freeUdpTcpPort, startNginx, type NginxProcess } from '../../../scripts/cluster.mjs';
import { MIN_TEST_STOP_GRACE_MS, STOP_GRACE_ENV } from '../src/stop-grace.js';
import { cleanupAfterEach } from './forum-processes.js';
import { rawClient, rawLogin, type RawClient } from './raw-client.js';

// CI installs nginx (.ci/run); elsewhere the test says why it did not run.
const nginxMissing = findNginx() === undefined && process.env.CI !== 'true';
const isRoot = process.getuid?.() === 0;
const CLIENT_HOSTS = ['127.0.0.2', '127.0.0.3'] as const;
// The mode nginx runs in here, named in the titles below: transparent as root where nginx can use it; a root
// without CAP_NET_RAW (a container that drops it) falls back to loopback and says why on stderr.
const here = findNginx() === undefined ? undefined : await clientAddressHere();
const modeHere = here === undefined ? 'nginx missing' : `${here.mode}${here.why === undefined ? '' : `, as transparent failed here: ${here.why.split('; ')[0]?.replace(/ \d+#\d+:/, '')}`}`;

/** A UDP and TCP server on one loopback port that answers every datagram and connection with the peer address it saw. */
const startAddressProbe = async (port: number): Promise<{ readonly close: () => Promise<void> }> => {
  const udp = createSocket('udp4');
  udp.on('message', (_m, from: RemoteInfo) => udp.send(from.address, from.port, from.address));
  await new Promise<void>((resolve, reject) => (udp.once('error', reject), udp.bind(port, '127.0.0.1', () => resolve())));
  const tcp: Server = createServer((s) => s.end(s.remoteAddress ?? ''));
  await new Promise<void>((resolve, reject) => (tcp.once('error', reject), tcp.listen(port, '127.0.0.1', () => resolve()))).catch(async (e: unknown) => {
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    throw e;
  });
  return {
    close: async () => {
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
};

/** What the probe behind nginx saw as the address of a datagram sent from `localAddress`. */
const udpSeenFrom = (port: number, localAddress: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const timer = setTimeout(() => (s.close(), reject(new Error(`no UDP answer through nginx from ${localAddress}`))), 5_000);
    s.once('message', (m) => (clearTimeout(timer), s.close(), resolve(m.toString())));
    s.bind(0, localAddress, () => s.send('who am I', port, '127.0.0.1'));
  });

/** What the probe behind nginx saw as the address of a TCP connection from `localAddress`. */
const tcpSeenFrom = (port: number, localAddress: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', localAddress });
    let text = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (text += d));
    s.once('end', () => resolve(text));
    s.once('error', reject);
  });

describe.skipIf(nginxMissing)('behind nginx, servers see each client host', () => {
  let probePort = 0;
  let probe: { readonly close: () => Promise<void> } | undefined;
  const running: NginxProcess[] = [];

  beforeAll(async () => {
    // UDP and TCP on one port, picked free: one another test binds first (EADDRINUSE) is replaced, five times at most.
    for (let attempt = 1; probe === undefined; attempt++) {
      probePort = await freeUdpTcpPort();
      probe = await startAddressProbe(probePort).catch((e: unknown) => {
        if (attempt >= 5 || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
        return undefined;
      });
    }
  }, 30_000);

  afterAll(async () => {
    await Promise.all(running.splice(0).map((n) => n.stop()));
    await probe?.close();
  });

  /** What the probe saw of a UDP datagram and a TCP connection from each client host, through nginx in `mode`. */
  const seenThrough = async (mode?: ClientAddressMode): Promise<{ readonly nginx: NginxProcess; readonly seen: readonly string[] }> => {
    const nginx = await startNginx({ servers: [{ port: probePort, tcpPort: probePort }], ...(mode === undefined ? {} : { clientAddress: mode }) });
    running.push(nginx);
    const seen: string[] = [];
    for (const host of CLIENT_HOSTS) seen.push(`udp ${await udpSeenFrom(nginx.port, host)}`, `tcp ${await tcpSeenFrom(nginx.port, host)}`);
    expect(nginx.log()).not.toMatch(/\[(alert|crit|error)\]/);
    return { nginx, seen };
  };
  const own = CLIENT_HOSTS.flatMap((h) => [`udp ${h}`, `tcp ${h}`]);

  it(`the binding of this host (${modeHere}): UDP and TCP reach the server from the client's own address`, async () => {
    const { nginx, seen } = await seenThrough();
    expect(nginx.clientAddress).toBe(here?.mode);
    // The shipped transparent binding as root, unless nginx said why it cannot run it here.
    if (isRoot && here?.why === undefined) expect(nginx.clientAddress).toBe('transparent');
    expect(seen).toEqual(own);
  }, 20_000);

  // Run where it can be: as root, with setpriv (util-linux) to drop the capabilities as a container does. Without
  // CAP_SETPCAP setpriv drops nothing and still exits 0: the bounding set it leaves is checked (CAP_NET_ADMIN 12, CAP_NET_RAW 13).
  const DROP = ['--bounding-set', '-net_raw,-net_admin'];
  const bounding = /^CapBnd:\s*([0-9a-f]+)$/m.exec(isRoot ? spawnSync('setpriv', [...DROP, '--', 'cat', '/proc/self/status'], { encoding: 'utf8' }).stdout ?? '' : '')?.[1];
  const canDropCaps = bounding !== undefined && (BigInt(`0x${bounding}`) & 0x3000n) === 0n;
  it.skipIf(!canDropCaps)('as root without CAP_NET_RAW and CAP_NET_ADMIN (a container), nginx falls back to the loopback binding, says why, and clients get through', async () => {
    // The old default was transparent for any root: nginx's worker died at start (capset() failed) and nothing got through.
    const script = `
      import { connect, createServer } from 'node:net';
      import { startNginx } from ${JSON.stringify(new URL('../../../scripts/cluster.mjs', import.meta.url).href)};
      const probe = createServer((s) => s.end(s.remoteAddress));
      await new Promise((r) => probe.listen(0, '127.0.0.1', r));
      const port = probe.address().port;
      const nginx = await startNginx({ servers: [{ port, tcpPort: port }] });
      const seen = await new Promise((resolve) => {
        const s = connect({ port: nginx.port, host: '127.0.0.1', localAddress: '127.0.0.2' });
        let text = '';
        const timer = setTimeout(() => s.destroy(), 5000);
        s.setEncoding('utf8');
        s.on('data', (d) => (text += d));
        s.once('close', () => (clearTimeout(timer), resolve(text)));
        s.once('error', () => undefined);
      });
      await nginx.stop();
      probe.close();
      console.log(JSON.stringify({ mode: nginx.clientAddress, seen }));
    `;
    const r = spawnSync('setpriv', [...DROP, '--', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 15_000 });
    expect(JSON.parse(r.stdout)).toEqual({ mode: 'loopback', seen: '127.0.0.2' });
    expect(r.stderr).toMatch(/nginx cannot bind client addresses transparently here although it runs as root \(.*capset\(\) failed \(1: Operation not permitted\)/);
  }, 20_000);

  it(`one host's datagrams from 600 source ports hold at most ${UDP_SESSIONS_PER_HOST} of nginx's UDP sessions, and another host still gets through`, async () => {
    const { nginx } = await seenThrough();
    const hostile = '127.0.0.4';
    const socks: Socket[] = [];
    let answered = 0;
    try {
      for (let i = 0; i < 600; i++) {
        const s = createSocket('udp4');
        s.on('message', () => answered++);
        await new Promise<void>((resolve) => s.bind(0, hostile, () => resolve()));
        socks.push(s);
        await new Promise<void>((resolve) => s.send('x', nginx.port, '127.0.0.1', () => resolve()));
        // Paced so that nginx's receive buffer does not drop them: each should be a session.
        if (i % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      // Each session lasts proxy_timeout (30 s) after its datagram. Before: 600 sessions took the worker's
      // 1,024 connections, and the datagram of this host (a new client) was dropped until they timed out.
      expect(await udpSeenFrom(nginx.port, CLIENT_HOSTS[1])).toBe(CLIENT_HOSTS[1]);
      expect(answered).toBeLessThanOrEqual(UDP_SESSIONS_PER_HOST);
      expect(answered).toBeGreaterThan(UDP_SESSIONS_PER_HOST / 2);
      expect(nginx.log()).toMatch(/limiting connections by zone "forum_udp_hosts"/);
      expect(nginx.log()).not.toMatch(/worker_connections are not enough/);
    } finally {
      for (const s of socks) s.close();
    }
  }, 30_000);

  it('the loopback binding, which needs no privilege, does the same on loopback; without a binding every client is nginx\'s 127.0.0.1 (as before)', async () => {
    expect((await seenThrough('loopback')).seen).toEqual(own);
    expect((await seenThrough('nginx')).seen).toEqual(CLIENT_HOSTS.flatMap(() => ['udp 127.0.0.1', 'tcp 127.0.0.1']));
  }, 20_000);
});

describe.skipIf(nginxMissing)('per-host limits of a forum-server behind nginx count each client host', () => {
  const scope = cleanupAfterEach();
  const held: RawClient[] = [];

  const behindNginx = async (args: readonly string[]): Promise<number> => {
    // Its stop waits 100 ms (FORUM_SERVER_TEST_STOP_GRACE_MS), not 2 s, for the connections of the clients behind
    // nginx, stopped before it: nothing after the stop is checked.
    const { server } = await scope.startInTemp(args, { [STOP_GRACE_ENV]: String(MIN_TEST_STOP_GRACE_MS) });
    const nginx = await startNginx({ servers: [server] });
    scope.closers.push(() => nginx.stop());
    scope.closers.push(() => Promise.all(held.splice(0).map((c) => c.close().catch(() => undefined))).then(() => undefined));
    return nginx.port;
  };
  const connectFrom = async (port: number, localAddress: string): Promise<RawClient> => {
    const c = await rawClient(port, { localAddress, handshakeTimeoutMs: 10_000 });
    held.push(c);
    return c;
  };

  it('account creation (--account-limit 3): one host that used up its creations does not refuse another host\'s', async () => {
    const port = await behindNginx(['--account-limit', '3', '--account-window', '600']);
    const [first, second] = CLIENT_HOSTS;
    const replies: string[] = [];
    for (let i = 0; i < 4; i++) replies.push((await rawLogin(await connectFrom(port, first), `a${i}`, 'pw')).lines[0] ?? '');
    expect(replies.slice(0, 3)).toEqual(Array<string>(3).fill('Welcome to the forum'));
    expect(replies[3]).toMatch(/^Too many new accounts from your address, try again in \d+ seconds?$/);
    // Before: refused too (the server counted nginx's address for both hosts).
    expect((await rawLogin(await connectFrom(port, second), 'b0', 'pw')).lines).toEqual(['Welcome to the forum']);
  }, 30_000);

  it('connections per host (--max-connections-per-host 2): a host at its limit is refused in the handshake, another host is not', async () => {
    const port = await behindNginx(['--max-connections-per-host', '2']);
    const [first, second] = CLIENT_HOSTS;
    // Logged in: connections not logged in would make room for the host's newcomer (e2e-login-room.test.ts).
    for (const name of ['alice', 'bob']) expect((await rawLogin(await connectFrom(port, first), name, 'pw')).lines).toEqual(['Welcome to the forum']);
    await expect(connectFrom(port, first)).rejects.toMatchObject({ code: 'ECONNREFUSED', reason: { kind: 'refused' } });
    // Before: refused too.
    expect((await rawLogin(await connectFrom(port, second), 'carol', 'pw')).lines).toEqual(['Welcome to the forum']);
  }, 30_000);
});
