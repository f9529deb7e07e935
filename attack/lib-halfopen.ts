/**
 * Attack round 13: half-open handshakes against attack/lib-app.ts (every default). Each attempt is
 * a sans-IO client (`rudpx/core`) on its own socket that answers the RETRY with its cookie INITIAL
 * (so the app makes a connection and runs the key exchange) and vanishes the moment the ACCEPT
 * comes: it never sends the first packet that would complete the handshake. Prints the app's
 * connections, resident set and CPU, and when it lets go of them.
 *
 * Run: `npx tsx attack/lib-halfopen.ts [attempts per host=1000] [hosts=1] [app mode=noread]`
 */
import { randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { Endpoint, formatAddress } from '../packages/rudp/dist/core.js';
import { nodeCryptoProvider } from '../packages/rudp/dist/index.js';
import { startLibApp } from './lib-app-process.js';

const perHost = Number(process.argv[2] ?? 1000);
const hosts = Number(process.argv[3] ?? 1);
const appMode = process.argv[4] ?? 'noread';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const ACCEPT = 3;

const app = await startLibApp(appMode, 120, 150_000);
const { port, rssMiB, cpuMs, lastLine } = app;

let accepted = 0;
let refused = 0;
/** One attempt: resolves once the app answered the cookie INITIAL (ACCEPT: kind byte after the CID and window). */
const halfOpen = (host: string): Promise<void> =>
  new Promise((resolve) => {
    const sock: Socket = createSocket('udp4');
    const ep = new Endpoint({ random: () => randomInt(2 ** 32), crypto: nodeCryptoProvider, handshakeTimeoutMs: 5000 });
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      sock.close();
      resolve();
    };
    const pump = (): void => {
      const now = performance.now();
      while (ep.pollEvent());
      for (let t = ep.pollTransmit(now); t; t = ep.pollTransmit(now)) if (!done) sock.send(t.data, port, '127.0.0.1');
    };
    sock.on('message', (b) => {
      if ((b[0]! & 7) === ACCEPT) {
        // An ACCEPT of kind Busy (source CID 0) is a refusal; any other made a connection the app now waits on.
        if (b.readUInt32BE(5 + (b[0]! & 8 ? 4 : 2)) === 0) refused++;
        else accepted++;
        finish();
        return;
      }
      ep.handleDatagram(performance.now(), new Uint8Array(b), formatAddress('127.0.0.1', port));
      pump();
    });
    sock.bind(0, host, () => {
      ep.connect(performance.now(), formatAddress('127.0.0.1', port));
      pump();
    });
    setTimeout(finish, 3000);
  });

const rss0 = rssMiB();
const cpu0 = cpuMs();
const t0 = performance.now();
const work: Promise<void>[] = [];
for (let h = 0; h < hosts; h++) for (let i = 0; i < perHost; i++) {
  work.push(halfOpen(`127.0.0.${2 + h}`));
  if (i % 50 === 49) await sleep(5);
}
await Promise.all(work);
console.log(`${perHost} x ${hosts} host(s) half-open in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${accepted} answered, ${refused} refused; app RSS ${rss0.toFixed(0)} -> ${rssMiB().toFixed(0)} MiB, app CPU ${(cpuMs() - cpu0).toFixed(0)} ms`);
for (let s = 1; s <= 40; s++) {
  await sleep(1000);
  const line = lastLine();
  if (s % 5 === 0 || /"connections":0,/.test(line)) console.log(`  ${s} s later: app RSS ${rssMiB().toFixed(0)} MiB; app says ${line}`);
  if (/"connections":0,/.test(line)) break;
}
app.stop();
process.exit(0);
