/**
 * Attack round 22, item 2b on real sockets: the built forum-client against the
 * built forum-server through a UDP relay that rewrites the client's receive
 * window and first limit in its cookie INITIAL to 1,024 bytes (its CRC made
 * good again), as an attacker on the path can: the figures travel in clear.
 *
 *   npx tsx attack/initial-window-real.ts [rounds=2]
 *
 *   clean     the relay passes everything (control)
 *   rewrite   the cookie INITIAL's window and first limit rewritten to 1,024
 *
 * Each run pipes `alice`, her password, `RDT big` (a thread of 200 messages,
 * a reply of some 20 KB), `XIT`. Prints the exit status, time, how many lines
 * of the thread it printed, and its last line. Before `2823c77` the server
 * could not send a reply over 768 bytes on the rewritten connection.
 * Since rudpx protocol version 7 (session 47) `rewrite` ends with no
 * connection (forum-client is pinned by then, by the `clean` round, so the
 * server cannot open the rewritten hellos and answers none): exit 1 after
 * about 5.5 s, `Unable to reach the server at 127.0.0.1:P: no answer within
 * --timeout; a RETRY came, but no ACCEPT for any of the 18 INITIALs that
 * carried its cookie back (lost or altered on the path, …)`.
 */
import dgram from 'node:dgram';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_DATAGRAM, PacketType, decodeInitial, encodeInitial, parseHeader } from '../packages/rudp/dist/core.js';
import { startServer } from './forum-raw.js';
import { runClient } from './hostile-server-lib.js';

const rounds = Number(process.argv[2] ?? 2);
type Mode = 'clean' | 'rewrite';

const dir = await mkdtemp(join(tmpdir(), 'a22-window-'));
await writeFile(join(dir, 'credentials.txt'), 'alice pw-alice\n');
await writeFile(join(dir, 'big'), ['alice', ...Array.from({ length: 200 }, (_, i) => `${i + 1} alice: ${'message text '.repeat(7)}${i}`)].join('\n') + '\n');
const port = 40_000 + Math.floor(Math.random() * 20_000);
const server = await startServer(dir, port, port + 1);

let mode: Mode = 'clean';
let rewritten = 0;
const front = dgram.createSocket('udp4');
const back = dgram.createSocket('udp4');
let client: { address: string; port: number } | undefined;
front.on('message', (msg, rinfo) => {
  client = { address: rinfo.address, port: rinfo.port };
  let out: Uint8Array = new Uint8Array(msg);
  const h = parseHeader(out);
  const init = typeof h !== 'string' && h.type === PacketType.Initial ? decodeInitial(h.payload) : undefined;
  if (mode === 'rewrite' && typeof h !== 'string' && init !== undefined && init.token.length > 0) {
    rewritten++;
    out = encodeInitial(new Uint8Array(MAX_DATAGRAM), h.pn, { ...init, params: { receiveWindow: 1024, initialLimit: 1024 } }).slice();
  }
  back.send(out, port, '127.0.0.1');
});
back.on('message', (msg) => {
  if (client !== undefined) front.send(msg, client.port, client.address);
});
const relayPort = port + 2;
await new Promise<void>((r) => front.bind(relayPort, '127.0.0.1', () => r()));
await new Promise<void>((r) => back.bind(0, '127.0.0.1', () => r()));
const knownHosts = join(dir, '..', `a22-kh-window-${process.pid}`);
try {
  for (let i = 0; i < rounds; i++) {
    for (const m of ['clean', 'rewrite'] as const) {
      mode = m;
      const before = rewritten;
      const run = await runClient(relayPort, ['alice', 'pw-alice', 'RDT big', 'XIT'], 40, { args: ['--known-hosts', knownHosts] });
      const lines = run.stdout.split('\n');
      const thread = lines.filter((l) => / alice: message text/.test(l)).length;
      const last = lines.filter((l) => l.trim() !== '').at(-1) ?? '';
      console.log(`${m.padEnd(7)} round ${i + 1}: exit ${String(run.code)} after ${run.seconds} s, INITIALs rewritten ${rewritten - before}, thread lines printed ${thread} of 200; last line: ${last.slice(0, 150)}${run.stderr.trim() === '' ? '' : `; stderr: ${run.stderr.trim().split('\n').at(-1)?.slice(0, 150) ?? ''}`}`);
    }
  }
} finally {
  front.close();
  back.close();
  server.child.kill('SIGTERM');
  await server.exited;
}
