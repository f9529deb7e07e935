/**
 * Attack round 11, (B) a hostile co-user: mallory, logged in to the real forum-server over a raw
 * session, posts every kind of text the server lets through into a thread (and tries names the
 * server should refuse); yoda reads it with the real forum-client (piped). Counts what reaches
 * yoda's terminal raw.
 *
 *   npx tsx attack/co-user-text.ts
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { session, startServer } from './forum-raw.js';
import { RAW_CONTROL, runClient, summary } from './hostile-server-lib.js';

const dir = await mkdtemp(join(tmpdir(), 'a11-couser-'));
const udpPort = 20_000 + (process.pid % 20_000);
const server = await startServer(dir, udpPort, udpPort + 1);
const ac = new AbortController();
const mallory = await session(udpPort, 'mallory', ac.signal);
await mallory.request('CRT', ['t']);

// What a message may carry past the server's rules (no C0/C1 controls, no U+2028/9, well-formed).
const MESSAGES = [
  'bidi override \u202Egnp.exe',
  'isolates \u2066x\u2069 \u2067y\u2069 \u2068z\u2069',
  'embeddings \u202Aa\u202C \u202Bb\u202C',
  'marks \u200E\u200F\u061C',
  'zero width \u200B\u200C\u200D\uFEFF',
  'tags \u{E0041}\u{E0042}',
  'interlinear \uFFF9a\uFFFAb\uFFFB',
];
const posted = await Promise.all(MESSAGES.map((m) => mallory.request('MSG', ['t', m])));
const refused = await Promise.all(
  ['\u001b]52;c;eA==\u0007', 'a\rb', 'c\u009b31m', 'line\u2028sep'].map((m) => mallory.request('MSG', ['t', m]).then((r) => r.lines[0] ?? '')),
);
const names = await Promise.all(['x\u202Egnp.exe', 'a\u200Bb', '\u001b[2J'].map((n) => mallory.request('CRT', [n]).then((r) => r.lines[0] ?? '')));
console.log(`[co-user] posted ${posted.filter((r) => r.status === 'ok').length} of ${MESSAGES.length} messages; the server refused: ${JSON.stringify(refused)}`);
console.log(`[co-user] thread titles refused: ${JSON.stringify(names)}`);

const run = await runClient(udpPort, ['yoda', 'pw-yoda', 'RDT t', 'XIT'], 20);
const rdt = run.stdout.split('\n').filter((l) => / mallory: /.test(l));
console.log(summary('co-user', run));
console.log(`[co-user] yoda's RDT: ${JSON.stringify(rdt)}`);
const invisible = rdt.join('\n').match(/[\u200b-\u200f\u061c\ufeff\ufff9-\ufffb\u{e0000}-\u{e007f}]/gu) ?? [];
console.log(`[co-user] printed raw: ${(run.stdout.match(RAW_CONTROL) ?? []).length} controls/overrides, ${invisible.length} invisible or implicit-bidi characters (${[...new Set(invisible)].map((c) => `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase()}`).join(' ')})`);
ac.abort();
server.child.kill('SIGTERM');
await server.exited;
process.exit(0);
