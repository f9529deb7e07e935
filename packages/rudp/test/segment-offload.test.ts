/**
 * UDP segmentation offload in the batched addon (native/udp-batch.c): runs
 * of datagrams of one size to one peer leave as one GSO send, a batched
 * receiver takes them back as one GRO buffer and cuts it into the same
 * datagrams, and a node:dgram receiver gets them cut by the kernel. Where a
 * GSO send is refused, its datagrams leave one by one, and a refusal that
 * says GSO cannot work (EIO) ends it on that socket. The sends are watched
 * (and refused) by an LD_PRELOAD shim around sendmmsg, in a child process.
 * In this process: a GRO buffer of datagrams over a receive slot (2,048
 * bytes) loses those and only those, and one of up to 63 datagrams, more
 * than one callback carries, has the metadata array lent to the addon
 * looked up again for each callback; a loop turn gets 128 datagrams at most,
 * however many GRO buffers one read took, and the rest on the next turns.
 */
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { BatchSocket } from '../src/node/batch-socket.js';
import { META_WORDS, RECEIVE_SLOTS, UDP_GRO, UDP_GSO, type UdpBatchHandle, loadUdpBatch } from '../src/node/udp-batch.js';

const addon = loadUdpBatch();
const here = dirname(fileURLToPath(import.meta.url));
const EIO = 5;
const EMSGSIZE = 90;
const EINVAL = 22;
const EAGAIN = 11;

/** What the child saw, and how many GSO sends reached sendmmsg (refused ones included). */
interface Outcome {
  readonly batched: readonly string[];
  readonly plain: readonly string[];
  readonly offloadsBefore: number;
  readonly offloadsAfter: number;
  readonly notSent: number;
  readonly gsoSends: number;
}

/** The batch `fixtures/gso-batch.ts` sends twice, as hex per receiver in the order sent. */
function expected(): { readonly batched: string[]; readonly plain: string[] } {
  const sizes: ['rx' | 'plain', number][] = [
    ...Array.from({ length: 40 }, (): ['rx', number] => ['rx', 1000]),
    ['rx', 500],
    ['plain', 1000],
    ['plain', 1000],
    ['plain', 1000],
    ['rx', 1000],
    ['rx', 1200],
    ['rx', 1200],
    ['rx', 0],
    ['rx', 1300],
    ['rx', 1200],
  ];
  const out = { batched: [] as string[], plain: [] as string[] };
  let n = 0;
  for (let round = 0; round < 2; round++) {
    for (const [to, length] of sizes) {
      const id = n++;
      const hex = Buffer.from(Uint8Array.from({ length }, (_, k) => (k === 0 ? id : id * 31 + k * 7) & 0xff)).toString('hex');
      (to === 'rx' ? out.batched : out.plain).push(hex);
    }
  }
  return out;
}

/** Both receivers got every datagram of the batch, byte for byte and in the order sent. */
function expectEveryDatagram(o: Outcome): void {
  const want = expected();
  expect(o.batched).toEqual(want.batched);
  expect(o.plain).toEqual(want.plain);
}

describe.skipIf(addon === undefined || process.platform !== 'linux')('UDP segmentation offload (GSO, GRO)', () => {
  let shim = '';
  beforeAll(() => {
    shim = join(mkdtempSync(join(tmpdir(), 'rudpx-gso-')), 'gso-refusing-sendmmsg.so');
    const cc = spawnSync(process.env.CC ?? 'cc', ['-shared', '-fPIC', '-o', shim, join(here, 'fixtures/gso-refusing-sendmmsg.c'), '-ldl'], { encoding: 'utf8' });
    expect(cc.status, cc.stderr).toBe(0);
  });

  const run = (offload: 'on' | 'off', refuse?: number, family: 4 | 6 = 4): Outcome => {
    const child = spawnSync(process.execPath, ['--import', 'tsx', join(here, 'fixtures/gso-batch.ts'), offload, String(family)], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, LD_PRELOAD: shim, ...(refuse !== undefined ? { SHIM_REFUSE: String(refuse) } : {}) },
    });
    expect(child.status, child.stderr).toBe(0);
    const count = /gso-sends=(\d+)/.exec(child.stderr);
    expect(count, child.stderr).not.toBeNull();
    return { ...(JSON.parse(child.stdout.trim().split('\n').pop() as string) as Omit<Outcome, 'gsoSends'>), gsoSends: Number(count?.[1]) };
  };

  it.each([4, 6] as const)('sends each run of one size to one peer as one GSO send; both receivers get the same datagrams, in order (IPv%d)', (family) => {
    const o = run('on', undefined, family);
    expect(o.offloadsBefore).toBe(UDP_GSO | UDP_GRO);
    expect(o.offloadsAfter).toBe(UDP_GSO | UDP_GRO);
    // Per round: 40 × 1000 + 500 to the batched receiver, 3 × 1000 to the plain one, 2 × 1200: three runs (1300 then 1200 is none).
    expect(o.gsoSends).toBe(6);
    expect(o.notSent).toBe(0);
    expectEveryDatagram(o);
  });

  it('sends nothing as GSO and reads no GRO buffer with segment offload off', () => {
    const o = run('off');
    expect(o.offloadsBefore).toBe(0);
    expect(o.gsoSends).toBe(0);
    expectEveryDatagram(o);
  });

  it('sends the datagrams of a GSO send the device refuses (EIO) one by one, and stops trying GSO on that socket', () => {
    const o = run('on', EIO);
    expect(o.gsoSends).toBe(1);
    expect(o.offloadsAfter).toBe(UDP_GRO);
    expect(o.notSent).toBe(0);
    expectEveryDatagram(o);
  });

  // EMSGSIZE: a segment over the route's MTU (EINVAL on kernels before 2025); EINVAL also a bad destination; EAGAIN a full buffer.
  it.each([
    ['EMSGSIZE', EMSGSIZE],
    ['EINVAL', EINVAL],
    ['EAGAIN', EAGAIN],
  ])('sends the datagrams of a GSO send refused with %s one by one, and keeps GSO for the next runs', (_name, errno) => {
    const o = run('on', errno);
    expect(o.gsoSends).toBe(6);
    expect(o.offloadsAfter).toBe(UDP_GSO | UDP_GRO);
    expect(o.notSent).toBe(0);
    expectEveryDatagram(o);
  });
});

describe.skipIf(addon === undefined || process.platform !== 'linux')('GRO buffers cut up in this process', () => {
  const lib = addon as NonNullable<typeof addon>;

  it('drops the datagrams of a GRO buffer that are over a receive slot, and delivers its shorter last one', async () => {
    const rx = new BatchSocket(lib, 4);
    const tx = new BatchSocket(lib, 4, true);
    try {
      const got: Uint8Array[] = [];
      const sentinel = Uint8Array.of(0xee, 0xee, 0xee);
      let sentinelSeen: () => void = () => {};
      const done = new Promise<void>((r) => (sentinelSeen = r));
      rx.onDatagram = (data) => {
        if (data.length === sentinel.length && data.every((v, i) => v === sentinel[i])) sentinelSeen();
        else got.push(data.slice());
      };
      await rx.bind(0, '127.0.0.1');
      await tx.bind(0, '127.0.0.1');
      expect(rx.offloads & UDP_GRO).toBe(UDP_GRO);
      expect(tx.offloads & UDP_GSO).toBe(UDP_GSO);
      const to = `127.0.0.1:${rx.address().port}`;
      // Each run (one GSO send, one GRO buffer) ends with a shorter datagram; 2,049 and 3,000 are over a slot.
      const sizes = [...Array<number>(20).fill(2049), 1, ...Array<number>(3).fill(3000), 10, ...Array<number>(5).fill(2048), 7, ...Array<number>(4).fill(1000), 500];
      const sent = sizes.map((length, id) => Uint8Array.from({ length }, (_, k) => (id * 31 + k * 7) & 0xff));
      for (const d of sent) tx.send(to, d);
      tx.flush();
      // Loopback keeps the order: once the sentinel (a send of its own) is in, every datagram before it is in or dropped.
      tx.send(to, sentinel);
      tx.flush();
      await done;
      expect(got).toEqual(sent.filter((d) => d.length <= 2048));
    } finally {
      await tx.close();
      await rx.close();
    }
  });

  it.each([
    ['a GRO socket', true],
    ['a socket without GRO', false],
  ])('%s hands over at most 128 datagrams a loop turn, the rest on the next turns, none lost or reordered, and leaves the loop idle after', async (_name, offload) => {
    const perTurnLimit = 128;
    const size = 16;
    const runLength = 63;
    /** Datagram `id`'s bytes: its id, then bytes that depend on it. */
    const datagram = (id: number): Uint8Array => Uint8Array.from({ length: size }, (_, k) => (k < 2 ? (id >> (8 * k)) & 0xff : id * 31 + k * 7) & 0xff);
    const meta = new Int32Array(RECEIVE_SLOTS * META_WORDS);
    const got: number[] = [];
    const wrong: number[] = [];
    let sentSecond = false;
    let inThisTurn = 0;
    const perTurn: number[] = [];
    const fn = (): void => {};
    const tx = lib.open(4, fn, fn, new Int32Array(RECEIVE_SLOTS * META_WORDS), true) as UdpBatchHandle;
    let port = 0;
    /** Sends datagrams `from` … `from + runs × 63 − 1` in one call: runs of 63 of one size, one GSO send each. */
    const burst = (from: number, runs: number): void => {
      const n = runs * runLength;
      const bytes = new Uint8Array(n * size);
      const sendMeta = new Int32Array(n * META_WORDS);
      for (let i = 0; i < n; i++) {
        bytes.set(datagram(from + i), i * size);
        sendMeta.set([i * size, size, port, 4], i * META_WORDS);
        expect(lib.pton(4, '127.0.0.1', sendMeta, i * META_WORDS + 4)).toBe(4);
      }
      expect(lib.send(tx, bytes, sendMeta, n)).toBe(n);
    };
    const first = 16 * runLength;
    const total = first + 4 * runLength;
    const rx = lib.open(4, (...datagrams) => {
      const count = datagrams.length;
      for (let i = 0; i < count; i++) {
        const d = new Uint8Array(datagrams[i] as ArrayBuffer);
        const id = (d[0] as number) | ((d[1] as number) << 8);
        got.push(id);
        if (d.length !== size || !d.every((v, k) => v === datagram(id)[k])) wrong.push(id);
      }
      inThisTurn += count;
      // More arrive while the rest of the first burst still waits: they must come after it.
      if (!sentSecond) {
        sentSecond = true;
        burst(first, 4);
      }
    }, fn, meta, offload) as UdpBatchHandle;
    try {
      expect(lib.bind(rx, '127.0.0.1', 0, 4 * 1024 * 1024)).toBe(0);
      expect(lib.bind(tx, '127.0.0.1', 0, 0)).toBe(0);
      expect(lib.offloads(rx) & UDP_GRO).toBe(offload ? UDP_GRO : 0);
      expect(lib.offloads(tx) & UDP_GSO).toBe(UDP_GSO);
      port = (lib.address(rx) as [string, number])[1];
      // What each loop turn handed over, read in its check phase (after the idle and poll phases the addon reads in).
      const allIn = new Promise<void>((resolve) => {
        const turn = (): void => {
          perTurn.push(inThisTurn);
          inThisTurn = 0;
          if (got.length >= total) resolve();
          else setImmediate(turn);
        };
        setImmediate(turn);
      });
      // All of it is in the socket's queue before the loop polls it: sends on loopback are delivered as they are made.
      burst(0, 16);
      await allIn;
      expect(wrong).toEqual([]);
      expect(got).toEqual(Array.from({ length: total }, (_, i) => i));
      expect(Math.max(...perTurn)).toBeLessThanOrEqual(perTurnLimit);
      // With nothing left to read, the loop waits for a timer instead of spinning (an idle handle left running would).
      const before = performance.eventLoopUtilization();
      await new Promise((r) => setTimeout(r, 100));
      expect(performance.eventLoopUtilization(before).utilization).toBeLessThan(0.5);
    } finally {
      lib.close(rx);
      lib.close(tx);
    }
  });

  it('writes no metadata into a buffer the callback detached, and hands over no more of that GRO buffer', async () => {
    const meta = new Int32Array(RECEIVE_SLOTS * META_WORDS);
    let calls = 0;
    // The buffer that now owns the metadata's old bytes: kept alive so a write after the detach is seen, not a use after free.
    let moved: Int32Array | undefined;
    let before: Int32Array | undefined;
    let loopTurnDone: () => void = () => {};
    const turn = new Promise<void>((r) => (loopTurnDone = r));
    const fn = (): void => {};
    const rx = lib.open(4, () => {
      calls++;
      if (moved !== undefined) return;
      moved = new Int32Array(structuredClone(meta.buffer, { transfer: [meta.buffer] }));
      before = moved.slice();
      // Runs after the readable callback that cut the GRO buffer returns: every callback it makes comes before.
      setImmediate(loopTurnDone);
    }, fn, meta, true) as UdpBatchHandle;
    const tx = lib.open(4, fn, fn, new Int32Array(RECEIVE_SLOTS * META_WORDS), true) as UdpBatchHandle;
    try {
      expect(lib.bind(rx, '127.0.0.1', 0, 0)).toBe(0);
      expect(lib.bind(tx, '127.0.0.1', 0, 0)).toBe(0);
      expect(lib.offloads(rx) & UDP_GRO).toBe(UDP_GRO);
      expect(lib.offloads(tx) & UDP_GSO).toBe(UDP_GSO);
      // 63 datagrams of 100 bytes in one GSO send: one GRO buffer, two callbacks' worth.
      const n = 63;
      const sendMeta = new Int32Array(n * META_WORDS);
      const port = (lib.address(rx) as [string, number])[1];
      for (let i = 0; i < n; i++) {
        sendMeta.set([i * 100, 100, port], i * META_WORDS);
        expect(lib.pton(4, '127.0.0.1', sendMeta, i * META_WORDS + 4)).toBe(4);
        sendMeta[i * META_WORDS + 3] = 4;
      }
      expect(lib.send(tx, new Uint8Array(n * 100), sendMeta, n)).toBe(n);
      await turn;
      expect(calls).toBe(1);
      expect(moved).toEqual(before);
    } finally {
      lib.close(rx);
      lib.close(tx);
    }
  });
});
