/**
 * The kernel's TCP table as the transfer server reads it: real loopback connections, their rows read from
 * Linux's /proc/net/tcp (or a stand-in reader that fails or drops a row as the kernel's may), a tick of 40 ms.
 */
import net from 'node:net';
import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { KernelTcpTable, TCP_CLOSE, TCP_FIN_WAIT2, TCP_TABLE_READ_SPACING, type TableReader, type TcpRow } from '../src/kernel-tcp-table.js';
import { until } from './until.js';

const TICK_MS = 40;
const TCP_ESTABLISHED = 1;
const TCP_CLOSE_WAIT = 8;

describe.runIf(process.platform === 'linux')('KernelTcpTable', () => {
  const open: net.Socket[] = [];
  const ends: (() => void)[] = [];
  afterEach(() => {
    for (const end of ends.splice(0)) end();
    for (const s of open.splice(0)) s.destroy();
  });

  /**
   * A connected pair on 127.0.0.1 (an IPv4 socket: its row is in /proc/net/tcp): the server's end and the
   * client's. Half-open allowed, as the transfer server's: a peer's FIN leaves the server's end open.
   */
  const pair = async (): Promise<{ readonly served: net.Socket; readonly client: net.Socket }> => {
    const listener = net.createServer({ allowHalfOpen: true });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const port = (listener.address() as net.AddressInfo).port;
    const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
    const client = net.connect({ port, host: '127.0.0.1' });
    const served = await accepted;
    listener.close();
    for (const s of [client, served]) {
      s.on('error', () => undefined);
      open.push(s);
    }
    return { served, client };
  };

  /** Every row told of `socket` (`undefined`: told it is gone). */
  const watched = (table: KernelTcpTable, socket: net.Socket): readonly (TcpRow | undefined)[] => {
    const rows: (TcpRow | undefined)[] = [];
    ends.push(table.watch(socket, (row) => void rows.push(row)));
    return rows;
  };

  /** The real reader, counting its reads of each table. */
  const counting = (reads: Map<string, number>, read: TableReader = (path) => readFile(path, 'latin1')): TableReader => (path) => {
    reads.set(path, (reads.get(path) ?? 0) + 1);
    return read(path);
  };

  it('tells an established connection its row, a peer that ended (FIN) close-wait, and a peer that reset gone', async () => {
    const a = await pair();
    const b = await pair();
    // Witnessed by a listening socket, as the transfer server's table is: the real table lists it.
    const listener = net.createServer();
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    ends.push(() => listener.close());
    const table = new KernelTcpTable(TICK_MS, undefined, () => listener);
    const rowsA = watched(table, a.served);
    const rowsB = watched(table, b.served);
    expect(await until(() => rowsA.length > 0 && rowsB.length > 0, 2_000)).toBe(true);
    expect(rowsA[0]).toEqual({ state: TCP_ESTABLISHED, sendQueue: 0, receiveQueue: 0 });
    a.client.end();
    b.client.resetAndDestroy();
    const settled = await until(() => rowsA.at(-1)?.state === TCP_CLOSE_WAIT && rowsB.at(-1) === undefined, 2_000);
    expect({ settled, a: rowsA.at(-1), b: rowsB.at(-1) }).toEqual({ settled: true, a: { state: TCP_CLOSE_WAIT, sendQueue: 0, receiveQueue: 0 }, b: undefined });
    // An honest close is never told as gone.
    expect(rowsA.every((row) => row !== undefined && row.state !== TCP_CLOSE)).toBe(true);
  });

  it("tells bytes this end has not read (its receive queue), and its FIN acknowledged by a half-open peer (fin-wait-2)", async () => {
    // Paused from its accept (a socket accepted otherwise reads at once, and its queue empties before a tick).
    const listener = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    ends.push(() => listener.close());
    const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
    // Half-open, as an attacker holding its refusal's grace: Node's default answers a FIN with its own.
    const client = net.connect({ port: (listener.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
    const served = await accepted;
    for (const s of [client, served]) {
      s.on('error', () => undefined);
      open.push(s);
    }
    const table = new KernelTcpTable(TICK_MS, undefined, () => listener);
    client.write('hello');
    const rows = watched(table, served);
    // Not read: a close now would be answered with a reset.
    expect(await until(() => rows.at(-1)?.receiveQueue === 5, 2_000)).toBe(true);
    served.resume();
    served.end('ERR line\n');
    expect(await until(() => rows.at(-1)?.state === TCP_FIN_WAIT2, 2_000)).toBe(true);
    expect(rows.at(-1)).toEqual({ state: TCP_FIN_WAIT2, sendQueue: 0, receiveQueue: 0 });
  });

  it('tells nothing in a tick where one table could not be read (EMFILE): its connections are not gone', async () => {
    const { served } = await pair();
    const reads = new Map<string, number>();
    const emfile: TableReader = (path) =>
      path === '/proc/net/tcp' ? Promise.reject(Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' })) : readFile(path, 'latin1');
    const table = new KernelTcpTable(TICK_MS, counting(reads, emfile));
    const rows = watched(table, served);
    expect(await until(() => (reads.get('/proc/net/tcp') ?? 0) >= 4, 3_000)).toBe(true);
    // Before: the IPv4 connection, absent from tcp6 (the one table read), was told gone: an honest upload aborted.
    expect(rows).toEqual([]);
  });

  it('reads nothing while not wanted (the refusal graces not short of lines known safe), and reads again once wanted', async () => {
    const { served } = await pair();
    const reads = new Map<string, number>();
    let wanted = false;
    let asked = 0;
    const table = new KernelTcpTable(TICK_MS, counting(reads), undefined, () => {
      asked++;
      return wanted;
    });
    const rows = watched(table, served);
    expect(await until(() => asked >= 4, 3_000)).toBe(true);
    expect({ reads: reads.size, rows }).toEqual({ reads: 0, rows: [] });
    wanted = true;
    expect(await until(() => rows.length > 0, 3_000)).toBe(true);
    expect(reads.get('/proc/net/tcp')).toBeGreaterThan(0);
  });

  it('a slow read spaces the next: reads take at most a fifth of the time, however long the tables (an attacker adds rows)', async () => {
    const { served } = await pair();
    // A read of each table that takes 60 ms, as one of some 8,000 rows does here (each connection the server
    // closed first stays listed some 60 s: a flood of refused connections lists as many as it likes).
    const reads: { start: number; end: number }[] = [];
    const slow: TableReader = async (path) => {
      if (path === '/proc/net/tcp') reads.push({ start: performance.now(), end: Number.NaN });
      await new Promise((resolve) => setTimeout(resolve, 60));
      const text = await readFile(path, 'latin1');
      const last = reads.at(-1);
      if (path === '/proc/net/tcp6' && last !== undefined) last.end = performance.now();
      return text;
    };
    const table = new KernelTcpTable(TICK_MS, slow);
    watched(table, served);
    expect(await until(() => reads.length >= 4 && !Number.isNaN(reads[3]?.end), 10_000)).toBe(true);
    // Before: the next read began a tick (40 ms) after each 120 ms one, the reads three quarters of the time.
    const gaps = reads.slice(1, 4).map((r, i) => {
      const before = reads[i] ?? r;
      return { gap: Math.round(r.start - before.end), least: Math.round((before.end - before.start) * TCP_TABLE_READ_SPACING) };
    });
    // 2 ms: a timer's clock is in whole milliseconds.
    expect(gaps.filter(({ gap, least }) => gap < least - 2)).toEqual([]);
  });

  it('a table absent (ENOENT: IPv6 disabled) is no failure: the other is read and its rows told', async () => {
    const { served } = await pair();
    const noTcp6: TableReader = (path) =>
      path === '/proc/net/tcp6' ? Promise.reject(Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' })) : readFile(path, 'latin1');
    const table = new KernelTcpTable(TICK_MS, noTcp6);
    const rows = watched(table, served);
    expect(await until(() => rows.length > 0, 2_000)).toBe(true);
    expect(rows[0]).toEqual({ state: TCP_ESTABLISHED, sendQueue: 0, receiveQueue: 0 });
  });

  it('a row missing from one read (the kernel skips one when another socket of its bucket goes between two reads) is read again before it is told gone', async () => {
    const { served } = await pair();
    let dropped = false;
    // The first read of /proc/net/tcp lacks every established row, as a read across a removal may lack one.
    const skipping: TableReader = async (path) => {
      const text = await readFile(path, 'latin1');
      if (path !== '/proc/net/tcp' || dropped) return text;
      dropped = true;
      return text
        .split('\n')
        .filter((line) => line.trim().split(/\s+/)[3] !== '01')
        .join('\n');
    };
    const table = new KernelTcpTable(TICK_MS, skipping);
    const rows = watched(table, served);
    expect(await until(() => rows.length >= 2, 2_000)).toBe(true);
    // Before: told gone at the first tick, and an honest upload aborted.
    expect(rows.every((row) => row?.state === TCP_ESTABLISHED)).toBe(true);
  });

  it('tells the rows of IPv6 connections and of IPv4 ones accepted by a dual-stack listener (IPv4-mapped, in tcp6)', async () => {
    const rows: (TcpRow | undefined)[][] = [];
    const table = new KernelTcpTable(TICK_MS);
    for (const [listenOn, connectTo] of [['::1', '::1'], ['::', '127.0.0.1']] as const) {
      const listener = net.createServer({ allowHalfOpen: true });
      await new Promise<void>((resolve) => listener.listen(0, listenOn, resolve));
      const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
      const client = net.connect({ port: (listener.address() as net.AddressInfo).port, host: connectTo });
      const served = await accepted;
      listener.close();
      open.push(client, served);
      rows.push(watched(table, served) as (TcpRow | undefined)[]);
    }
    expect(await until(() => rows.every((r) => r.length > 0), 2_000)).toBe(true);
    for (const r of rows) expect(r[0]).toEqual({ state: TCP_ESTABLISHED, sendQueue: 0, receiveQueue: 0 });
  });

  it("tells nothing when the table does not list the server's own listening socket (WSL 1's empty table): its connections are not gone", async () => {
    const { served } = await pair();
    const listener = net.createServer();
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    let reads = 0;
    const headerOnly: TableReader = async (path) => {
      reads++;
      return (await readFile(path, 'latin1')).split('\n')[0] ?? '';
    };
    try {
      const table = new KernelTcpTable(TICK_MS, headerOnly, () => listener);
      const rows = watched(table, served);
      expect(await until(() => reads >= 8, 3_000)).toBe(true);
      // Before: told gone at the first tick, and every upload waiting on its store aborted.
      expect(rows).toEqual([]);
    } finally {
      listener.close();
    }
  });
});
