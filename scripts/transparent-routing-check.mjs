#!/usr/bin/env node
// Checks, as root, what deploy/nginx.conf's `proxy_bind $remote_addr transparent` needs where
// clients are not on nginx's host (the tests stay on loopback, where it needs nothing): network
// namespaces for a client host (10.9.0.2 and .3), nginx's host (10.9.0.1, 10.8.0.1) and a server
// host (10.8.0.2, default route via nginx's host). One forum-server runs on nginx's host at
// 127.0.0.1 and one on the server host, each behind its own nginx rendered by
// deploy/nginx-config.mjs. Without the `ip rule` lines the rendered file lists, no session gets
// through; with them forum-client sessions log in, upload and download, and each server counts
// each client address apart (--account-limit 1: a second account from 10.9.0.2 is refused, one
// from 10.9.0.3 is made). Prints a Markdown table; exits non-zero if anything differs. Everything
// it creates (namespaces, with their links and rules; processes; temporary directories) is removed.
// Usage: sudo node scripts/transparent-routing-check.mjs (after `pnpm build`).
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderNginxConfig } from '../deploy/nginx-config.mjs';
import { findNginx, streamModuleOf } from './cluster.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const SERVER_BIN = join(root, 'packages/server/bin/forum-server.js');
const CLIENT_BIN = join(root, 'packages/client/bin/forum-client.js');
const nginxBin = findNginx();
if (process.getuid?.() !== 0 || nginxBin === undefined) {
  console.error('transparent-routing-check: needs root (network namespaces, nginx transparent) and nginx with its stream module');
  process.exit(2);
}

// Names of their own, so that a run beside another cannot clash.
const ns = { client: `forum-cl-${process.pid}`, lb: `forum-lb-${process.pid}`, server: `forum-sv-${process.pid}` };
const ip = (...args) => {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
};
const inNs = (name, cmd, args, options) => spawn('ip', ['netns', 'exec', name, cmd, ...args], options);

const children = [];
const dirs = [];
const started = (child) => (children.push(child), child);
/** Resolves once `child`'s stdout has said `needle`. */
const said = (child, needle, ms = 20_000) =>
  new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`no ${JSON.stringify(needle)} within ${ms} ms: ${out}`)), ms);
    child.stdout.setEncoding('utf8').on('data', (s) => {
      out += s;
      if (out.includes(needle)) (clearTimeout(t), resolve());
    });
  });

const results = [];
const check = (what, got, want) => results.push({ what, got, ok: got === want });

/** Ends `child` with `signal`, then SIGKILL after 5 s; resolves once it has exited. */
const stop = (child, signal) =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => {
        const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
        child.once('exit', () => (clearTimeout(t), resolve()));
        child.kill(signal);
      });

const cleanUp = async () => {
  // nginx with TERM, which ends its workers too: a master killed with SIGKILL left them running, in a namespace
  // that `ip netns del` then only unnamed (two orphaned workers per run, with their links and rules).
  await Promise.all(children.map((c) => stop(c, c.nginx === true ? 'SIGTERM' : 'SIGKILL')));
  const left = Object.values(ns).flatMap((name) => spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l !== ''));
  check('nothing left running in the namespaces', left.length === 0 ? 'nothing' : `processes ${left.join(', ')} (killed)`, 'nothing');
  for (const pid of left) spawnSync('kill', ['-KILL', pid]);
  for (const name of Object.values(ns)) spawnSync('ip', ['netns', 'del', name]);
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
};

try {
  for (const name of Object.values(ns)) (ip('netns', 'add', name), ip('-n', name, 'link', 'set', 'lo', 'up'));
  ip('link', 'add', 'fcl0', 'netns', ns.lb, 'type', 'veth', 'peer', 'name', 'fcl1', 'netns', ns.client);
  ip('link', 'add', 'fsv0', 'netns', ns.lb, 'type', 'veth', 'peer', 'name', 'fsv1', 'netns', ns.server);
  for (const [name, dev, addr] of [[ns.lb, 'fcl0', '10.9.0.1/24'], [ns.client, 'fcl1', '10.9.0.2/24'], [ns.client, 'fcl1', '10.9.0.3/24'], [ns.lb, 'fsv0', '10.8.0.1/24'], [ns.server, 'fsv1', '10.8.0.2/24']]) {
    ip('-n', name, 'addr', 'add', addr, 'dev', dev);
    ip('-n', name, 'link', 'set', dev, 'up');
  }
  // The server host's replies to clients go through nginx's host (the README's requirement).
  ip('-n', ns.server, 'route', 'add', 'default', 'via', '10.8.0.1');

  const setups = [
    { label: "server on nginx's host (127.0.0.1)", netns: ns.lb, host: '127.0.0.1', listenPort: 4000 },
    { label: 'server on another host (10.8.0.2)', netns: ns.server, host: '10.8.0.2', listenPort: 4100 },
  ];
  const rules = [];
  for (const s of setups) {
    const dir = await mkdtemp(join(tmpdir(), 'forum-transparent-'));
    dirs.push(dir);
    s.dir = dir;
    const server = started(
      inNs(s.netns, process.execPath, [SERVER_BIN, '4001', '--host', s.host, '--data-dir', join(dir, 'data'), '--advertised-transfer-port', String(s.listenPort), '--account-limit', '1'], { stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    await said(server, 'Waiting for clients\n');
    const conf = renderNginxConfig({
      listenHost: '10.9.0.1',
      listenPort: s.listenPort,
      servers: [{ host: s.host, udpPort: 4001, tcpPort: 4001 }],
      pidFile: join(dir, 'nginx.pid'),
      errorLog: join(dir, 'nginx-error.log'),
      streamModule: streamModuleOf(nginxBin),
    });
    await writeFile(join(dir, 'nginx.conf'), conf);
    rules.push(...conf.split('\n').filter((l) => l.startsWith('#     ip ')).map((l) => l.slice('#     ip '.length).split(' ')));
    started(Object.assign(inNs(ns.lb, nginxBin, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'ignore' }), { nginx: true }));
    // nginx writes its pid file once its ports are bound: the sessions below find it listening.
    for (const deadline = Date.now() + 10_000; (await readFile(join(dir, 'nginx.pid'), 'utf8').catch(() => '')) === ''; ) {
      if (Date.now() > deadline) throw new Error(`nginx did not start: ${await readFile(join(dir, 'nginx-error.log'), 'utf8').catch(() => '')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // Each client its own directory: bob's download must not find alice's file already there.
    for (const d of ['alice', 'bob', 'others']) await mkdir(join(dir, d));
    await writeFile(join(dir, 'alice', 'notes.txt'), 'notes of alice\n');
  }

  /** One forum-client session from the client host, its source address chosen by the route's `src`. */
  const session = async (s, from, who, script) => {
    ip('-n', ns.client, 'route', 'replace', '10.9.0.0/24', 'dev', 'fcl1', 'src', from);
    const c = inNs(ns.client, process.execPath, [CLIENT_BIN, String(s.listenPort), '--host', '10.9.0.1', '--known-hosts', join(s.dir, 'known_hosts')], { cwd: join(s.dir, who), stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(c);
    let out = '';
    c.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    c.stderr.setEncoding('utf8').on('data', (d) => (out += d));
    c.stdin.end(`${script.join('\n')}\n`);
    const code = await new Promise((resolve) => {
      const t = setTimeout(() => (c.kill('SIGKILL'), resolve('killed after 60 s')), 60_000);
      c.once('exit', (code) => (clearTimeout(t), resolve(code)));
    });
    return { code, out };
  };
  const outcome = ({ code, out }) =>
    code !== 0
      ? `exit ${code}: ${out.trim().split('\n').pop()}`
      : [/Welcome to the forum/, /Too many new accounts/, /uploaded to/, /successfully downloaded/].filter((r) => r.test(out)).map((r) => r.source).join(', ');

  for (const s of setups) check(`${s.label}: no ip rules, 10.9.0.2 logs in`, outcome(await session(s, '10.9.0.2', 'others', ['zed', 'pw', 'XIT'])), 'exit 1: Unable to reach the server at 10.9.0.1:' + s.listenPort);
  for (const r of rules) spawnSync('ip', ['-n', ns.lb, ...r]); // the route line is rendered twice (once per configuration): the second is refused as existing
  for (const s of setups) {
    check(`${s.label}: 10.9.0.2 makes an account, CRT, UPD`, outcome(await session(s, '10.9.0.2', 'alice', ['alice', 'pw', 'CRT t', 'UPD t notes.txt', 'XIT'])), 'Welcome to the forum, uploaded to');
    check(`${s.label}: 10.9.0.2's second account (--account-limit 1)`, outcome(await session(s, '10.9.0.2', 'others', ['carol', 'pw'])), 'Too many new accounts');
    check(`${s.label}: 10.9.0.3 makes an account, DWN`, outcome(await session(s, '10.9.0.3', 'bob', ['bob', 'pw', 'DWN t notes.txt', 'XIT'])), 'Welcome to the forum, successfully downloaded');
    check(`${s.label}: the downloaded file`, await readFile(join(s.dir, 'bob', 'notes.txt'), 'utf8').catch(() => 'missing'), 'notes of alice\n');
  }
} finally {
  await cleanUp();
}

console.log('| check | outcome | as expected |\n|---|---|---|');
for (const r of results) console.log(`| ${r.what} | ${r.got.replaceAll('|', '\\|').replaceAll('\n', ' ')} | ${r.ok ? 'yes' : '**no**'} |`);
process.exit(results.every((r) => r.ok) && results.length > 0 ? 0 : 1);
