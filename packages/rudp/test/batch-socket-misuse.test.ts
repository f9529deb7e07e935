/**
 * Misuse and hostile input refused inside the batched UDP addon: bad
 * arguments, host strings that only look like literals, another addon's
 * handles, and metadata rewritten by another thread during a send.
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { META_WORDS, RECEIVE_SLOTS, type UdpBatchHandle } from '../src/node/udp-batch.js';
import { addon, addonPath, batchSocket, cleanup, runCleanup } from './helpers/batch-sockets.js';

afterEach(runCleanup);

describe.skipIf(addon === undefined)('the batched UDP addon', () => {
  const lib = addon as NonNullable<typeof addon>;

  it('refuses misuse inside the addon', () => {
    const meta = new Int32Array(RECEIVE_SLOTS * META_WORDS);
    const fn = (): void => {};
    for (const args of [
      [5, fn, fn, meta, true],
      [4, 'x', fn, meta, true],
      [4, fn, fn, new Int32Array(8), true],
      [4, fn, fn, new Uint8Array(1024), true],
      [4, fn, fn, meta, 1],
      [4, fn, fn, meta],
    ] as const) {
      expect(() => (lib.open as (...a: readonly unknown[]) => unknown)(...args)).toThrow(TypeError);
    }
    const handle = lib.open(4, fn, fn, meta, true) as UdpBatchHandle;
    cleanup.push(() => lib.close(handle));
    expect(lib.bind(handle, '127.0.0.1', 0, 0)).toBe(0);
    const bytes = new Uint8Array(100);
    const sendMeta = new Int32Array(META_WORDS * 2);
    const send = (m: readonly number[], count = 1, b: Uint8Array = bytes): number => {
      sendMeta.set(m);
      return lib.send(handle, b, sendMeta, count);
    };
    const port = 9; // discard: nothing listens, and nothing is sent by a refused call anyway
    const local = [127 | (1 << 24), 0, 0, 0];
    expect(() => send([0, 101, port, 4, ...local])).toThrow(TypeError); // past the bytes
    expect(() => send([-1, 10, port, 4, ...local])).toThrow(TypeError);
    expect(() => send([50, 51, port, 4, ...local])).toThrow(TypeError);
    expect(() => send([0, 10, port, 6, ...local])).toThrow(TypeError); // another family than the socket's
    expect(() => send([0, 10, 70000, 4, ...local])).toThrow(TypeError);
    expect(() => send([0, 10, port, 4, ...local], 3)).toThrow(TypeError); // more datagrams than the metadata holds
    expect(() => lib.send({} as UdpBatchHandle, bytes, sendMeta, 1)).toThrow(TypeError);
    expect(() => lib.ntop(4, meta, meta.length - 3)).toThrow(TypeError);
    expect(lib.pton(4, 'not an address', meta, 0)).toBe(false);
    expect(lib.pton(4, '10.1.2.3', meta, 0) && lib.ntop(4, meta, 0)).toBe('10.1.2.3');
    lib.close(handle);
    lib.close(handle); // twice is harmless
    expect(lib.bind(handle, '127.0.0.1', 0, 0)).toBeLessThan(0);
    expect(send([0, 10, port, 4, ...local])).toBeLessThan(0); // EBADF, nothing sent
  });

  it('reads host strings as UTF-8 and refuses one with a NUL in it', () => {
    const meta = new Int32Array(RECEIVE_SLOTS * META_WORDS);
    // Latin-1 keeps only each character's low byte: U+0131 U+0132 U+0137 read as "127".
    expect(lib.pton(4, '\u0131\u0132\u0137.0.0.1', meta, 0)).toBe(false);
    expect(lib.pton(4, '127.0.0.1\u0000.junk', meta, 0)).toBe(false);
    expect(lib.pton(4, '1'.repeat(100), meta, 0)).toBe(false); // too long for a literal: not one, and no throw
    expect(lib.pton(6, '::1', meta, 0)).toBe(6);
    const fn = (): void => {};
    const handle = lib.open(4, fn, fn, meta, true) as UdpBatchHandle;
    cleanup.push(() => lib.close(handle));
    expect(lib.bind(handle, '\u0131\u0132\u0137.0.0.1', 0, 0)).toBe(-22);
    expect(lib.bind(handle, '127.0.0.1\u0000x', 0, 0)).toBe(-22);
    expect(lib.connect(handle, '\u0131\u0132\u0137.0.0.1', 9)).toBe(-22);
  });

  it("refuses another addon's external or wrapped object as a handle, and touches nothing behind it", () => {
    const include = join(dirname(process.execPath), '..', 'include', 'node');
    const out = join(mkdtempSync(join(tmpdir(), 'rudpx-foreign-')), 'foreign-handle.node');
    const source = fileURLToPath(new URL('fixtures/foreign-handle.c', import.meta.url));
    const cc = spawnSync(process.env.CC ?? 'cc', ['-shared', '-fPIC', '-I', include, '-o', out, source], { encoding: 'utf8' });
    expect(cc.status, cc.stderr).toBe(0);
    // In a child process: the old addon took the foreign block for a socket (and closed descriptor 0).
    const script = `
      const load = (file) => { const m = { exports: {} }; process.dlopen(m, file); return m.exports; };
      const lib = load(process.argv[1]);
      const foreign = load(process.argv[2]);
      const meta = new Int32Array(${META_WORDS * RECEIVE_SLOTS});
      const results = [];
      for (const h of [foreign.external(), foreign.wrapped(), {}]) {
        for (const call of [() => lib.bind(h, '127.0.0.1', 0, 0), () => lib.connect(h, '127.0.0.1', 9), () => lib.address(h),
                            () => lib.send(h, new Uint8Array(1), meta, 0), () => lib.ref(h, false), () => lib.close(h)]) {
          try { call(); results.push('accepted'); } catch (e) { results.push(e instanceof TypeError ? 'refused' : String(e)); }
        }
      }
      console.log(JSON.stringify({ results, touched: foreign.touched() }));
    `;
    const child = spawnSync(process.execPath, ['-e', script, addonPath, out], { encoding: 'utf8' });
    expect(child.status, child.stderr).toBe(0);
    expect(JSON.parse(child.stdout)).toEqual({ results: Array.from({ length: 18 }, () => 'refused'), touched: false });
  });

  it('never sends from outside the bytes when another thread rewrites shared metadata during send', async () => {
    const rx = await batchSocket();
    const fn = (): void => {};
    const handle = lib.open(4, fn, fn, new Int32Array(RECEIVE_SLOTS * META_WORDS), true) as UdpBatchHandle;
    cleanup.push(() => lib.close(handle));
    expect(lib.bind(handle, '127.0.0.1', 0, 0)).toBe(0);
    // 64 datagrams of 10 zero bytes; word 0 of each (its offset) is flipped by a worker between 0 and 1 GiB.
    const meta = new Int32Array(new SharedArrayBuffer(META_WORDS * 64 * 4 + 4));
    for (let i = 0; i < 64; i++) {
      meta.set([0, 10, rx.socket.address().port, 4], i * META_WORDS);
      lib.pton(4, '127.0.0.1', meta, i * META_WORDS + 4);
    }
    const stop = META_WORDS * 64;
    const worker = new Worker(
      `const { workerData, parentPort } = require('node:worker_threads');
      const meta = new Int32Array(workerData);
      parentPort.postMessage('flipping');
      while (Atomics.load(meta, ${stop}) === 0) {
        for (let i = 0; i < 64; i++) meta[i * ${META_WORDS}] = 0x40000000;
        for (let i = 0; i < 64; i++) meta[i * ${META_WORDS}] = 0;
      }`,
      { eval: true, workerData: meta.buffer },
    );
    await once(worker, 'message');
    const bytes = new Uint8Array(100);
    const results = new Set<string>();
    // The old addon checked the metadata, then read it again to send: about one call in twenty sent from 1 GiB past the bytes (EFAULT).
    for (let i = 0; i < 2000; i++) {
      try {
        results.add(String(lib.send(handle, bytes, meta, 64)));
      } catch (e) {
        results.add(e instanceof TypeError ? 'refused' : String(e));
      }
    }
    Atomics.store(meta, stop, 1);
    await worker.terminate();
    expect([...results].filter((r) => r !== 'refused' && r !== '64')).toEqual([]);
    await new Promise((r) => setTimeout(r, 20));
    expect(rx.got.every((g) => g.data.length === 10 && g.data.every((b) => b === 0))).toBe(true);
  });

});
