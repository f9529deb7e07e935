/**
 * Attack round 13: hostile peers against attack/lib-app.ts (a rudpx application with every
 * default), through rudpx's own public `connect()`: whatever a stranger with the package can do.
 * Starts the app in a child process, attacks it, and prints the app's resident set and CPU.
 *
 * Modes (`npx tsx attack/lib-peer.ts <mode> <app mode> [seconds] [connections] [hosts]`):
 *
 * - `upload-noread`: each connection (receive window `$WINDOW`, default 32 MiB) sends 64 KiB
 *   messages as fast as the app acknowledges them and never reads anything back;
 * - `fill`: each connection sends 64 KiB messages until the app stops acknowledging (its window is full);
 * - `vanish`: each connection fills as `fill` and then its process side goes silent (the socket is
 *   dropped without a CLOSE): what the app holds until its idle timeout, and when it lets go.
 *
 * - `tiny`: as `fill`, with 1-byte reliable messages (each counted 257 bytes of the window);
 * - `datagrams`: 1-byte unreliable messages (`reliable: false`), 2,000 a loop turn, for `seconds`.
 *
 * - `idle`: the connections only stay open for `seconds` (keep-alives), nothing sent.
 *
 * Connections come from `hosts` loopback addresses (127.0.0.2, 127.0.0.3, …), spread evenly.
 */
import { once } from 'node:events';
import { connect, type RudpConnection } from '../packages/rudp/dist/index.js';
import { startLibApp } from './lib-app-process.js';

const [attack = 'upload-noread', appMode = 'echo'] = process.argv.slice(2);
const seconds = Number(process.argv[4] ?? 10);
const conns = Number(process.argv[5] ?? 1);
const hosts = Number(process.argv[6] ?? 1);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
// `$SIZE`: the message size of `upload-noread` and `fill` (default 64 KiB).
const MESSAGE = Buffer.alloc(attack === 'tiny' ? 1 : Number(process.env.SIZE ?? 64 * 1024), 7);

const app = await startLibApp(appMode, seconds + 60, (seconds + 90) * 1000);
const { port, rssMiB, cpuMs, lastLine } = app;

const opened: RudpConnection[] = [];
const tc = performance.now();
for (let i = 0; i < conns; i++) {
  const localAddress = `127.0.0.${2 + (i % hosts)}`;
  if (i > 0 && i % 200 === 0) console.log(`  ${i} connections opened in ${((performance.now() - tc) / 1000).toFixed(1)} s; app RSS ${rssMiB().toFixed(0)} MiB, app CPU ${cpuMs().toFixed(0)} ms`);
  opened.push(await connect({ port, localAddress, ...(process.env.WINDOW ? { receiveWindow: Number(process.env.WINDOW) } : {}) }));
}
const rss0 = rssMiB();
const cpu0 = cpuMs();
let sent = 0;
const t0 = performance.now();
console.log(`${attack} against ${appMode}: ${conns} connection(s) from ${hosts} host(s); app RSS ${rss0.toFixed(0)} MiB`);

const pushUntil = async (c: RudpConnection, until: () => boolean): Promise<void> => {
  while (!c.closed && !until()) {
    if (c.write(MESSAGE)) {
      sent += MESSAGE.length;
      continue;
    }
    sent += MESSAGE.length;
    const drained = once(c, 'drain').then(() => true);
    // A window that stays full: the app has stopped taking messages.
    const stalled = sleep(2000).then(() => false);
    if (!(await Promise.race([drained, stalled]))) return;
  }
};

const report = setInterval(() => {
  const t = (performance.now() - t0) / 1000;
  console.log(`  ${t.toFixed(0)} s: sent ${(sent / 2 ** 20).toFixed(0)} MiB, app RSS ${rssMiB().toFixed(0)} MiB, app CPU ${(cpuMs() - cpu0).toFixed(0)} ms; app says ${lastLine()}`);
}, 2000);

const deadline = performance.now() + seconds * 1000;
if (attack === 'upload-noread') {
  await Promise.all(opened.map((c) => pushUntil(c, () => performance.now() > deadline)));
} else if (attack === 'idle') {
  await sleep(seconds * 1000);
} else if (attack === 'datagrams') {
  const one = Buffer.alloc(1, 7);
  while (performance.now() < deadline) {
    for (const c of opened) for (let i = 0; i < 2000 && !c.closed; i++) c.write(one, { reliable: false });
    sent += 2000 * opened.length;
    await new Promise((r) => setImmediate(r));
  }
} else if (attack === 'fill' || attack === 'vanish' || attack === 'tiny') {
  await Promise.all(opened.map((c) => pushUntil(c, () => performance.now() > deadline)));
  console.log(`  filled: sent ${(sent / 2 ** 20).toFixed(0)} MiB in ${((performance.now() - t0) / 1000).toFixed(1)} s, app RSS ${rssMiB().toFixed(0)} MiB (+${(rssMiB() - rss0).toFixed(0)})`);
  if (attack === 'vanish') {
    // The peer's side goes silent: no CLOSE, nothing more acknowledged. destroy() would tell the app.
    for (const c of opened) c.unref();
    // Cut the sockets under the connections without a word (no CLOSE): the wrapper's internal `io` holds each.
    for (const c of opened) (c as unknown as { io: { socket: { close(): unknown } } }).io.socket.close();
    const tv = performance.now();
    for (let i = 0; i < 45; i++) {
      await sleep(1000);
      const line = lastLine();
      if (i % 5 === 4) console.log(`  ${((performance.now() - tv) / 1000).toFixed(0)} s after vanishing: app RSS ${rssMiB().toFixed(0)} MiB; app says ${line}`);
      if (/"connections":0/.test(line)) {
        console.log(`  app let go of every connection ${((performance.now() - tv) / 1000).toFixed(1)} s after they vanished; RSS ${rssMiB().toFixed(0)} MiB`);
        await sleep(3000);
        console.log(`  3 s later the app says ${lastLine()}`);
        break;
      }
    }
  } else {
    await sleep(Math.max(0, deadline - performance.now()));
  }
}
clearInterval(report);
const t = (performance.now() - t0) / 1000;
console.log(`end after ${t.toFixed(1)} s: sent ${(sent / 2 ** 20).toFixed(0)} MiB (${Math.round(sent / MESSAGE.length)} messages of ${MESSAGE.length} B), app RSS ${rssMiB().toFixed(0)} MiB (+${(rssMiB() - rss0).toFixed(0)}), app CPU ${(cpuMs() - cpu0).toFixed(0)} ms; app says ${lastLine()}`);
app.stop();
process.exit(0);
