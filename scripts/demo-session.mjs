// One scripted forum-client session for the demos: the typed lines go to its stdin, and its stdout
// and stderr come back together with its exit code (-1 if it had to be killed after 60 s).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const clientBin = join(fileURLToPath(new URL('..', import.meta.url)), 'packages/client/bin/forum-client.js');

/**
 * @param {{ readonly port: number; readonly cwd: string; readonly script: readonly string[]; readonly knownHosts: string }} session
 * @returns {Promise<{ readonly code: number; readonly out: string }>}
 */
export async function runClientSession({ port, cwd, script, knownHosts }) {
  const client = spawn(process.execPath, [clientBin, String(port), '--known-hosts', knownHosts], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  client.stdout.setEncoding('utf8').on('data', (s) => (out += s));
  client.stderr.setEncoding('utf8').on('data', (s) => (out += s));
  client.stdin.end(`${script.join('\n')}\n`);
  const code = await new Promise((resolve) => {
    const t = setTimeout(() => (client.kill('SIGKILL'), resolve(-1)), 60_000);
    client.once('exit', (c) => (clearTimeout(t), resolve(c ?? -1)));
  });
  return { code, out };
}
