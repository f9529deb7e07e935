/**
 * Sockets for the tests of the batched UDP addon (batch-socket*.test.ts):
 * a recording `BatchSocket`, a node:dgram peer, both closed after each test
 * (`afterEach(runCleanup)` in the test file), and small helpers.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BatchSocket } from '../../src/node/batch-socket.js';
import { loadUdpBatch } from '../../src/node/udp-batch.js';

/** The addon, `undefined` where it is not built (the tests are skipped then). */
export const addon = loadUdpBatch();
/** What the test opened, closed by {@link runCleanup}. */
export const cleanup: (() => Promise<void> | void)[] = [];

/** Closes what the last test opened (an `afterEach` hook). */
export async function runCleanup(): Promise<void> {
  for (const c of cleanup.splice(0)) await c();
}

/** A bound BatchSocket that records what it receives. */
export async function batchSocket(host = '127.0.0.1'): Promise<{ socket: BatchSocket; got: { data: Uint8Array; from: string; ownBuffer: boolean }[]; bursts: number[] }> {
  const socket = new BatchSocket(addon as NonNullable<typeof addon>, host.includes(':') ? 6 : 4);
  const got: { data: Uint8Array; from: string; ownBuffer: boolean }[] = [];
  const bursts: number[] = [];
  let inBurst = 0;
  socket.onDatagram = (data, from) => {
    got.push({ data: data.slice(), from, ownBuffer: data.byteOffset === 0 && data.buffer.byteLength === data.length });
    inBurst++;
  };
  socket.onBurstEnd = () => {
    bursts.push(inBurst);
    inBurst = 0;
  };
  await socket.bind(0, host);
  cleanup.push(() => socket.close());
  return { socket, got, bursts };
}

/** A bound node:dgram socket on `host`. */
export async function dgramSocket(type: 'udp4' | 'udp6' = 'udp4', host = '127.0.0.1'): Promise<dgram.Socket> {
  const s = dgram.createSocket(type);
  s.bind(0, host);
  await once(s, 'listening');
  cleanup.push(() => new Promise<void>((r) => s.close(() => r())));
  return s;
}

/** The addon's file, for a worker or a child process to load. */
export const addonPath = fileURLToPath(new URL(`../../dist/udp-batch-${process.platform}-${process.arch}.node`, import.meta.url));
/** Descriptors this process has open (vitest runs each file in a process of its own). */
export const openDescriptors = (): number => readdirSync('/proc/self/fd').length;

/** Datagram `i` of a test, `length` bytes of a pattern of its own. */
export const pattern = (i: number, length: number): Uint8Array => Uint8Array.from({ length }, (_, k) => (i * 31 + k) & 0xff);

/** Resolves once `check()` holds, checked every 5 ms; throws naming `what` after 10 s. */
export async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!check()) throw new Error(`never happened: ${what}`);
}
