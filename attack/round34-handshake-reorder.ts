/**
 * Attack round 34, item 3: an attacker on the path that reorders, duplicates, delays and truncates the genuine
 * handshake of the built forum-client with the built forum-server (a UDP relay), to desynchronise it. Round 22
 * fed hostile datagrams to each stage of a client's handshake in the simulator (`handshake-fuzz.ts`) and round 29
 * replayed recorded ones into a live session; nothing had reordered the genuine handshake itself over real
 * sockets. Modes (each on both directions' handshake packets, INITIAL, RETRY and ACCEPT, and the first sealed
 * packets after them):
 *   clean        passed as it comes (control)
 *   reverse      each handshake datagram held 40 ms and the held ones sent in reverse order
 *   dup          each handshake datagram sent 5 times
 *   late-accept  the server's ACCEPTs delayed 600 ms (the client sends its cookie INITIAL again meanwhile)
 *   sealed-first the client's first 3 sealed datagrams held until its 4th has gone, then sent newest first
 *   trunc        before each handshake datagram, 3 copies cut to random lengths (checksums left wrong, and
 *                one with the checksum made good over the cut bytes, so it reaches the decoder)
 * Each round a new client (a new account's login, CRT, a MSG, RDT, XIT) pinned after the first: whether it
 * logged in, read its MSG back, and exited 0, how long it took, and any line about the server's key.
 *
 *   npx tsx attack/round34-handshake-reorder.ts [rounds=3]
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './lib-path.js';
import { mulberry32 } from './lib-random.js';
import { crc32c } from '../packages/rudp/src/wire/crc32c.js';

const SERVER_BIN = new URL('../packages/server/bin/forum-server.js', import.meta.url).pathname;
const CLIENT_BIN = new URL('../packages/client/bin/forum-client.js', import.meta.url).pathname;
const rounds = Number(process.argv[2] ?? 3);
const rand = mulberry32(34);
const type = (d: Buffer): number => (d[0] as number) & 0x07;
const handshake = (d: Buffer): boolean => type(d) >= 1 && type(d) <= 3;
const sealed = (d: Buffer): boolean => type(d) === 5 || type(d) === 6;

const cut = (d: Buffer, fix: boolean): Buffer => {
  const b = Buffer.from(d.subarray(0, 8 + Math.floor(rand() * Math.max(1, d.length - 12))));
  if (fix && b.length > 8) b.writeUInt32BE(crc32c(b, 0, b.length - 4) >>> 0, b.length - 4);
  return b;
};

type Mode = 'clean' | 'reverse' | 'dup' | 'late-accept' | 'sealed-first' | 'trunc';
const MODES: readonly Mode[] = ['clean', 'reverse', 'dup', 'late-accept', 'sealed-first', 'trunc'];

const dir = await mkdtemp(join(tmpdir(), 'a34-hs-'));
const server = spawn(process.execPath, [SERVER_BIN, '0', '--data-dir', dir, '--transfer-port', '0', '--account-limit', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
let serverOut = '';
server.stdout.on('data', (d: Buffer) => (serverOut += d.toString()));
server.stderr.on('data', (d: Buffer) => (serverOut += d.toString()));
try {
  await waitFor(() => serverOut.includes('Waiting for clients'), 15_000);
  const serverPort = Number(/UDP [^ ]+:([0-9]+)/.exec(serverOut)?.[1]);
  const kh = join(dir, 'kh');
  let n = 0;
  for (const mode of MODES) {
    const results: string[] = [];
    for (let r = 0; r < rounds; r++) {
      const front = dgram.createSocket('udp4');
      const up = dgram.createSocket('udp4');
      await Promise.all([front, up].map((s) => new Promise<void>((res) => s.bind(0, '127.0.0.1', () => res()))));
      let client: { address: string; port: number } | undefined;
      // Held datagrams may come due after the round's relay is closed: dropped then.
      let relaying = true;
      const toServer = (m: Buffer): void => {
        if (relaying) up.send(m, serverPort, '127.0.0.1');
      };
      const toClient = (m: Buffer): void => {
        if (relaying && client !== undefined) front.send(m, client.port, client.address);
      };
      let held: { readonly m: Buffer; readonly send: (m: Buffer) => void }[] = [];
      let flush: NodeJS.Timeout | undefined;
      let sealedSeen = 0;
      const heldSealed: Buffer[] = [];
      const pass = (m: Buffer, send: (m: Buffer) => void, fromServer: boolean): void => {
        if (mode === 'clean' || !handshake(m)) {
          if (mode === 'sealed-first' && !fromServer && sealed(m) && sealedSeen < 4) {
            sealedSeen++;
            if (sealedSeen < 4) return void heldSealed.push(m);
            send(m);
            for (const h of heldSealed.splice(0).reverse()) send(h);
            return;
          }
          return send(m);
        }
        if (mode === 'reverse') {
          held.push({ m, send });
          flush ??= setTimeout(() => {
            const all = held.reverse();
            held = [];
            flush = undefined;
            for (const h of all) h.send(h.m);
          }, 40);
          return;
        }
        if (mode === 'dup') {
          for (let i = 0; i < 5; i++) send(m);
          return;
        }
        if (mode === 'late-accept' && fromServer && type(m) === 3) return void setTimeout(() => send(m), 600);
        if (mode === 'trunc') for (let i = 0; i < 3; i++) send(cut(m, i === 2));
        send(m);
      };
      front.on('message', (m, rinfo) => {
        client = { address: rinfo.address, port: rinfo.port };
        pass(Buffer.from(m), toServer, false);
      });
      up.on('message', (m) => pass(Buffer.from(m), toClient, true));
      const user = `u${n++}`;
      const t0 = performance.now();
      const c = spawn(process.execPath, [CLIENT_BIN, String((front.address() as { port: number }).port), '--known-hosts', kh], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      c.stderr.on('data', (d: Buffer) => (out += d.toString()));
      c.stdin.end(`${user}\npw\nCRT t-${user}\nMSG t-${user} hello-${user}\nRDT t-${user}\nXIT\n`);
      const code = await new Promise<number | null>((res) => {
        const kill = setTimeout(() => c.kill('SIGKILL'), 30_000);
        c.once('close', (k) => {
          clearTimeout(kill);
          res(k);
        });
      });
      const ms = Math.round(performance.now() - t0);
      const ok = out.includes('Welcome') && out.includes(`${user}: hello-${user}`) && code === 0;
      // A pinned key met again is silent; a first contact names the fingerprint; anything else about the key is news.
      const keyLine = out.split('\n').find((l) => /changed|does not match|refus|WARNING/i.test(l));
      results.push(ok ? `ok ${ms} ms${keyLine === undefined ? '' : ` (${keyLine.slice(0, 80)})`}` : `FAILED exit ${String(code)} in ${ms} ms: ${JSON.stringify(out.trim().split('\n').slice(-2))}`);
      relaying = false;
      front.close();
      up.close();
    }
    console.log(`${mode.padEnd(12)} ${results.join('; ')}`);
  }
  const errors = serverOut.split('\n').filter((l) => /error|warn/i.test(l));
  console.log(`server log lines naming errors or warnings: ${errors.length}${errors.length > 0 ? ` ${JSON.stringify(errors.slice(0, 3))}` : ''}`);
} finally {
  server.kill('SIGTERM');
  await new Promise((r) => server.once('close', r));
  await rm(dir, { recursive: true, force: true });
}
process.exit(0);
