import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EXAMPLE, renderNginxConfig, type NginxConfigOptions } from '../../../deploy/nginx-config.mjs';
import { findNginx } from '../../../scripts/cluster.mjs';

const shipped = fileURLToPath(new URL('../../../deploy/nginx.conf', import.meta.url));

describe('deploy/nginx.conf', () => {
  it('is what deploy/nginx-config.mjs renders (regenerate with `node deploy/nginx-config.mjs > deploy/nginx.conf`)', () => {
    expect(readFileSync(shipped, 'utf8')).toBe(renderNginxConfig(EXAMPLE));
  });

  it('balances UDP and TCP by client address, consistently, over the same servers', () => {
    const text = readFileSync(shipped, 'utf8');
    expect(text.match(/hash \$remote_addr consistent;/g)).toHaveLength(2);
    // Every IPv4 address of nginx's host: the clients of README.md's `forum-client 4000 --host lb.example` reach it.
    expect(text).toMatch(/listen 0\.0\.0\.0:4000 udp;/);
    expect(text).toMatch(/listen 0\.0\.0\.0:4000;/);
    expect(text).toMatch(/^load_module .*ngx_stream_module\.so;$/m);
    for (const port of [4001, 4002, 4003]) expect(text.match(new RegExp(`server 127\\.0\\.0\\.1:${port} `, 'g'))).toHaveLength(2);
  });

  it('is the production configuration: both server blocks bind to the client\'s address transparently', () => {
    const text = readFileSync(shipped, 'utf8');
    expect(text.match(/^ {8}proxy_bind \$remote_addr transparent;$/gm)).toHaveLength(2);
    // Each server block: listen, then the binding, the per-host limit, then proxy_pass (UDP and TCP alike).
    expect(text.match(/listen 0\.0\.0\.0:4000( udp)?;\n {8}proxy_bind \$remote_addr transparent;\n {8}limit_conn forum_(udp|tcp)_hosts \d+;\n {8}proxy_pass forum_(udp|tcp);/g)).toHaveLength(2);
    // The routing that hands nginx the servers' replies, for the shipped servers' addresses and ports.
    for (const proto of ['udp', 'tcp']) expect(text).toContain(`#     ip rule add from 127.0.0.1 ipproto ${proto} sport 4001-4003 lookup 100\n`);
    expect(text).toContain('#     ip route add local 0.0.0.0/0 dev lo table 100\n');
  });

  it('bounds what one client host holds of nginx: UDP sessions and TCP connections per address, and room for many hosts', () => {
    const text = readFileSync(shipped, 'utf8');
    expect(text).toMatch(/listen 0\.0\.0\.0:4000 udp;\n {8}proxy_bind \$remote_addr transparent;\n {8}limit_conn forum_udp_hosts 256;\n/);
    expect(text).toMatch(/listen 0\.0\.0\.0:4000;\n {8}proxy_bind \$remote_addr transparent;\n {8}limit_conn forum_tcp_hosts 64;\n/);
    expect(text.match(/^ {4}limit_conn_zone \$binary_remote_addr zone=forum_(udp|tcp)_hosts:10m;$/gm)).toHaveLength(2);
    expect(text).toContain('    worker_connections 65536;\n');
    expect(text).toContain('\nworker_rlimit_nofile 69632;\n');
    expect(renderNginxConfig({ ...EXAMPLE, workerConnections: 8_192 })).toMatch(/worker_rlimit_nofile 12288;[^]*worker_connections 8192;/);
    expect(() => renderNginxConfig({ ...EXAMPLE, workerConnections: 100 })).toThrow(/workerConnections must be an integer of at least 1024/);
  });

  it.skipIf(findNginx() === undefined && process.env.CI !== 'true')('passes nginx -t', () => {
    const dir = mkdtempSync(join(tmpdir(), 'forum-nginx-t-'));
    try {
      // The shipped paths (pid, log) need root; the test checks the same text with its own paths.
      const conf = join(dir, 'nginx.conf');
      writeFileSync(conf, renderNginxConfig({ ...EXAMPLE, pidFile: join(dir, 'pid'), errorLog: join(dir, 'error.log') }));
      const r = spawnSync(findNginx() ?? 'nginx', ['-t', '-p', dir, '-c', conf, '-e', 'stderr'], { encoding: 'utf8' });
      expect(r.stderr).toContain('syntax is ok');
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('renderNginxConfig: which client address the servers see', () => {
  const binds = (o: NginxConfigOptions): string[] => renderNginxConfig(o).match(/^ *proxy_bind .*$/gm)?.map((l) => l.trim()) ?? [];

  it('transparent by default; loopback without privilege; nginx (no binding) on request; anything else refused', () => {
    expect(binds(EXAMPLE)).toEqual(Array<string>(2).fill('proxy_bind $remote_addr transparent;'));
    expect(binds({ ...EXAMPLE, clientAddress: 'loopback' })).toEqual(Array<string>(2).fill('proxy_bind $remote_addr;'));
    expect(binds({ ...EXAMPLE, clientAddress: 'nginx' })).toEqual([]);
    expect(renderNginxConfig({ ...EXAMPLE, clientAddress: 'nginx' })).toContain('every per-host limit of rudpx and forum-server counts all clients');
    expect(() => renderNginxConfig({ ...EXAMPLE, clientAddress: 'spoof' as unknown as 'nginx' })).toThrow(/clientAddress must be one of transparent, loopback, nginx/);
  });

  it('refuses to bind client addresses of one family to servers of another, or to names it cannot tell the family of', () => {
    expect(() => renderNginxConfig({ ...EXAMPLE, listenHost: '[::]' })).toThrow(/one family \(127\.0\.0\.1, 127\.0\.0\.1, 127\.0\.0\.1\)/);
    expect(() => renderNginxConfig({ ...EXAMPLE, listenHost: '[::]', clientAddress: 'loopback' })).toThrow(/one family/);
    const named = { ...EXAMPLE, servers: [{ host: 'forum1.internal', udpPort: 4001, tcpPort: 4001 }] };
    expect(() => renderNginxConfig(named)).toThrow(/one family \(forum1\.internal\)/);
    expect(() => renderNginxConfig({ ...EXAMPLE, listenHost: 'lb.example' })).toThrow(/the listen host lb\.example is not an IP address/);
    // Without a binding, families and names do not matter.
    expect(() => renderNginxConfig({ ...named, listenHost: '[::]', clientAddress: 'nginx' })).not.toThrow();
  });

  it('renders IPv6 throughout, with the IPv6 routing for the replies, and other ports as ranges', () => {
    const text = renderNginxConfig({
      ...EXAMPLE,
      listenHost: '[::]',
      servers: [
        { host: '[fd00::1]', udpPort: 4001, tcpPort: 5001 },
        { host: '[fd00::1]', udpPort: 4002, tcpPort: 5003 },
        { host: '[fd00::2]', udpPort: 4001, tcpPort: 5001 },
      ],
    });
    expect(text).toMatch(/listen \[::\]:4000 udp;\n {8}proxy_bind \$remote_addr transparent;/);
    expect(text).toContain('server [fd00::1]:5003 max_fails=1');
    expect(text.match(/^# {5}ip .*$/gm)).toEqual([
      '#     ip -6 rule add from fd00::1 ipproto udp sport 4001-4002 lookup 100',
      '#     ip -6 rule add from fd00::1 ipproto tcp sport 5001 lookup 100',
      '#     ip -6 rule add from fd00::1 ipproto tcp sport 5003 lookup 100',
      '#     ip -6 rule add from fd00::2 ipproto udp sport 4001 lookup 100',
      '#     ip -6 rule add from fd00::2 ipproto tcp sport 5001 lookup 100',
      '#     ip -6 route add local ::/0 dev lo table 100',
    ]);
  });
});
