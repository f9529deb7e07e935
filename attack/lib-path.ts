/**
 * Attack round 21: a userspace path between one forum-client and the server
 * (no netem in this kernel), whose impairments change while a session runs.
 *
 * The client talks to `front` (127.0.0.1); the relay talks to the server from
 * an upstream socket it can replace (a NAT rebinding: a new port, or a new
 * address among 127.0.0.1 / 127.0.0.2). Each direction has its own
 * {@link Impairment}: loss, a size limit (a path MTU), duplication, delay with
 * jitter (reordering), truncation, a flipped byte. `outage` drops everything
 * both ways. Counters say what was offered, carried and dropped each way.
 */
import dgram from 'node:dgram';
import net, { type AddressInfo } from 'node:net';

/** What one direction of the path does to a datagram; every field optional, all off by default. */
/** Polls `f` every 20 ms until it holds or `ms` have passed; whether it held. */
export const waitFor = async (f: () => boolean, ms: number): Promise<boolean> => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (f()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return f();
};

export interface Impairment {
  /** Probability a datagram is dropped. */
  loss?: number;
  /** Datagrams longer than this are dropped (a path MTU less the IP and UDP headers). */
  maxSize?: number;
  /** Probability a datagram is sent twice (each copy delayed on its own). */
  dup?: number;
  /** A delay of `delayMs` + up to `jitterMs` (uniform) per datagram: jitter larger than the spacing reorders. */
  delayMs?: number;
  jitterMs?: number;
  /** Datagrams longer than this are cut to it (a middlebox that truncates). */
  truncateTo?: number;
  /** Probability one byte at an offset in [flipFrom, flipTo) is XORed with 0x01..0xff. */
  flip?: number;
  flipFrom?: number;
  flipTo?: number;
}

/** Counts of one direction. */
export interface DirectionCounts {
  offered: number;
  carried: number;
  dropped: number;
  tooLarge: number;
  duplicated: number;
  truncated: number;
  flipped: number;
  largest: number;
}

const counts = (): DirectionCounts => ({ offered: 0, carried: 0, dropped: 0, tooLarge: 0, duplicated: 0, truncated: 0, flipped: 0, largest: 0 });

/** The relay: its front port, its impairments (mutable), the rebinding, counters. */
export interface PathRelay {
  readonly port: number;
  /** Client → server. */
  up: Impairment;
  /** Server → client. */
  down: Impairment;
  /** Drop everything both ways while true. */
  outage: boolean;
  readonly upCounts: DirectionCounts;
  readonly downCounts: DirectionCounts;
  /** The upstream address the server sees now. */
  upstream(): { address: string; port: number };
  /** Rebindings so far. */
  rebinds(): number;
  /** Replaces the upstream socket by one on `address` (a new port; a new IP address when it differs), the old one closed. */
  rebind(address?: string): Promise<void>;
  close(): void;
}

const bindSocket = (address: string): Promise<dgram.Socket> =>
  new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(0, address, () => {
      s.removeListener('error', reject);
      s.on('error', () => undefined);
      resolve(s);
    });
  });

/** Applies `imp` to `m`, calling `send` for each copy that survives (after its delay). */
const impair = (m: Buffer, imp: Impairment, c: DirectionCounts, outage: boolean, send: (b: Buffer) => void): void => {
  c.offered++;
  if (outage || (imp.loss !== undefined && Math.random() < imp.loss)) return void c.dropped++;
  if (imp.maxSize !== undefined && m.length > imp.maxSize) {
    c.tooLarge++;
    return;
  }
  const copies = imp.dup !== undefined && Math.random() < imp.dup ? 2 : 1;
  if (copies === 2) c.duplicated++;
  for (let k = 0; k < copies; k++) {
    let b = m;
    if (imp.truncateTo !== undefined && b.length > imp.truncateTo) {
      b = b.subarray(0, imp.truncateTo);
      c.truncated++;
    }
    if (imp.flip !== undefined && Math.random() < imp.flip) {
      b = Buffer.from(b);
      const from = imp.flipFrom ?? 0;
      const to = Math.min(imp.flipTo ?? b.length, b.length);
      const at = from + Math.floor(Math.random() * Math.max(1, to - from));
      if (at < b.length) b[at] = (b[at] ?? 0) ^ (1 + Math.floor(Math.random() * 255));
      c.flipped++;
    }
    c.carried++;
    c.largest = Math.max(c.largest, b.length);
    const wait = (imp.delayMs ?? 0) + (imp.jitterMs === undefined ? 0 : Math.random() * imp.jitterMs);
    if (wait <= 0) send(b);
    else setTimeout(() => send(b), wait);
  }
};

/** Starts a relay in front of the server at 127.0.0.1:`serverPort`, its upstream on `upstreamAddress`. */
export const startPathRelay = async (serverPort: number, upstreamAddress = '127.0.0.1'): Promise<PathRelay> => {
  const front = await bindSocket('127.0.0.1');
  let client: { address: string; port: number } | undefined;
  let rebindCount = 0;
  const r: PathRelay = {
    port: (front.address() as AddressInfo).port,
    up: {},
    down: {},
    outage: false,
    upCounts: counts(),
    downCounts: counts(),
    upstream: () => {
      const a = up.address() as AddressInfo;
      return { address: a.address, port: a.port };
    },
    rebinds: () => rebindCount,
    rebind: async (address = (up.address() as AddressInfo).address) => {
      const old = up;
      up = await attach(await bindSocket(address));
      rebindCount++;
      old.close();
    },
    close: () => {
      front.close();
      up.close();
    },
  };
  const attach = (s: dgram.Socket): dgram.Socket => {
    s.on('message', (m) => {
      const c = client;
      if (c === undefined || s !== up) return;
      impair(m, r.down, r.downCounts, r.outage, (b) => front.send(b, c.port, c.address));
    });
    return s;
  };
  let up = attach(await bindSocket(upstreamAddress));
  front.on('message', (m, rinfo) => {
    client = { address: rinfo.address, port: rinfo.port };
    // The socket in use when the datagram left the client: a rebinding meanwhile sends it from the new one.
    impair(m, r.up, r.upCounts, r.outage, (b) => {
      try {
        up.send(b, serverPort, '127.0.0.1');
      } catch {
        // closed at the end
      }
    });
  });
  return r;
};

/** A TCP proxy in front of the server's transfer port, whose connections can be cut (reset) or silenced (black hole). */
export interface TcpPath {
  readonly port: number;
  /** Connections so far. */
  connections(): number;
  /** Resets every connection both ways (a NAT that rebooted: its next packet answered by RST). */
  reset(): void;
  /** From now on nothing passes either way and nothing is said (a mapping gone silent); `false` lets it pass again. */
  blackHole(on: boolean): void;
  close(): void;
}

/** Starts a TCP proxy on 127.0.0.1 to 127.0.0.1:`targetPort`. */
export const startTcpPath = async (targetPort: number): Promise<TcpPath> => {
  const pairs = new Set<readonly [net.Socket, net.Socket]>();
  let holes = false;
  let count = 0;
  // Half-open kept: a client that ends its side after the last byte of an upload still reads the answer.
  const server = net.createServer({ allowHalfOpen: true }, (front) => {
    count++;
    const back = net.connect({ port: targetPort, host: '127.0.0.1', allowHalfOpen: true });
    const pair = [front, back] as const;
    pairs.add(pair);
    for (const s of pair) {
      s.on('error', () => undefined);
      s.on('close', () => pairs.delete(pair));
    }
    // Forwarded by hand so that a black hole can stop reading (a pipe resumes its source at each drain).
    const forward = (from: net.Socket, to: net.Socket): void => {
      from.on('data', (d: Buffer) => void (to.write(d) || from.pause()));
      to.on('drain', () => void (holes || from.resume()));
    };
    forward(front, back);
    forward(back, front);
    if (holes) for (const s of pair) s.pause();
    front.on('end', () => back.end());
    back.on('end', () => front.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => count,
    reset: () => {
      for (const [a, b] of pairs) {
        a.resetAndDestroy();
        b.resetAndDestroy();
      }
    },
    // Nothing read either way: the kernel buffers fill and both senders stall, as when a path drops every segment.
    blackHole: (on) => {
      holes = on;
      for (const pair of pairs) for (const s of pair) if (on) s.pause();
      else s.resume();
    },
    close: () => {
      server.close();
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
    },
  };
};

/** The loss cases of `sim-vs-real.ts` and `forum-under-loss.ts`: the fraction of datagrams lost server → client (`down`) and client → server (`up`). */
export const LOSS_CASES: Readonly<Record<string, { readonly down: number; readonly up: number }>> = {
  clean: { down: 0, up: 0 },
  data30: { down: 0.3, up: 0 },
  data50: { down: 0.5, up: 0 },
  ack50: { down: 0, up: 0.5 },
  both30: { down: 0.3, up: 0.3 },
};
