// Renders deploy/nginx.conf: nginx `stream` load balancing for several forum-server
// processes, UDP (rudp) and TCP (file transfers). `pnpm demo:cluster` and the cluster
// test render it with their own ports; `node deploy/nginx-config.mjs` prints the
// shipped example (a test checks that the file matches).
import { isIP } from 'node:net';

/** Debian's path of the dynamic stream module (package libnginx-mod-stream). */
export const DEBIAN_STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

/**
 * How nginx binds its sockets to the servers, which decides the client address a server sees:
 * - `transparent` (the shipped one): `proxy_bind $remote_addr transparent`, the client's own IP
 *   address from any host. Needs nginx's master process started as root (nginx >= 1.13.8 keeps
 *   CAP_NET_RAW for the workers) and, for addresses not local to nginx's host, routing that brings
 *   the servers' replies back to nginx (README.md, "Running N servers").
 * - `loopback`: `proxy_bind $remote_addr`, the client's own IP address without privilege, but only
 *   for clients whose address is local to nginx's host (127.0.0.0/8 on loopback): the tests and
 *   `pnpm demo:cluster` as a user other than root.
 * - `nginx`: no proxy_bind: every server sees nginx's address for every client, so every per-host
 *   limit of rudpx and forum-server counts all clients of the balancer together, and every account
 *   made through it is of nginx's origin: together they hold `--origin-shares` accounts' shares.
 */
export const CLIENT_ADDRESS_MODES = ['transparent', 'loopback', 'nginx'];

/**
 * nginx UDP sessions one client host may hold at once (`limit_conn` on the UDP server block): as
 * many as a forum-server lets one host connect (`--max-connections-per-host`, 256 by default), so a
 * NAT full of users gets what it would get without a balancer. nginx keeps a UDP session per client
 * address and port for `proxy_timeout` (30 s) after its last datagram, whatever the server answers,
 * and each takes two of the worker's connections: without this limit one host sending one datagram
 * from each of 600 ports (720 KB, 76 ms) used up the 1,024 connections and every new client was
 * dropped for the next 25-30 s (attack/README-30.md).
 */
export const UDP_SESSIONS_PER_HOST = 256;

/**
 * TCP connections one client host may hold through nginx (`limit_conn` on the TCP server block):
 * well above the 16 transfer connections a server takes from one host, so the server's own refusal
 * (`ERR too many transfers at once`) is what a client over that reads, not a bare close by nginx.
 */
export const TCP_CONNECTIONS_PER_HOST = 64;

/**
 * The worker's connections by default (`worker_connections`, the `workerConnections` option): a UDP
 * session takes two, a TCP connection two. 65,536 is 32,767 sessions, 128 hosts at their limit;
 * nginx allocates some 450 bytes for each (30 MB) when the worker starts. The worker's descriptor
 * limit is set above it (`worker_rlimit_nofile`, 4,096 more): a UDP session holds one descriptor, a
 * TCP connection two. Raising it past the hard limit nginx starts under needs CAP_SYS_RESOURCE (root
 * has it outside containers; systemd's hard limit is 524,288); without it nginx logs `setrlimit(...)
 * failed` and runs with the limit it has.
 */
export const WORKER_CONNECTIONS = 65_536;

/** The family (4 or 6) of a literal IP address, bracketed or not; 0 for anything else (a name, `*`). */
const familyOf = (host) => isIP(host.replace(/^\[(.*)\]$/, '$1'));

/**
 * Binding to the client's address needs the servers on the listen address's family: a client's
 * IPv6 address cannot be bound to a socket that reaches an IPv4 server (nginx 1.22, a ::1 client
 * sent to 127.0.0.1: `setsockopt(IPV6_TRANSPARENT) failed (92: Protocol not available)` with
 * `transparent`, `bind(::1) failed (97: Address family not supported by protocol)` without, and
 * that client gets no answer), so a configuration that would mix them is refused here rather
 * than failing one client at a time.
 */
const checkFamilies = (o, mode) => {
  if (mode === 'nginx') return;
  const listenHost = o.listenHost ?? '127.0.0.1';
  const listenFamily = familyOf(listenHost);
  const mixed = o.servers.filter((s) => familyOf(s.host) !== listenFamily);
  if (listenFamily !== 0 && mixed.length === 0) return;
  throw new Error(
    `clientAddress '${mode}' binds each client's address to nginx's socket to the server, so the listen host and every server host must be IP addresses of one family ` +
      `(${listenFamily === 0 ? `the listen host ${listenHost} is not an IP address` : mixed.map((s) => s.host).join(', ')}); ` +
      'for clients of both families, render one configuration per family (IPv4 listen and servers, IPv6 listen and servers)',
  );
};

/** The proxy_bind line of `mode`, indented for a server block, or nothing. */
const proxyBindOf = (mode) =>
  mode === 'transparent' ? '        proxy_bind $remote_addr transparent;\n' : mode === 'loopback' ? '        proxy_bind $remote_addr;\n' : '';

/**
 * @param {{
 *   readonly listenHost?: string;
 *   readonly listenPort: number;
 *   readonly servers: readonly { readonly host: string; readonly udpPort: number; readonly tcpPort: number }[];
 *   readonly pidFile: string;
 *   readonly errorLog: string;
 *   readonly streamModule?: string | false;
 *   readonly clientAddress?: 'transparent' | 'loopback' | 'nginx';
 *   readonly workerConnections?: number;
 * }} o
 * @returns {string}
 */
export const renderNginxConfig = (o) => {
  const listenHost = o.listenHost ?? '127.0.0.1';
  const module = o.streamModule ?? DEBIAN_STREAM_MODULE;
  const mode = o.clientAddress ?? 'transparent';
  if (!CLIENT_ADDRESS_MODES.includes(mode)) throw new Error(`clientAddress must be one of ${CLIENT_ADDRESS_MODES.join(', ')}, not ${String(mode)}`);
  checkFamilies(o, mode);
  const bind = proxyBindOf(mode);
  const workerConnections = o.workerConnections ?? WORKER_CONNECTIONS;
  if (!Number.isInteger(workerConnections) || workerConnections < 1_024) throw new Error(`workerConnections must be an integer of at least 1024, not ${String(workerConnections)}`);
  const upstream = (name, port) =>
    [
      `    upstream ${name} {`,
      '        hash $remote_addr consistent;',
      ...o.servers.map((s) => `        server ${s.host}:${port(s)} max_fails=1 fail_timeout=10s;`),
      '    }',
    ].join('\n');
  return `# nginx in front of ${o.servers.length} forum-server processes sharing one PostgreSQL database
# (forum-server --store postgres://...). Generated by deploy/nginx-config.mjs.
#
# Clients reach every server through one address: UDP ${listenPort(o)} for the forum
# protocol (rudp) and TCP ${listenPort(o)} for UPD/DWN transfers (start the servers
# with --advertised-transfer-port ${listenPort(o)}, so that replies send clients here).
#
# Routing is by client address ("hash $remote_addr consistent", ketama): one client
# host goes to one server as long as the set of live servers is the same, and adding
# or losing a server moves only the clients that hashed to it. What it survives: a
# server crash (nginx marks it failed after one refused datagram or connection, the
# clients reconnect and land on another server; the session lease of the dead server
# expires within the idle timeout, at most 15 s). A NAT rebinding of a client (a new
# port, the same IP address) hashes to the same server; nginx opens a new upstream
# socket for it, which the server sees as a new port of the same address and follows
# (rudpx NAT rebinding), so the session goes on. A client's new IP address may hash
# to another server, which does not know the connection: the client logs in again
# (a server follows its client to a new IP address, rudpx "IP address change", only
# when the new address hashes to the same server). Many clients behind one NAT all
# land on one server. A connection-id-aware balancer routing on the server id that
# forum servers put in their connection ids (QUIC-LB layout,
# rudp/src/wire/quic-lb-cid.ts) could spread those; nginx has no such module.
#
${clientAddressNote(o, mode)}
${module === false ? '' : `load_module ${module};\n`}
worker_processes 1;
# A UDP session holds one descriptor, a TCP connection two: room for every connection below.
worker_rlimit_nofile ${workerConnections + 4_096};
pid ${o.pidFile};
error_log ${o.errorLog} notice;

events {
    worker_connections ${workerConnections};
}

stream {
    # What one client host may hold of nginx (${UDP_SESSIONS_PER_HOST} UDP sessions, as many as a
    # server lets one host connect; ${TCP_CONNECTIONS_PER_HOST} TCP connections, above a server's 16
    # transfers per host): without it one host's datagrams from a few hundred ports used
    # up worker_connections for 30 s and every new client was dropped. Keyed by the
    # whole address: an IPv6 client with a /64 counts as many hosts (a server counts it
    # as one), and a client that spoofs source addresses fills nginx still.
    limit_conn_zone $binary_remote_addr zone=forum_udp_hosts:10m;
    limit_conn_zone $binary_remote_addr zone=forum_tcp_hosts:10m;
    limit_conn_log_level warn;

${upstream('forum_udp', (s) => s.udpPort)}

${upstream('forum_tcp', (s) => s.tcpPort)}

    # rudp: one nginx UDP session per client address and port. Clients send a
    # keep-alive every 2 s, so 30 s of silence means the client is gone.
    server {
        listen ${listenHost}:${listenPort(o)} udp;
${bind}        limit_conn forum_udp_hosts ${UDP_SESSIONS_PER_HOST};
        proxy_pass forum_udp;
        proxy_timeout 30s;
    }

    # File transfers: the token in the first line is valid on every server. An
    # uploading client half-closes after its bytes and then reads the server's
    # OK/ERR line: nginx must pass the half-close on (proxy_half_close, nginx 1.21.4+).
    server {
        listen ${listenHost}:${listenPort(o)};
${bind}        limit_conn forum_tcp_hosts ${TCP_CONNECTIONS_PER_HOST};
        proxy_pass forum_tcp;
        proxy_half_close on;
        proxy_connect_timeout 5s;
        proxy_timeout 60s;
    }
}
`;
};

/** `ports` as `ip rule` port ranges: consecutive ports joined (4001-4003). */
const portRanges = (ports) => {
  const sorted = [...new Set(ports)].sort((a, b) => a - b);
  const ranges = [];
  for (const p of sorted) {
    const last = ranges[ranges.length - 1];
    if (last !== undefined && p === last[1] + 1) last[1] = p;
    else ranges.push([p, p]);
  }
  return ranges.map(([a, b]) => (a === b ? String(a) : `${a}-${b}`));
};

/**
 * The policy routing that hands nginx the servers' replies, which are addressed to the client:
 * whatever comes from a server's address and port is delivered locally (to nginx's transparent
 * socket) instead of being routed towards the client. Checked in network namespaces (nginx 1.22,
 * servers on nginx's host and on another host): without it no reply reached nginx.
 */
const replyRoutingOf = (o) => {
  const lines = [];
  for (const host of [...new Set(o.servers.map((s) => s.host))]) {
    const on = o.servers.filter((s) => s.host === host);
    const from = host.replace(/^\[(.*)\]$/, '$1');
    for (const [proto, key] of [['udp', 'udpPort'], ['tcp', 'tcpPort']]) {
      for (const r of portRanges(on.map((s) => s[key]))) lines.push(`ip ${familyOf(host) === 6 ? '-6 ' : ''}rule add from ${from} ipproto ${proto} sport ${r} lookup 100`);
    }
  }
  const family = familyOf(o.servers[0]?.host ?? '127.0.0.1');
  lines.push(family === 6 ? 'ip -6 route add local ::/0 dev lo table 100' : 'ip route add local 0.0.0.0/0 dev lo table 100');
  return lines.map((l) => `#     ${l}`).join('\n');
};

/** What the rendered file says about each {@link CLIENT_ADDRESS_MODES} mode (comment lines). */
const clientAddressNote = (o, mode) => {
  if (mode === 'transparent') {
    return `# Client addresses: "proxy_bind $remote_addr transparent" in both server blocks makes
# nginx's socket to a server send from the client's own IP address (with a port nginx
# picks), so every per-host limit of rudpx and forum-server (handshake rate,
# connections, connections not logged in, account creations, login throttle, request
# pacing, reply budget, transfer connections) counts one client host, not every client
# of this balancer together. It needs:
# - nginx >= 1.13.8 with its master process started as root (the workers keep
#   CAP_NET_RAW for IP_TRANSPARENT; "user" may stay unprivileged), a root that has
#   CAP_NET_RAW: in a container that drops it the worker dies at start ("capset()
#   failed") and nothing reaches the servers (docker/podman run --cap-add NET_RAW);
# - the servers' replies, which are addressed to the client, handed to nginx. Clients
#   on nginx's own host (loopback) need nothing; for all others, as root on nginx's
#   host (servers on other hosts also need their default route via nginx's host):
${replyRoutingOf(o)}
# - clients and servers of one address family: an IPv6 client's address cannot be
#   bound to a socket to an IPv4 server (nginx would drop that client), so listen
#   address and servers are of one family (the renderer refuses a mix). For clients
#   of the other family, render a second configuration with a listen address and
#   server addresses of that family.`;
  }
  if (mode === 'loopback') {
    return `# Client addresses: "proxy_bind $remote_addr" (without "transparent") makes nginx's
# socket to a server send from the client's own IP address, which works without
# privilege only for addresses local to nginx's host (127.0.0.0/8 here): for tests and
# demos on loopback. Production uses "transparent" (deploy/nginx.conf).`;
  }
  return `# Client addresses: no proxy_bind: every server sees nginx's address for every client,
# so every per-host limit of rudpx and forum-server counts all clients of this
# balancer together (one client that uses one up shuts out the others), and every
# account created through it records nginx's address as its origin: all of them
# together hold --origin-shares accounts' shares of the forum (start the servers
# with --origin-shares 0 behind such a balancer).`;
};

/** @param {{ readonly listenPort: number }} o */
const listenPort = (o) => o.listenPort;

/**
 * The shipped example: nginx on port 4000 of every IPv4 address of its host (the address clients are
 * given, `forum-client 4000 --host lb.example`), in front of servers on 127.0.0.1:4001-4003.
 */
export const EXAMPLE = {
  listenHost: '0.0.0.0',
  listenPort: 4000,
  servers: [4001, 4002, 4003].map((p) => ({ host: '127.0.0.1', udpPort: p, tcpPort: p })),
  pidFile: '/run/forum-nginx.pid',
  errorLog: '/var/log/nginx/forum-error.log',
};

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(renderNginxConfig(EXAMPLE));
