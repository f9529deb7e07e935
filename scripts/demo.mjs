#!/usr/bin/env node
// The README's demo: a forum server on a temporary data directory and two
// scripted client sessions against it (the second, in another directory,
// downloads what the first uploaded), both sides' output shown. Exits
// non-zero if a session does not end as expected. Loopback only.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runClientSession } from './demo-session.mjs';
import { freePort } from './free-port.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const serverBin = join(root, 'packages/server/bin/forum-server.js');


const indent = (label, text) => text.trimEnd().split('\n').map((l) => `  ${label} | ${l}`).join('\n');

const dataDir = await mkdtemp(join(tmpdir(), 'forum-demo-data-'));
const workDir = await mkdtemp(join(tmpdir(), 'forum-demo-client-'));
// A second client directory: the download lands where there is no copy of the file yet.
const otherDir = await mkdtemp(join(tmpdir(), 'forum-demo-client2-'));
// The clients' known-hosts file: the demo's, not the user's (each demo server has a new key).
const knownHostsDir = await mkdtemp(join(tmpdir(), 'forum-demo-known-hosts-'));
await writeFile(join(workDir, 'notes.txt'), 'Bring snacks.\n');
const port = await freePort();

const server = spawn(process.execPath, [serverBin, String(port), '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
let serverOut = '';
server.stdout.setEncoding('utf8').on('data', (s) => (serverOut += s));
server.stderr.setEncoding('utf8').on('data', (s) => (serverOut += s));
const ready = await new Promise((resolve) => {
  const t = setTimeout(() => resolve(false), 15_000);
  const check = () => serverOut.includes('Waiting for clients') && (clearTimeout(t), resolve(true));
  server.stdout.on('data', check);
  server.once('exit', () => (clearTimeout(t), resolve(false)));
  check();
});
if (!ready) {
  console.error(`forum-server did not start:\n${serverOut}`);
  process.exit(1);
}

const sessions = [
  {
    label: 'alice',
    cwd: workDir,
    script: [
      'alice', 'wonderland',
      'CRT picnic',
      'MSG picnic Saturday at noon?',
      'MSG picnic I will bring lemonade',
      'LST',
      'RDT picnic',
      'EDT picnic 1 Sunday at noon?',
      'DLT picnic 2',
      'UPD picnic notes.txt',
      'RDT picnic',
      'XIT',
    ],
  },
  {
    label: 'bob',
    cwd: otherDir,
    script: ['bob', 'builder', 'RDT picnic', 'DWN picnic notes.txt', 'RMV picnic', 'XIT'],
  },
  { label: 'alice', cwd: workDir, script: ['alice', 'wonderland', 'RMV picnic', 'LST', 'XIT'] },
];
console.log(
  `Demo: forum-server on 127.0.0.1:${port} (data in ${dataDir}); forum-client runs:\n` +
    sessions.map((s, i) => `  session ${i + 1} (${s.label}, in ${s.cwd}):\n${s.script.map((l) => `    ${l}`).join('\n')}`).join('\n') +
    '\n',
);

/** Runs one client session to its end; resolves with its exit code and output. */
const runSession = ({ cwd, script }) => runClientSession({ port, cwd, script, knownHosts: join(knownHostsDir, 'known_hosts') });
const results = [];
for (const session of sessions) results.push(await runSession(session));
server.kill('SIGTERM');
await new Promise((resolve) => (server.exitCode !== null ? resolve() : server.once('exit', resolve)));

// Piped input is not echoed, so each prompt is followed straight by the reply; break the line after it.
const prompts = ['Enter username: ', 'Enter password: ', 'New user, enter password: ', 'XIT: '];
results.forEach((r, i) => {
  console.log(`--- client session ${i + 1} (${sessions[i].label}) ---`);
  console.log(indent('client', prompts.reduce((t, p) => t.replaceAll(p, `${p}\n`), r.out).replace(/\n\n/g, '\n')));
});
console.log('--- server ---');
console.log(indent('server', serverOut));
const downloaded = await readFile(join(otherDir, 'notes.txt'), 'utf8').catch(() => '');
console.log(`--- data directory after the sessions: ${(await readdir(dataDir)).join(', ') || '(empty)'} ---`);

const expected = [
  ['Welcome to the forum', 'Thread picnic created', 'Message posted to picnic thread', 'notes.txt uploaded to picnic thread', 'Goodbye'],
  ['Welcome to the forum', 'alice uploaded notes.txt', 'notes.txt successfully downloaded', 'The thread was created by another user and cannot be removed', 'Goodbye'],
  ['Welcome to the forum', 'Thread picnic removed', 'No threads to list', 'Goodbye'],
];
const missing = expected.flatMap((lines, i) => lines.filter((line) => !results[i].out.includes(line)).map((line) => `session ${i + 1}: ${line}`));
const codes = results.map((r) => r.code);
const dataLeft = (await readdir(dataDir)).sort().join(', ');
await rm(dataDir, { recursive: true, force: true });
await rm(workDir, { recursive: true, force: true });
await rm(otherDir, { recursive: true, force: true });
await rm(knownHostsDir, { recursive: true, force: true });
if (codes.some((c) => c !== 0) || missing.length > 0 || downloaded !== 'Bring snacks.\n' || dataLeft !== '.forum-account-origins, .forum-server-identity, credentials.txt') {
  console.error(
    `\nDemo FAILED (client exits ${codes.join(', ')}; missing: ${missing.join(' | ') || 'none'}; ` +
      `downloaded copy ${downloaded === 'Bring snacks.\n' ? 'ok' : 'wrong or absent'}; data left: ${dataLeft})`,
  );
  process.exit(1);
}
console.log('\nDemo OK: every command answered as forum-spec.md says, and the download matches the upload.');
