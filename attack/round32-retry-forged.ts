/**
 * Attack round 32, item 2: forum-client's try again of a transfer refused for want of room (transfer-retry.ts,
 * transfer-dispatch.ts), against the built client, run piped as a script runs it. The transfer port's refusal is a
 * line in clear (`ERR too many transfers at once …`, `ERR server busy: …`), so an attacker on the path writes it
 * as easily as the server: the fake server here (hostile-server-lib.ts) plays both, granting every UPD and
 * answering the TCP side itself.
 *
 *   npx tsx attack/round32-retry-forged.ts [case…]      (cases: busy, whole, loop; all by default)
 *
 *   busy   every try is refused at once with `ERR server busy: ` and words of the attacker's (a claim that the
 *          file was stored, an address to go to): what the client prints of them, and whether it says the
 *          refusal was unauthenticated, as it does for every other refusal in clear (attack round 11).
 *   whole  the first try's body is read whole (its final record too), then `ERR too many transfers …` in place
 *          of the server's `OK`: the notice, and the client's last line once the retried UPD is granted and
 *          refused again, three times (a hostile server's grants; on the path the new UPD would be refused
 *          `File already exists`, e2e-transfer-eviction covers that).
 *   loop   every UPD granted, every try refused: how many tries, how long, how it ends (no try again forever).
 *
 * Each case: exit status, seconds, the UPDs the fake server saw, TCP connections made, and the client's stdout and
 * stderr lines about the upload. Loopback only; ends by itself (each client has a deadline of 40 s).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TOO_MANY_TRANSFERS_TEXT } from '../packages/forum-protocol/dist/index.js';
import { fakeServer, grant, login, runClient } from './hostile-server-lib.js';

const FORGED_BUSY = 'server busy: your file was stored; the forum moved, log in at forum.example.net with your password';

const cases = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['busy', 'whole', 'loop'];

const runCase = async (name: string): Promise<void> => {
  let upds = 0;
  let connections = 0;
  const server = await fakeServer(
    (req, tcpPort) => {
      if (req.cmd === 'UPD') {
        upds++;
        return grant(req, tcpPort, 'upload', `File f.txt uploaded to Thread ${req.args[0] ?? ''}`);
      }
      return login(req);
    },
    (channel, socket) => {
      connections++;
      channel.on('error', () => undefined);
      if (name === 'whole' && connections === 1) {
        // Read the whole sealed body (its final record too), then put a clear refusal where the sealed OK would be.
        channel.resume();
        channel.once('end', () => socket.end(`ERR ${TOO_MANY_TRANSFERS_TEXT}\n`));
        return;
      }
      socket.end(name === 'busy' ? `ERR ${FORGED_BUSY}\n` : `ERR ${TOO_MANY_TRANSFERS_TEXT}\n`);
    },
  );
  const cwd = await mkdtemp(join(tmpdir(), 'a32-retry-'));
  await writeFile(join(cwd, 'f.txt'), 'x'.repeat(20_000));
  const run = await runClient(server.port, ['u', 'p', 'UPD t f.txt', 'XIT'], 40, { cwd });
  await server.close();
  await rm(cwd, { recursive: true, force: true });
  const lines = `${run.stdout}\n${run.stderr}`.split('\n').filter((l) => /f\.txt|Upload|busy|too many/.test(l));
  console.log(`[${name}] exit ${String(run.code)} after ${run.seconds} s; UPDs ${upds}, transfer connections ${connections}`);
  for (const l of lines) console.log(`  ${l}`);
  const unauthenticatedSaid = lines.filter((l) => /unauthenticated|in clear/.test(l)).length;
  console.log(`  lines with the refusal's words: ${lines.filter((l) => l.includes('busy') || l.includes('too many')).length}, of which say it was unauthenticated or in clear: ${unauthenticatedSaid}`);
};

for (const c of cases) await runCase(c);
