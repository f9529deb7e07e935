// Several forum-server processes on one PostgreSQL, behind nginx (stream, UDP + TCP),
// all on loopback: used by `pnpm demo:cluster` and the end-to-end tests that put nginx in
// front of servers (cluster, client address, NAT rebinding); attack/cluster-pg.ts starts
// its servers with startServerProcess, without nginx. (`pnpm soak --servers N` starts its
// own servers, each behind a lossy relay: soak.mjs.) Everything started here is stopped
// by `stop()`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEBIAN_STREAM_MODULE, WORKER_CONNECTIONS, renderNginxConfig } from '../deploy/nginx-config.mjs';
import { freeUdpTcpPort } from './free-port.mjs';

export { freePort, freeUdpTcpPort } from './free-port.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
/** The built forum-server binary. */
export const SERVER_BIN = join(root, 'packages/server/bin/forum-server.js');


/** The nginx binary, or `undefined` when it is not installed (`.ci/run` installs it). */
export const findNginx = () => ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'].find((p) => existsSync(p));

/** What to load for `stream`: a module path, or `false` when nginx has it built in. Throws if it has neither. */
export const streamModuleOf = (bin) => {
  // nginx -V prints its configure arguments on stderr.
  const r = spawnSync(bin, ['-V'], { encoding: 'utf8' });
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (/--with-stream(\s|$)/.test(text)) return false;
  if (text.includes('--with-stream=dynamic') && existsSync(DEBIAN_STREAM_MODULE)) return DEBIAN_STREAM_MODULE;
  throw new Error(`${bin} has no stream module (Debian: apt-get install libnginx-mod-stream)`);
};

/** Collects a stream's text and lets callers wait for a piece of it. */
const collect = (stream) => {
  const out = { text: '', waiters: [] };
  stream.setEncoding('utf8');
  stream.on('data', (s) => {
    out.text += s;
    for (const w of [...out.waiters]) if (out.text.includes(w.needle)) (out.waiters.splice(out.waiters.indexOf(w), 1), w.resolve());
  });
  return out;
};

const waitText = (out, needle, ms, what) =>
  out.text.includes(needle)
    ? Promise.resolve()
    : new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}: ${JSON.stringify(needle)}; got:\n${out.text}`)), ms);
        out.waiters.push({ needle, resolve: () => (clearTimeout(t), resolve()) });
      });

const exitOf = (child) => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(child.exitCode ?? child.signalCode) : child.once('exit', (c, s) => resolve(c ?? s))));

const stopChild = async (child, signal = 'SIGTERM', graceMs = 5000) => {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = exitOf(child);
  child.kill(signal);
  const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
};

/**
 * Starts one forum-server on `port` (UDP and TCP; 0: free ports the server picks itself)
 * with the store at `databaseUrl`. Resolves once it prints `Waiting for clients` and the
 * ports it bound; `port` is then the UDP port, `tcpPort` the TCP one.
 */
export const startServerProcess = async ({ port, databaseUrl, idleTimeoutSeconds = 600, advertisedTransferPort, identityFile, cwd, extraArgs = [], env = {} }) => {
  const args = [SERVER_BIN, String(port), '--store', databaseUrl, '--idle-timeout', String(idleTimeoutSeconds), ...extraArgs];
  if (advertisedTransferPort !== undefined) args.push('--advertised-transfer-port', String(advertisedTransferPort));
  if (identityFile !== undefined) args.push('--identity-file', identityFile);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, ...(cwd === undefined ? {} : { cwd }) });
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  const exited = exitOf(child);
  const died = exited.then((code) => {
    throw new Error(`forum-server on ${port} exited (${code}) before it was ready: ${stderr.text.trim()}`);
  });
  died.catch(() => undefined);
  await Promise.race([Promise.all([waitText(stdout, 'Waiting for clients\n', 20_000, `forum-server on ${port}`), waitText(stderr, ', TCP ', 20_000, `forum-server on ${port}`)]), died]);
  // `forum-server: UDP 127.0.0.1:PORT, TCP PORT, …`: what it bound (the same as `port` unless that was 0).
  const bound = /UDP [^ ]+:([0-9]+), TCP ([0-9]+)/.exec(stderr.text);
  if (bound === null) throw new Error(`forum-server on ${port} did not say which ports it bound: ${stderr.text.trim()}`);
  return {
    port: Number(bound[1]),
    tcpPort: Number(bound[2]),
    child,
    exited,
    /** Server stdout so far. */
    output: () => stdout.text,
    errors: () => stderr.text,
    /** Resolves once the server has printed `needle`. */
    waitFor: (needle, ms = 15_000) => waitText(stdout, needle, ms, `forum-server on ${port}`),
    stop: () => stopChild(child),
  };
};

/** Resolves once something accepts TCP connections on `port`, or rejects after `ms`. */
const waitForTcp = async (port, ms) => {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = connect({ port, host: '127.0.0.1' });
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on TCP ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

/** Resolves once `file` holds `pid`, or rejects after `ms`. */
const waitForPidFile = async (file, pid, ms) => {
  const deadline = Date.now() + ms;
  while ((await readFile(file, 'utf8').catch(() => '')).trim() !== String(pid)) {
    if (Date.now() > deadline) throw new Error(`nginx (pid ${pid}) wrote no pid file ${file}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

/** nginx's log lines that matter when a binding fails (a worker that died, a setsockopt refused). */
const nginxTrouble = (log) =>
  log
    .split('\n')
    .filter((l) => /\[(emerg|alert|crit)\]/.test(l))
    .map((l) => l.replace(/^.*?\[/, '['))
    .join('; ');

/**
 * Whether nginx started as root can bind a client's address transparently here: started so in front
 * of a local TCP server, a connection through it is answered. Root is not enough: without
 * CAP_NET_RAW (and CAP_NET_ADMIN) in the bounding set, as in a container that drops them (Podman's
 * default, Kubernetes' restricted profile), nginx's worker dies at start (`capset() failed (1:
 * Operation not permitted)`) and nothing reaches the servers; where the worker lives but the kernel
 * refuses, nginx logs `setsockopt(IP_TRANSPARENT) failed` and closes each connection.
 */
const probeTransparent = async (bin) => {
  const backend = createServer((s) => s.end('ok'));
  await new Promise((resolve, reject) => (backend.once('error', reject), backend.listen(0, '127.0.0.1', () => resolve())));
  const port = backend.address().port;
  let nginx;
  try {
    // A port taken between picking and binding it says nothing about transparent: startNginx picks another.
    const n = await startNginx({ servers: [{ port, tcpPort: port }], bin, clientAddress: 'transparent' });
    nginx = n;
    const answer = await new Promise((resolve) => {
      const s = connect({ port: n.port, host: '127.0.0.1' });
      let text = '';
      const done = () => (clearTimeout(timer), clearInterval(watch), s.destroy(), resolve(text));
      // A dead worker leaves the connection waiting in the listen queue: its log says so at once.
      const watch = setInterval(() => nginxTrouble(n.log()) !== '' && done(), 50);
      const timer = setTimeout(done, 5_000);
      s.setEncoding('utf8');
      s.on('data', (d) => (text += d));
      s.once('close', done);
      s.once('error', () => undefined);
    });
    if (answer === 'ok') return { mode: 'transparent' };
    return { mode: 'loopback', why: nginxTrouble(n.log()) || 'a connection through it got no answer within 5 s' };
  } catch (e) {
    return { mode: 'loopback', why: e instanceof Error ? e.message : String(e) };
  } finally {
    await nginx?.stop();
    await new Promise((resolve) => backend.close(() => resolve()));
  }
};

let clientAddressProbe;

/**
 * The client address mode nginx runs in here, and why not the shipped `transparent` when root
 * cannot run it: `transparent` as root where a probe shows that it works, otherwise `loopback`, which
 * shows the servers the same client addresses on loopback without privilege. Probed once per
 * process; a root that cannot says so on stderr once (a CI container without CAP_NET_RAW: the
 * cluster test, the client-address test and `pnpm demo:cluster` all ran nginx in a mode in which
 * nothing reached the servers).
 */
export const clientAddressHere = (bin = findNginx()) => {
  if (process.getuid?.() !== 0) return Promise.resolve({ mode: 'loopback' });
  clientAddressProbe ??= probeTransparent(bin).then((r) => {
    if (r.why !== undefined) {
      process.stderr.write(
        `cluster.mjs: nginx cannot bind client addresses transparently here although it runs as root (${r.why}); ` +
          'it runs with "proxy_bind $remote_addr" (loopback) instead, which shows the servers the same client addresses on loopback. ' +
          'The shipped transparent binding needs CAP_NET_RAW in nginx\'s capability bounding set (a container: --cap-add NET_RAW).\n',
      );
    }
    return r;
  });
  return clientAddressProbe;
};

/**
 * Starts nginx in front of `servers` (rendered deploy/nginx.conf) on `listenPort`,
 * in the foreground (`daemon off`) with its files in a temporary directory. Without `listenPort`, on
 * a port picked free (UDP and TCP): one another process binds before nginx does is replaced by a new
 * one, three times at most (tests running side by side bind ports of the system's choosing meanwhile).
 */
export const startNginx = async (options) => {
  if (options.listenPort !== undefined) return startNginxOn(options);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startNginxOn({ ...options, listenPort: await freeUdpTcpPort() });
    } catch (e) {
      if (attempt >= 3 || !(e instanceof Error) || !e.message.includes(ADDRESS_IN_USE)) throw e;
    }
  }
};

/**
 * The shipped worker_connections, or less where this process's hard descriptor limit is lower (a
 * container, 20,000 on the test machine): the rendered worker_rlimit_nofile (4,096 more) must fit
 * under it, or nginx's worker logs a setrlimit alert that the harness reads as trouble.
 */
const workerConnectionsHere = () => {
  const hard = /^Max open files\s+\S+\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
  return hard === undefined ? WORKER_CONNECTIONS : Math.max(1_024, Math.min(WORKER_CONNECTIONS, Number(hard) - 4_096));
};

/** startNginx on a port given. */
const startNginxOn = async ({ listenPort, servers, bin = findNginx(), clientAddress: chosen }) => {
  if (bin === undefined) throw new Error('nginx is not installed (apt-get install nginx-light libnginx-mod-stream)');
  const clientAddress = chosen ?? (await clientAddressHere(bin)).mode;
  const dir = await mkdtemp(join(tmpdir(), 'forum-nginx-'));
  const conf = join(dir, 'nginx.conf');
  await writeFile(
    conf,
    renderNginxConfig({
      listenPort,
      servers: servers.map((s) => ({ host: '127.0.0.1', udpPort: s.port, tcpPort: s.tcpPort })),
      pidFile: join(dir, 'nginx.pid'),
      errorLog: 'stderr',
      streamModule: streamModuleOf(bin),
      clientAddress,
      workerConnections: workerConnectionsHere(),
    }),
  );
  const child = spawn(bin, ['-p', dir, '-c', conf, '-e', 'stderr', '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const stderr = collect(child.stderr);
  const exited = exitOf(child);
  try {
    await Promise.race([
      // nginx writes its pid file once it has bound its ports: a process that took the port
      // meanwhile may accept a TCP connection, but never writes nginx's pid there.
      waitForPidFile(join(dir, 'nginx.pid'), child.pid, 10_000).then(() => waitForTcp(listenPort, 10_000)),
      exited.then((code) => {
        throw new Error(`nginx exited (${code}): ${stderr.text}`);
      }),
    ]);
  } catch (e) {
    await stopChild(child, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    port: listenPort,
    clientAddress,
    log: () => stderr.text,
    stop: async () => {
      // Fast shutdown (TERM): a graceful one (QUIT) would wait out every UDP session's proxy_timeout.
      await stopChild(child, 'SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
};

/** What nginx prints when its listen port was taken between picking it and binding it. */
const ADDRESS_IN_USE = 'Address already in use';

/**
 * A forum-server on one port for UDP and TCP, as deployed: nginx's consistent hash places each
 * upstream by its address, so equal ports give the UDP and TCP rings the same order and a client
 * address reaches the same server both ways. The port is picked free (UDP and TCP); one taken
 * before the server binds it (EADDRINUSE) is replaced by a new one, five times at most.
 */
const startServerOnFreePort = async (options) => {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startServerProcess({ ...options, port: await freeUdpTcpPort() });
    } catch (e) {
      if (attempt >= 5 || !(e instanceof Error) || !e.message.includes('EADDRINUSE')) throw e;
    }
  }
};

/**
 * `count` servers on `databaseUrl` and nginx in front of them. Clients use
 * `port` (UDP and TCP). Every server has the same identity key (`identityFile`,
 * created by the first), so a client that pinned the forum's key may be sent
 * to any of them. `stop()` ends nginx and every server still running.
 *
 * Ports are picked free, and another process may bind one before its server or nginx does: a
 * server is then started again on a new port (see startServerOnFreePort); nginx's port is
 * advertised by the servers, so a start that nginx refuses is done again, three times at most.
 */
export const startCluster = async (options) => {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startClusterOnce(options);
    } catch (e) {
      if (attempt >= 3 || !(e instanceof Error) || !e.message.includes(ADDRESS_IN_USE)) throw e;
    }
  }
};

const startClusterOnce = async ({ count, databaseUrl, idleTimeoutSeconds = 600, extraArgs = [], env = {} }) => {
  const listenPort = await freeUdpTcpPort();
  const dir = await mkdtemp(join(tmpdir(), 'forum-cluster-'));
  const identityFile = join(dir, '.forum-server-identity');
  const servers = [];
  let nginx;
  const stop = async () => {
    await nginx?.stop();
    await Promise.all(servers.map((s) => s.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    // One at a time: the first creates the schema and the identity key, the others find them (they would also wait on the schema's lock).
    for (let i = 0; i < count; i++) {
      servers.push(await startServerOnFreePort({ databaseUrl, idleTimeoutSeconds, advertisedTransferPort: listenPort, identityFile, cwd: dir, extraArgs, env }));
    }
    nginx = await startNginx({ listenPort, servers });
  } catch (e) {
    await stop();
    throw e;
  }
  return { port: listenPort, servers, nginx, identityFile, stop };
};
