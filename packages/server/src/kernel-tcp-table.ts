import { readlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type net from 'node:net';

/** What the kernel says of one TCP connection (Linux's /proc/net/tcp and tcp6). */
export interface TcpRow {
  /** The connection's TCP state (the kernel's numbering: 1 established, 8 close-wait, …). */
  readonly state: number;
  /** Bytes written to the connection that its peer has not acknowledged (queued, or sent and unacknowledged). */
  readonly sendQueue: number;
  /** Bytes the peer sent that this process has not read (what makes the kernel reset a connection closed). */
  readonly receiveQueue: number;
}

/** The kernel's TCP_CLOSE: a connection reset (one so is usually no longer listed at all). */
export const TCP_CLOSE = 7;

/** The kernel's TCP_FIN_WAIT2: this side's FIN (and so all it wrote before it) acknowledged, the peer's not come. */
export const TCP_FIN_WAIT2 = 5;

/** How often the kernel's table is read while a connection is watched, ms. */
export const TCP_TABLE_EVERY_MS = 500;

/**
 * The least wait after a read of the kernel's tables, as a multiple of that read's time: reads take at most a
 * fifth of the time, however long the tables. A read costs in proportion to the rows, and anyone can add rows:
 * each connection the server closes first stays listed some 60 s (TIME-WAIT, or an orphan in FIN-WAIT), so a
 * flood of refused connections at 1,000 a second lists some 60,000, and reads of ~7 µs a row each tick after
 * 200 ms took most of a core.
 */
export const TCP_TABLE_READ_SPACING = 4;

const TABLES = ['/proc/net/tcp', '/proc/net/tcp6'] as const;

/** Reads one of the kernel's tables (`path`) as text; rejects as `readFile` does. */
export type TableReader = (path: string) => Promise<string>;

const readTable: TableReader = (path) => readFile(path, 'latin1');

/** Inodes found, by socket: a socket keeps its kernel socket for life, and an upload is watched at each of its store's writes. */
const inodes = new WeakMap<net.Socket | net.Server, string>();

/**
 * The inode of `socket`'s kernel socket (its descriptor's link, `socket:[N]`), or `undefined` (not Linux, no
 * descriptor). Read once a socket (a synchronous read on the main thread), not at each watch of it.
 */
const inodeOf = (socket: net.Socket | net.Server): string | undefined => {
  const known = inodes.get(socket);
  if (known !== undefined) return known;
  const fd = (socket as unknown as { readonly _handle?: { readonly fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return undefined;
  let inode: string | undefined;
  try {
    inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1];
  } catch {
    return undefined;
  }
  if (inode !== undefined) inodes.set(socket, inode);
  return inode;
};

/**
 * A row of a /proc/net/tcp table (tcp6's addresses are longer): slot, local and remote address, state (hex),
 * `tx_queue:rx_queue` (hex), timer, retransmits, uid, timeout, inode. The state, both queues and inode captured.
 */
const ROW = /^ *\d+: [0-9A-F]+:[0-9A-F]+ [0-9A-F]+:[0-9A-F]+ ([0-9A-F]+) ([0-9A-F]+):([0-9A-F]+) [0-9A-F]+:[0-9A-F]+ [0-9A-F]+ +\d+ +-?\d+ (\d+) /gm;

/**
 * Rows of `text` (a /proc/net/tcp table) whose inode is in `wanted`. One expression over the whole text, on
 * the main thread every tick: splitting each line into its 17 fields took 3.5 times as long (28 ms against 9
 * for 21,500 rows, on a loaded machine), and a host's table holds its TIME_WAIT rows too.
 */
const rowsIn = (text: string, wanted: ReadonlySet<string>, into: Map<string, TcpRow>): void => {
  for (const [, state, sendQueue, receiveQueue, inode] of text.matchAll(ROW)) {
    if (inode === undefined || !wanted.has(inode)) continue;
    into.set(inode, { state: parseInt(state ?? '', 16), sendQueue: parseInt(sendQueue ?? '', 16), receiveQueue: parseInt(receiveQueue ?? '', 16) });
  }
};

interface Watcher {
  readonly socket: net.Socket;
  /** Looked up at its first read: most watches (a store's write that completes at once) end before it. */
  inode: string | undefined;
  readonly since: number;
  readonly onRow: (row: TcpRow | undefined) => void;
}

/**
 * Watches TCP connections in the kernel's table, one read of it a tick for all of them, and only while one is
 * watched. Node tells neither a peer's reset of a socket that is not being read (an upload paused while its
 * store writes) nor how much of what a socket wrote its peer has acknowledged (a download's tail). Linux only:
 * elsewhere nothing is told.
 */
export class KernelTcpTable {
  private readonly watchers = new Set<Watcher>();
  private timer: NodeJS.Timeout | undefined;
  private reading = false;
  // When the next read may start (performance.now()): its last read's time × TCP_TABLE_READ_SPACING after it.
  private nextReadAt = 0;

  /**
   * `read` is the kernel's table read (a test's stand-in elsewhere). `witness`, the server's listening socket,
   * must be listed for a read to tell anything: a table that lacks it is not this process's (WSL 1's, which
   * lists no socket; a /proc of another network namespace), and each connection watched would read as gone.
   */
  constructor(
    private readonly everyMs = TCP_TABLE_EVERY_MS,
    private readonly read: TableReader = readTable,
    private readonly witness: () => net.Server | undefined = () => undefined,
    /** Whether a tick reads at all (its watches told nothing that tick): the refusal graces' need of it. */
    private readonly wanted: () => boolean = () => true,
  ) {}

  /**
   * Tells `onRow` `socket`'s row each tick, `undefined` once the kernel lists it no more (reset, or closed
   * and gone); returns what ends the watch.
   */
  watch(socket: net.Socket, onRow: (row: TcpRow | undefined) => void): () => void {
    const w: Watcher = { socket, inode: undefined, since: performance.now(), onRow };
    this.watchers.add(w);
    this.schedule();
    return () => {
      this.watchers.delete(w);
      // No wake-up for nothing: a refusal's grace is watched from its start, and most end within a round trip.
      if (this.watchers.size > 0 || this.timer === undefined) return;
      clearTimeout(this.timer);
      this.timer = undefined;
    };
  }

  private schedule(): void {
    if (this.timer !== undefined || this.watchers.size === 0) return;
    this.timer = setTimeout(() => void this.tick(), Math.max(this.everyMs, this.nextReadAt - performance.now()));
    // Cleared when the last watch ends: it must not keep a stopping process alive meanwhile.
    this.timer.unref();
  }

  /**
   * The rows of `wanted` in the kernel's tables, or `undefined` when a table failed to be read (only an absent
   * one is no failure: tcp6 with IPv6 disabled, which then lists no connection) or none is there.
   */
  private async rowsOf(wanted: ReadonlySet<string>): Promise<Map<string, TcpRow> | undefined> {
    const rows = new Map<string, TcpRow>();
    let read = 0;
    for (const table of TABLES) {
      const text = await this.read(table).then(
        (t): string | 'absent' | 'failed' => t,
        (e: unknown) => ((e as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' ? 'absent' : 'failed'),
      );
      if (text === 'failed') return undefined;
      if (text === 'absent') continue;
      read++;
      rowsIn(text, wanted, rows);
    }
    return read === 0 ? undefined : rows;
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    if (this.reading) return;
    this.reading = true;
    let started: number | undefined;
    try {
      if (!this.wanted()) return;
      // Only watches a tick old: a wait that ends sooner costs no read of the table.
      const due = [...this.watchers].filter((w) => performance.now() - w.since >= this.everyMs / 2);
      for (const w of due) w.inode ??= inodeOf(w.socket);
      const wanted = new Set(due.flatMap((w) => (w.inode === undefined ? [] : [w.inode])));
      if (wanted.size === 0) return;
      const witnessed = this.witness();
      const witness = witnessed === undefined ? undefined : inodeOf(witnessed);
      if (witness !== undefined) wanted.add(witness);
      started = performance.now();
      const rows = await this.rowsOf(wanted);
      // A table not read whole (EMFILE, EACCES, …): its connections are unknown, not gone; nor is any row told
      // where no table is (not Linux, /proc not mounted). Before, a failed tcp left its IPv4 connections absent
      // from tcp6, read alone, and each watched upload was aborted as if its sender had reset.
      if (rows === undefined) return;
      // A row missing may be the read's own: the kernel lists a table over several reads, resuming each at its
      // place in a hash bucket, so a socket of the bucket removed between two reads shifts the rest and one row
      // is skipped. Read again (only when one is missing: a reset), a live connection is there.
      // Only of watches still on: a refusal's grace ended while the table was read (its socket closed, its row
      // gone) made every tick read the tables twice, at some 16 ms of the kernel's time each with 3,000 rows.
      const still = new Set(due.flatMap((w) => (w.inode !== undefined && this.watchers.has(w) ? [w.inode] : [])));
      if (witness !== undefined) still.add(witness);
      const missing = new Set([...still].filter((inode) => !rows.has(inode)));
      if (missing.size > 0) {
        const again = await this.rowsOf(missing);
        if (again === undefined) return;
        for (const [inode, row] of again) rows.set(inode, row);
      }
      if (witness !== undefined && !rows.has(witness)) return;
      for (const w of due) if (w.inode !== undefined && this.watchers.has(w)) w.onRow(rows.get(w.inode));
    } finally {
      // Its time on the wall, the threadpool's wait and the main thread's parse included: never less than its cost.
      if (started !== undefined) this.nextReadAt = performance.now() + (performance.now() - started) * TCP_TABLE_READ_SPACING;
      this.reading = false;
      this.schedule();
    }
  }
}
