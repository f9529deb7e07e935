import dgram from 'node:dgram';
import { once } from 'node:events';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { formatAddress, type PeerAddress } from 'rudpx/core';
import { EventHeap, LinkImpairment, addLinkStats, checkedLinkConfig, deriveRandom, emptyLinkStats } from 'rudpx/testing';
import type { LinkConfig, LinkStats, MutableLinkStats } from 'rudpx/testing';

/** Options of `startLossyRelay`; the `LinkConfig` fields apply to each direction. */
export interface LossyRelayOptions extends LinkConfig {
  /** Port clients send to; 0 (default) picks an ephemeral one. */
  readonly listenPort?: number;
  /** Default `127.0.0.1`. */
  readonly listenHost?: string;
  /** Default `127.0.0.1`. */
  readonly targetHost?: string;
  readonly targetPort: number;
  /** Seeds the impairment streams; client n (in order of first datagram) gets streams derived from (seed, n). */
  readonly seed: number;
  /** Datagrams from new clients beyond this many are dropped. Default 10,000. */
  readonly maxClients?: number;
  /** A client silent this long in both directions is forgotten and its socket closed. Default 60,000 ms. */
  readonly idleTimeoutMs?: number;
  /**
   * Kernel receive and send buffer asked for on every socket, bytes (Linux caps it at
   * net.core.rmem_max / wmem_max). Default: the system's (about 208 KiB on Linux, some 90
   * full-size datagrams): a sender faster than the relay's event loop overflows it, and
   * those kernel drops are not the modelled link's.
   */
  readonly socketBufferBytes?: number;
}

/** Counters of a running relay. */
export interface LossyRelayStats {
  /** Clients with live state. */
  readonly clients: number;
  /** Clients forgotten after being idle. */
  readonly expiredClients: number;
  /** Datagrams dropped because `maxClients` was reached. */
  readonly rejectedDatagrams: number;
  /** Datagrams waiting out their delay. */
  readonly pending: number;
  /** Datagrams dropped, either way, because the relay was partitioned (see `setPartitioned`). */
  readonly droppedPartition: number;
  /**
   * How late the relay forwarded datagrams against the time the link model
   * gave them, both directions, ms: its timers wake no finer than 1 ms and
   * wait for the event loop, so the real path adds this to the model's delay.
   */
  readonly lateness: { readonly meanMs: number; readonly maxMs: number };
  /** Summed over all clients, live and expired. */
  readonly clientToServer: LinkStats;
  readonly serverToClient: LinkStats;
}

/** A running relay. */
export interface LossyRelay {
  /** The port clients send to. */
  readonly port: number;
  stats(): LossyRelayStats;
  /**
   * Cuts (`true`) or heals (`false`) the link: while cut, every datagram in
   * either direction is dropped, including those already waiting out their
   * delay. Impairment streams are not advanced by dropped datagrams.
   */
  setPartitioned(cut: boolean): void;
  /** True while the link is cut. */
  readonly partitioned: boolean;
  /**
   * Gives every client a new upstream port, as a NAT that rebinds its
   * mappings does: from now on the target sees each client's datagrams come
   * from the new port, and what it sends to the old one is dropped (the old
   * socket stays bound until the client is dropped, so no ICMP error tells
   * the target). Resolves once the new sockets are bound.
   */
  rebind(): Promise<void>;
  /** Closes every socket and timer; resolves when the sockets are closed. */
  close(): Promise<void>;
}

interface Pending {
  readonly at: number;
  readonly seq: number;
  readonly data: Uint8Array;
}

/** One impaired direction with real timers: one timer armed for the earliest pending datagram. */
class Pipe {
  private readonly queue = new EventHeap<Pending>();
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  /** Sum and largest of (forwarded − due) over the forwarded datagrams, ms. */
  lateSumMs = 0;
  lateMaxMs = 0;

  constructor(
    readonly impairment: LinkImpairment,
    /** Returns false when the datagram was dropped after all (partition): it is then not counted as delivered. */
    private readonly forward: (data: Uint8Array) => boolean,
  ) {}

  get pending(): number {
    return this.queue.size;
  }

  push(data: Uint8Array): void {
    const now = performance.now();
    for (const d of this.impairment.transmit(now, data)) this.queue.push({ at: d.at, seq: this.seq++, data: d.data });
    this.flush();
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.clear();
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    this.flush();
  };

  private flush(): void {
    // Node timers have 1 ms granularity and may fire just under the mark.
    const now = performance.now();
    const horizon = now + 0.5;
    for (let next = this.queue.peek(); next !== undefined && next.at <= horizon; next = this.queue.peek()) {
      this.queue.pop();
      if (!this.forward(next.data)) continue;
      const late = Math.max(0, now - next.at);
      this.lateSumMs += late;
      if (late > this.lateMaxMs) this.lateMaxMs = late;
      this.impairment.stats.deliveredDatagrams++;
      this.impairment.stats.deliveredBytes += next.data.length;
    }
    const next = this.queue.peek();
    if (next === undefined || next.at >= this.timerAt) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = next.at;
    this.timer = setTimeout(this.onTimer, Math.max(0, next.at - performance.now()));
  }
}

interface Client {
  /** The upstream socket: the client's address as the target sees it. */
  socket: dgram.Socket;
  /** Upstream sockets `rebind` replaced, kept bound (and deaf) until the client is dropped. */
  readonly retired: dgram.Socket[];
  readonly up: Pipe;
  readonly down: Pipe;
  lastActive: number;
}

function socketType(host: string): dgram.SocketType {
  return isIP(host) === 6 ? 'udp6' : 'udp4';
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/**
 * Starts a UDP relay that forwards datagrams between clients and one target
 * through the same impairment model as the simulator, with real time. Each
 * client gets its own upstream socket, so the target sees one address per
 * client and replies find their way back.
 */
export async function startLossyRelay(options: LossyRelayOptions): Promise<LossyRelay> {
  const link = checkedLinkConfig(options);
  const listenHost = options.listenHost ?? '127.0.0.1';
  const targetHost = options.targetHost ?? '127.0.0.1';
  const targetPort = options.targetPort;
  const maxClients = options.maxClients ?? 10_000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  const buffers = options.socketBufferBytes !== undefined ? { recvBufferSize: options.socketBufferBytes, sendBufferSize: options.socketBufferBytes } : {};
  if (!(Number.isInteger(targetPort) && targetPort > 0 && targetPort <= 65535)) {
    throw new RangeError(`targetPort must be an integer in 1..65535, got ${targetPort}`);
  }
  const upstreamBindHost = isLoopback(targetHost) ? (socketType(targetHost) === 'udp6' ? '::1' : '127.0.0.1') : undefined;
  const targetIsIp = isIP(targetHost) !== 0;

  const clients = new Map<PeerAddress, Client>();
  const retiredUp: MutableLinkStats = emptyLinkStats();
  const retiredDown: MutableLinkStats = emptyLinkStats();
  let clientCounter = 0;
  let expiredClients = 0;
  let rejectedDatagrams = 0;
  let droppedPartition = 0;
  let retiredLateSumMs = 0;
  let retiredLateMaxMs = 0;
  let partitioned = false;
  let closed = false;

  const main = dgram.createSocket({ type: socketType(listenHost), ...buffers });
  const closeSocket = (socket: dgram.Socket): Promise<void> =>
    new Promise((resolve) => {
      try {
        socket.close(() => resolve());
      } catch {
        resolve(); // already closed
      }
    });
  const safeSend = (socket: dgram.Socket, data: Uint8Array, port: number, host: string): boolean => {
    if (partitioned) {
      droppedPartition++;
      return false;
    }
    if (closed) return true;
    try {
      socket.send(data, port, host, () => {});
    } catch {
      // The socket was closed under us (client expiry); the datagram is lost, as on a real network.
    }
    return true;
  };

  const dropClient = (key: PeerAddress, client: Client): Promise<void> => {
    clients.delete(key);
    client.up.stop();
    client.down.stop();
    addLinkStats(retiredUp, client.up.impairment.stats);
    addLinkStats(retiredDown, client.down.impairment.stats);
    for (const pipe of [client.up, client.down]) {
      retiredLateSumMs += pipe.lateSumMs;
      retiredLateMaxMs = Math.max(retiredLateMaxMs, pipe.lateMaxMs);
    }
    return Promise.all([client.socket, ...client.retired].map(closeSocket)).then(() => undefined);
  };

  /** A bound upstream socket for `client` whose answers from the target go down its pipe while it is the client's socket. */
  const upstreamSocket = (client: () => Client): dgram.Socket => {
    const socket = dgram.createSocket({ type: socketType(targetHost), ...buffers });
    socket.on('error', () => {});
    socket.bind({ port: 0, ...(upstreamBindHost !== undefined ? { address: upstreamBindHost } : {}) });
    socket.on('message', (msg, rinfo) => {
      const c = client();
      // Only the target may answer through a client's upstream socket, and only through its current one.
      if (socket !== c.socket || rinfo.port !== targetPort || (targetIsIp && rinfo.address !== targetHost)) return;
      if (partitioned) {
        droppedPartition++;
        return;
      }
      c.lastActive = performance.now();
      c.down.push(msg);
    });
    return socket;
  };

  const clientFor = (host: string, port: number): Client | undefined => {
    const key = formatAddress(host, port);
    const existing = clients.get(key);
    if (existing !== undefined) return existing;
    if (clients.size >= maxClients) return undefined;
    const n = clientCounter++;
    const client: Client = {
      socket: upstreamSocket(() => client),
      retired: [],
      up: new Pipe(new LinkImpairment(link, deriveRandom(options.seed, `relay:${n}:up`)), (d) =>
        safeSend(client.socket, d, targetPort, targetHost),
      ),
      down: new Pipe(new LinkImpairment(link, deriveRandom(options.seed, `relay:${n}:down`)), (d) =>
        safeSend(main, d, port, host),
      ),
      lastActive: performance.now(),
    };
    clients.set(key, client);
    return client;
  };

  main.on('message', (msg, rinfo) => {
    if (partitioned) {
      droppedPartition++;
      return;
    }
    const client = clientFor(rinfo.address, rinfo.port);
    if (client === undefined) {
      rejectedDatagrams++;
      return;
    }
    client.lastActive = performance.now();
    client.up.push(msg);
  });

  await new Promise<void>((resolve, reject) => {
    main.once('error', reject);
    main.bind({ port: options.listenPort ?? 0, address: listenHost }, () => {
      main.off('error', reject);
      main.on('error', () => {});
      resolve();
    });
  });

  const sweep = setInterval(
    () => {
      const cutoff = performance.now() - idleTimeoutMs;
      for (const [key, client] of clients) {
        if (client.lastActive < cutoff && client.up.pending === 0 && client.down.pending === 0) {
          expiredClients++;
          void dropClient(key, client);
        }
      }
    },
    Math.max(10, Math.min(idleTimeoutMs / 2, 10_000)),
  );
  sweep.unref();

  return {
    port: main.address().port,
    stats: () => {
      const up = addLinkStats(emptyLinkStats(), retiredUp);
      const down = addLinkStats(emptyLinkStats(), retiredDown);
      let pending = 0;
      let lateSumMs = retiredLateSumMs;
      let lateMaxMs = retiredLateMaxMs;
      for (const c of clients.values()) {
        addLinkStats(up, c.up.impairment.stats);
        addLinkStats(down, c.down.impairment.stats);
        pending += c.up.pending + c.down.pending;
        for (const pipe of [c.up, c.down]) {
          lateSumMs += pipe.lateSumMs;
          lateMaxMs = Math.max(lateMaxMs, pipe.lateMaxMs);
        }
      }
      const forwarded = up.deliveredDatagrams + down.deliveredDatagrams;
      const lateness = { meanMs: forwarded > 0 ? lateSumMs / forwarded : 0, maxMs: lateMaxMs };
      return { clients: clients.size, expiredClients, rejectedDatagrams, pending, droppedPartition, lateness, clientToServer: up, serverToClient: down };
    },
    setPartitioned: (cut) => {
      partitioned = cut;
    },
    get partitioned() {
      return partitioned;
    },
    rebind: async () => {
      if (closed) return;
      const bound: Promise<unknown>[] = [];
      for (const client of clients.values()) {
        const socket = upstreamSocket(() => client);
        bound.push(once(socket, 'listening'));
        client.retired.push(client.socket);
        client.socket = socket;
      }
      await Promise.all(bound);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      clearInterval(sweep);
      const closing = [...clients].map(([key, client]) => dropClient(key, client));
      closing.push(closeSocket(main));
      await Promise.all(closing);
    },
  };
}
