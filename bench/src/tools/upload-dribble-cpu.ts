/**
 * The server's CPU per uploaded byte when uploads arrive one byte per TCP
 * segment (attack finding F4), against the same uploads in normal segments.
 * Starts the built forum-server (packages/server/bin/forum-server.js) on a
 * random port with a temporary data directory, logs one user in over rudpx,
 * runs its 4 uploads (the most a user may run) and for `secs` seconds writes
 * 16 KiB sealed records to each: `dribble` one byte a write (TCP_NODELAY,
 * one write per event-loop turn), `whole` a record a write, paced to about
 * the dribble's byte rate (`rate` bytes/ms a connection). Reports the server
 * process's CPU (/proc/PID/stat, user + system; system alone too) per MB received and its
 * share of a core. Build first (`RUDP_REQUIRE_NATIVE=1 npx --yes pnpm@10.34.8 build`).
 *
 * Usage (from bench/): node --import tsx src/tools/upload-dribble-cpu.ts [dribble|whole] [secs=10] [rate=20]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeServerMessage, deriveTransferKeys, encodeRequest, RecordSealer, sessionExporter } from 'forum-protocol';
import { connect, nodeCryptoProvider } from 'rudpx';

const mode = process.argv[2] ?? 'dribble';
const secs = Number(process.argv[3] ?? '10');
const rate = Number(process.argv[4] ?? '20');
const BIN = fileURLToPath(new URL('../../../packages/server/bin/forum-server.js', import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** CPU milliseconds process `pid` has used, in user space and in the kernel. */
const cpuMs = (pid: number): { readonly user: number; readonly system: number } => {
  const f = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
  return { user: Number(f[11]) * 10, system: Number(f[12]) * 10 };
};

const main = async (): Promise<void> => {
  const dir = mkdtempSync(join(tmpdir(), 'upload-dribble-'));
  const port = 20_000 + Math.floor(Math.random() * 30_000);
  const server = spawn(process.execPath, [BIN, String(port), '--data-dir', dir, '--request-rate', '100000'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const hardStop = setTimeout(() => {
    server.kill('SIGKILL');
    process.exit(3);
  }, (secs + 60) * 1000);
  try {
    let out = '';
    server.stdout.on('data', (d: Buffer) => (out += d.toString()));
    server.stderr.on('data', (d: Buffer) => (out += d.toString()));
    for (let i = 0; i < 150 && !out.includes('Waiting for clients'); i++) await sleep(100);
    const pid = server.pid;
    if (pid === undefined || !out.includes('Waiting for clients')) throw new Error(`server did not start: ${out}`);

    const conn = await connect({ port, host: '127.0.0.1' });
    const waiting = new Map<string, (data: Readonly<Record<string, unknown>> | undefined) => void>();
    conn.on('message', (b: Uint8Array) => {
      const m = decodeServerMessage(b);
      if (m._tag === 'Left') return;
      const r = m.right as { readonly id?: string; readonly data?: Readonly<Record<string, unknown>> };
      if (r.id !== undefined) waiting.get(r.id)?.(r.data);
    });
    let ids = 0;
    const send = (cmd: string, args: readonly string[]): Promise<Readonly<Record<string, unknown>> | undefined> => {
      const id = `q${++ids}`;
      const reply = new Promise<Readonly<Record<string, unknown>> | undefined>((resolve) => waiting.set(id, resolve));
      void conn.send(encodeRequest({ id, username: 'dribbler', cmd, args } as Parameters<typeof encodeRequest>[0]));
      return reply;
    };
    await send('username', ['dribbler']);
    await send('newPassword', ['pw']);
    await send('CRT', ['dr']);

    const record = new Uint8Array(16 * 1024).fill(0x61);
    const uploads = await Promise.all(
      [0, 1, 2, 3].map(async (i) => {
        const token = String((await send('UPD', ['dr', `f${i}.bin`]))?.token);
        const sealer = new RecordSealer(nodeCryptoProvider, deriveTransferKeys(sessionExporter(conn), token).clientToServer);
        const sock = net.connect({ host: '127.0.0.1', port });
        sock.setNoDelay(true);
        sock.on('error', () => undefined);
        await new Promise((r) => sock.once('connect', r));
        sock.write(`${token}\n`);
        for (const r of sealer.seal(new TextEncoder().encode(`${2 ** 30}\n`))) sock.write(r);
        return { sock, sealer };
      }),
    );
    let sent = 0;
    let stop = false;
    const cpu0 = cpuMs(pid);
    const t0 = performance.now();
    const timer = setTimeout(() => (stop = true), secs * 1000);
    await Promise.all(
      uploads.map(async ({ sock, sealer }) => {
        while (!stop && !sock.destroyed) {
          const [r] = sealer.seal(record);
          if (r === undefined) return;
          if (mode === 'whole') {
            sock.write(r);
            sent += r.length;
            await sleep(Math.max(1, Math.round(r.length / rate)));
            continue;
          }
          for (let at = 0; at < r.length && !stop && !sock.destroyed; at++) {
            sock.write(r.subarray(at, at + 1));
            sent++;
            await turn();
          }
        }
      }),
    );
    clearTimeout(timer);
    const elapsed = (performance.now() - t0) / 1000;
    const end = cpuMs(pid);
    const cpu = end.user + end.system - cpu0.user - cpu0.system;
    console.log(
      JSON.stringify({ mode, secs: +elapsed.toFixed(1), bytesSent: sent, bytesPerSec: Math.round(sent / elapsed), serverCpuMs: cpu, serverSystemMs: end.system - cpu0.system, serverCorePct: +(cpu / 10 / elapsed).toFixed(1), serverCpuMsPerMB: +(cpu / (sent / 1e6)).toFixed(0) }),
    );
    uploads.forEach(({ sock }) => sock.destroy());
    conn.destroy();
  } finally {
    clearTimeout(hardStop);
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
};

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
