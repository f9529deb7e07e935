/**
 * How many handshakes one attacking host can make the built forum server's
 * rudp endpoint do, and what they cost it: `concurrency` loops on
 * 127.0.0.1, each opening an encrypted rudp connection to the server and
 * destroying it as soon as it is open (it never logs in), for `seconds`.
 * Reports connections opened a second (each a Noise handshake the server
 * completed), refusals a second (`ECONNREFUSED`: the per-host handshake rate
 * or the host's connection limit), and the CPU the server process and this
 * one used (user + system from /proc, Linux only) over the run.
 *
 * Usage (from bench/): node --import tsx src/tools/handshake-churn.ts
 *   [seconds=10] [concurrency=64] [server flags, e.g. --handshake-rate 0]
 */
import { connect } from 'rudpx';
import { cpuSeconds, startForumServerChild } from './forum-server-child.js';

const seconds = Number(process.argv[2] ?? '10');
const concurrency = Number(process.argv[3] ?? '64');
const serverFlags = process.argv.slice(4);

const server = await startForumServerChild('handshake-churn', serverFlags);
const port = server.port;

let opened = 0;
let refused = 0;
let otherErrors = 0;
const deadline = Date.now() + seconds * 1000;
const serverCpu0 = await cpuSeconds(server.pid);
const selfCpu0 = process.cpuUsage();
const start = Date.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (Date.now() < deadline) {
      try {
        const conn = await connect({ port, host: '127.0.0.1', handshakeTimeoutMs: 2000 });
        opened++;
        conn.destroy();
      } catch (e) {
        if ((e as { code?: string }).code === 'ECONNREFUSED') refused++;
        else otherErrors++;
      }
    }
  }),
);
const wall = (Date.now() - start) / 1000;
const serverCpu = (await cpuSeconds(server.pid)) - serverCpu0;
const self = process.cpuUsage(selfCpu0);
await server.stop();
const rate = (n: number): string => (n / wall).toFixed(0);
console.log(
  `server flags [${serverFlags.join(' ')}], ${concurrency} loops, ${wall.toFixed(1)} s: opened ${opened} (${rate(opened)}/s), refused ${refused} (${rate(refused)}/s), other errors ${otherErrors}; ` +
    `server CPU ${serverCpu.toFixed(2)} s (${((serverCpu / wall) * 100).toFixed(0)} % of a core), attacker CPU ${((self.user + self.system) / 1e6).toFixed(2)} s`,
);
