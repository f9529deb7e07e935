/**
 * The batched UDP addon (native/udp-batch.c) and `BatchSocket` on real
 * loopback sockets: bursts arrive in few callbacks with every byte and
 * sender intact, queued sends leave in order across sockets and flushes,
 * errors come back as Node's system errors, a socket left open in a worker
 * thread does not take the process down when the worker ends, and
 * descriptors do not outlive close. Senders' addresses are in
 * batch-socket-senders.test.ts; misuse and hostile input (handles of another
 * addon, host strings that only look like literals) in
 * batch-socket-misuse.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { expectSameBytes, expectSameByteLists } from '../../../test-support/same-bytes.js';
import { formatAddress } from '../src/core/sans-io.js';
import { BatchSocket } from '../src/node/batch-socket.js';
import { META_WORDS, RECEIVE_SLOTS, type UdpBatchHandle } from '../src/node/udp-batch.js';
import { addon, addonPath, batchSocket, cleanup, dgramSocket, openDescriptors, pattern, runCleanup, until } from './helpers/batch-sockets.js';

afterEach(runCleanup);

describe.skipIf(addon === undefined)('the batched UDP addon', () => {
  const lib = addon as NonNullable<typeof addon>;

  it('hands a burst over in a few callbacks, every datagram intact, in order and in a buffer of its own, with its sender', async () => {
    const rx = await batchSocket();
    const tx = await dgramSocket();
    const n = 100;
    // Sent within one tick: all are queued before the receiver's loop turn reads them.
    for (let i = 0; i < n; i++) tx.send(pattern(i, 1 + ((i * 97) % 1472)), rx.socket.address().port, '127.0.0.1');
    await until(() => rx.got.length === n, `${n} datagrams`);
    rx.got.forEach((g, i) => {
      expectSameBytes(g.data, pattern(i, 1 + ((i * 97) % 1472)), `datagram ${i}`);
      expect(g.from).toBe(`127.0.0.1:${tx.address().port}`);
      // A message that fills most of its datagram is then delivered as a view, keeping no other datagram alive.
      expect(g.ownBuffer).toBe(true);
    });
    // 32 per recvmmsg: a burst of 100 needs 4 calls, not 100.
    expect(rx.bursts.length).toBeLessThanOrEqual(8);
    expect(Math.max(...rx.bursts)).toBe(RECEIVE_SLOTS);
  });

  it('drops a datagram larger than a slot and keeps the ones around it', async () => {
    const rx = await batchSocket();
    const tx = await dgramSocket();
    const port = rx.socket.address().port;
    tx.send(pattern(1, 100), port, '127.0.0.1');
    tx.send(pattern(2, 3000), port, '127.0.0.1');
    tx.send(pattern(3, 100), port, '127.0.0.1');
    await until(() => rx.got.length === 2, 'the two small datagrams');
    await new Promise((r) => setTimeout(r, 20));
    expect(rx.got.map((g) => g.data)).toEqual([pattern(1, 100), pattern(3, 100)]);
  });

  it('counts a datagram the kernel refuses (EMSGSIZE) as not sent and still sends the ones after it', async () => {
    const tx = await batchSocket();
    const rx = await batchSocket();
    const to = `127.0.0.1:${rx.socket.address().port}`;
    // 65,600 bytes: over IPv4's 65,507-byte UDP maximum, so sendmmsg fails on it alone.
    tx.socket.send(to, pattern(1, 100));
    tx.socket.send(to, pattern(2, 65_600));
    tx.socket.send(to, pattern(3, 100));
    tx.socket.flush();
    expect(tx.socket.datagramsNotSent).toBe(1);
    await until(() => rx.got.length === 2, 'the two small datagrams');
    expect(rx.got.map((g) => g.data)).toEqual([pattern(1, 100), pattern(3, 100)]);
  });

  it('hands over the rest of a batch when the handler of one datagram throws, then rethrows', () => {
    // In a child process: the throw reaches its uncaughtException handler (vitest's would fail the run).
    const child = spawnSync(process.execPath, ['--import', 'tsx', join(dirname(fileURLToPath(import.meta.url)), 'fixtures/throw-mid-batch.ts')], { encoding: 'utf8', timeout: 30_000 });
    expect(child.status, child.stderr).toBe(0);
    expect(JSON.parse(child.stdout)).toEqual({ received: [0, 1, 2, 3, 4], bursts: [5], errors: ['thrown by the handler of datagram 0'] });
  });

  it('sends queued datagrams in order, flushing a full queue and the queue of another socket first', async () => {
    // What each send call hands the kernel, recorded on the way: a burst this large may overflow a
    // receiver's default socket buffer, so order and content are checked where they leave.
    const calls: { socket: string; datagrams: Uint8Array[] }[] = [];
    const names = new Map<UdpBatchHandle, string>();
    const spy: typeof lib = {
      ...lib,
      send: (handle, bytes, meta, count) => {
        const datagrams = Array.from({ length: count }, (_, i) => bytes.slice(meta[i * META_WORDS] as number, (meta[i * META_WORDS] as number) + (meta[i * META_WORDS + 1] as number)));
        calls.push({ socket: names.get(handle) ?? '?', datagrams });
        return lib.send(handle, bytes, meta, count);
      },
      open: (...args) => {
        const h = lib.open(...args);
        if (typeof h !== 'number') names.set(h, names.size === 0 ? 'a' : 'b');
        return h;
      },
    };
    const a = new BatchSocket(spy, 4);
    const b = new BatchSocket(spy, 4);
    cleanup.push(() => a.close(), () => b.close());
    await a.bind(0, '127.0.0.1');
    await b.bind(0, '127.0.0.1');
    const sinkA = await dgramSocket();
    const sinkB = await dgramSocket();
    const gotB: Buffer[] = [];
    sinkB.on('message', (m) => gotB.push(m));
    const toA = formatAddress('127.0.0.1', sinkA.address().port);
    const toB = formatAddress('127.0.0.1', sinkB.address().port);
    // 300 datagrams from a (more than one queue holds), interleaved with b's, in one tick.
    for (let i = 0; i < 300; i++) {
      a.send(toA, pattern(i, 20 + (i % 100)));
      if (i % 50 === 0) b.send(toB, pattern(i, 10));
    }
    a.flush();
    b.flush();
    const sentA = calls.filter((c) => c.socket === 'a').flatMap((c) => c.datagrams);
    const sentB = calls.filter((c) => c.socket === 'b').flatMap((c) => c.datagrams);
    expectSameByteLists(sentA, Array.from({ length: 300 }, (_, i) => pattern(i, 20 + (i % 100))), "a's datagrams");
    expect(sentB).toEqual(Array.from({ length: 6 }, (_, i) => pattern(i * 50, 10)));
    // Each of b's datagrams flushed a's queue before it (a's run is cut at every switch), and none was held back.
    expect(calls.map((c) => `${c.socket}${c.datagrams.length}`)).toEqual(['a1', 'b1', 'a50', 'b1', 'a50', 'b1', 'a50', 'b1', 'a50', 'b1', 'a50', 'b1', 'a49']);
    await until(() => gotB.length === 6, "b's datagrams");
    gotB.forEach((m, i) => expect(new Uint8Array(m)).toEqual(pattern(i * 50, 10)));
  });

  it('flushes a full queue by itself: at most 256 datagrams or 256 KiB a call', () => {
    let counts: number[] = [];
    const spy: typeof lib = { ...lib, send: (handle, bytes, meta, count) => (counts.push(count), lib.send(handle, bytes, meta, count)) };
    const s = new BatchSocket(spy, 4);
    cleanup.push(() => s.close());
    void s.bind(0, '127.0.0.1');
    const to = '127.0.0.1:9'; // discard
    for (let i = 0; i < 600; i++) s.send(to, pattern(i, 10));
    s.flush();
    expect(counts).toEqual([256, 256, 88]);
    counts = [];
    for (let i = 0; i < 400; i++) s.send(to, pattern(i, 1400));
    s.flush();
    // 187 datagrams of 1,400 bytes fill 256 KiB.
    expect(counts).toEqual([187, 187, 26]);
  });

  it('reports a closed port to a connected socket as ECONNREFUSED', async () => {
    const closed = await dgramSocket();
    const port = closed.address().port;
    await new Promise<void>((r) => closed.close(() => r()));
    cleanup.pop();
    const c = await batchSocket();
    const errors: NodeJS.ErrnoException[] = [];
    c.socket.onError = (e) => errors.push(e);
    await c.socket.connect(port, '127.0.0.1');
    const peer = formatAddress('127.0.0.1', port);
    for (let i = 0; i < 3 && errors.length === 0; i++) {
      c.socket.send(peer, pattern(i, 20));
      c.socket.flush();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(errors[0]?.code).toBe('ECONNREFUSED');
    expect(['send', 'recvmsg']).toContain(errors[0]?.syscall);
  });

  it("fails to bind a port in use with Node's EADDRINUSE, and an address of the wrong family with EINVAL", async () => {
    const taken = await batchSocket();
    const port = taken.socket.address().port;
    const other = new BatchSocket(lib, 4);
    cleanup.push(() => other.close());
    await expect(other.bind(port, '127.0.0.1')).rejects.toMatchObject({ code: 'EADDRINUSE', syscall: 'bind', address: '127.0.0.1', port, message: `bind EADDRINUSE 127.0.0.1:${port}` });
    const v4 = new BatchSocket(lib, 4);
    cleanup.push(() => v4.close());
    await expect(v4.bind(0, '::1')).rejects.toMatchObject({ code: 'EINVAL', syscall: 'bind' });
    await expect(v4.bind(0, 'localhost')).rejects.toMatchObject({ code: 'EINVAL' });
  });

  it('stops handing over datagrams as soon as the socket is closed, even inside a burst', async () => {
    const rx = await batchSocket();
    const tx = await dgramSocket();
    let seen = 0;
    rx.socket.onDatagram = () => {
      seen++;
      if (seen === 3) void rx.socket.close();
    };
    for (let i = 0; i < 20; i++) tx.send(pattern(i, 10), rx.socket.address().port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toBe(3);
  });

  it('closes a socket left open when its worker thread ends', async () => {
    const sink = await dgramSocket();
    const got = once(sink, 'message');
    const worker = new Worker(
      `
      const { parentPort, workerData } = require('node:worker_threads');
      const m = { exports: {} };
      process.dlopen(m, workerData.file);
      const meta = new Int32Array(${RECEIVE_SLOTS * META_WORDS});
      const h = m.exports.open(4, () => {}, () => {}, meta, true);
      m.exports.bind(h, '127.0.0.1', 0, 0);
      const sendMeta = new Int32Array(${META_WORDS});
      sendMeta.set([0, 5, workerData.port, 4]);
      m.exports.pton(4, '127.0.0.1', sendMeta, 4);
      m.exports.send(h, new Uint8Array([1, 2, 3, 4, 5]), sendMeta, 1);
      parentPort.postMessage('open');
      setInterval(() => {}, 1000);
      `,
      { eval: true, workerData: { file: addonPath, port: sink.address().port } },
    );
    await once(worker, 'message');
    const [m] = (await got) as [Buffer];
    expect([...m]).toEqual([1, 2, 3, 4, 5]);
    expect(await worker.terminate()).toBe(1);
    // The process goes on: a socket made now works.
    const again = await batchSocket();
    expect(again.socket.address().port).toBeGreaterThan(0);
  });

  it('closes its descriptor in close(), so the port can be bound again at once; one never bound holds none', async () => {
    const before = openDescriptors();
    const unbound = new BatchSocket(lib, 4);
    expect(openDescriptors()).toBe(before);
    await unbound.close();
    const a = new BatchSocket(lib, 4);
    await a.bind(0, '127.0.0.1');
    const { port } = a.address();
    expect(openDescriptors()).toBe(before + 1);
    await a.close();
    // The descriptor used to be closed by the poll handle's close callback, a loop turn later.
    expect(openDescriptors()).toBe(before);
    const b = new BatchSocket(lib, 4);
    cleanup.push(() => b.close());
    await b.bind(port, '127.0.0.1');
    expect(b.address().port).toBe(port);
    for (let i = 0; i < 2000; i++) {
      const s = new BatchSocket(lib, i % 2 === 0 ? 4 : 6);
      await s.bind(0, i % 2 === 0 ? '127.0.0.1' : '::1');
      await s.close();
    }
    const failed = new BatchSocket(lib, 4);
    await expect(failed.bind(port, '127.0.0.1')).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(openDescriptors()).toBe(before + 1);
  });

  it('rejects bind, not the constructor, when no socket can be made (EMFILE), as node:dgram does', async () => {
    const spy: typeof lib = { ...lib, open: () => -24 };
    let socket: BatchSocket | undefined;
    expect(() => {
      socket = new BatchSocket(spy, 4);
    }).not.toThrow();
    await expect((socket as BatchSocket).bind(0, '127.0.0.1')).rejects.toMatchObject({ code: 'EMFILE', syscall: 'socket' });
    await (socket as BatchSocket).close();
  });

  it("lets the process exit when unref'd, whether before or after bind, and keeps it alive when ref'd again", () => {
    const run = (calls: string): number | null => {
      const script = `
        const m = { exports: {} };
        process.dlopen(m, process.argv[1]);
        const lib = m.exports;
        const h = lib.open(4, () => {}, () => {}, new Int32Array(${RECEIVE_SLOTS * META_WORDS}), true);
        ${calls}
        setTimeout(() => process.exit(3), 300).unref(); // fires only while the socket holds the loop
      `;
      return spawnSync(process.execPath, ['-e', script, addonPath], { encoding: 'utf8' }).status;
    };
    const bind = `lib.bind(h, '127.0.0.1', 0, 0);`;
    expect(run(`${bind} lib.ref(h, false);`)).toBe(0);
    // Said before bind, the old addon forgot it: the socket kept the process alive.
    expect(run(`lib.ref(h, false); ${bind}`)).toBe(0);
    expect(run(`lib.ref(h, false); ${bind} lib.ref(h, true);`)).toBe(3);
    expect(run(bind)).toBe(3);
  });

});
