/**
 * Attack round 16: a UDP relay between one client and the server whose
 * server-to-client direction is a bottleneck (a rate, a tail-drop queue of
 * so many bytes, a one-way delay), as the narrow link of a real path is;
 * the client-to-server direction only takes the delay. It counts what the
 * server sent towards the client (offered to the bottleneck) and what the
 * bottleneck carried, so a script compares the server's send rate with the
 * path's. The relay's upstream socket is the address the server sees; it can
 * also send datagrams of the script's own from there (a replay).
 */
import dgram from 'node:dgram';

/** The bottleneck's shape. */
export interface BottleneckShape {
  /** Server-to-client rate, bytes a second. */
  readonly rateBytesPerS: number;
  /** Tail-drop queue, bytes (a datagram that would not fit is dropped). */
  readonly queueBytes: number;
  /** One-way delay each way, ms. */
  readonly delayMs: number;
  /** More delay client-to-server, ms (a client holding its ACKs back). */
  readonly upExtraDelayMs?: number;
}

/** What the relay counted since its start (or the last `mark`). */
export interface BottleneckCounts {
  /** Bytes and datagrams the server sent towards the client. */
  offeredBytes: number;
  offeredDatagrams: number;
  /** Bytes the bottleneck delivered to the client. */
  carriedBytes: number;
  /** Datagrams the queue dropped. */
  dropped: number;
  /** Bytes and datagrams from the client towards the server. */
  upBytes: number;
  upDatagrams: number;
  /** Bytes and datagrams the relay sent the server from the victim's socket, and what the server sent the victim. */
  fromVictimBytes: number;
  toVictimBytes: number;
  toVictimDatagrams: number;
}

/** A running bottleneck relay. */
export interface Bottleneck {
  /** The port the client connects to (127.0.0.1). */
  readonly port: number;
  readonly counts: BottleneckCounts;
  /** Every client datagram, while `recording` is set. */
  readonly recorded: Buffer[];
  recording: boolean;
  /**
   * Above 0: every client datagram is also sent from a third socket, the victim's (an address whose
   * source an attacker forges), this many ms ahead of the genuine one; the victim never answers.
   */
  raceFromVictimMs: number;
  /** Every client datagram is sent from the victim's socket only (the attacker rewrites the source; the genuine path carries nothing up). */
  victimOnly: boolean;
  /** Sends `bytes` to the server from the relay's upstream socket (the client's address as the server sees it). */
  inject(bytes: Uint8Array): void;
  /** The counts since the last `mark` (or the start), and zeroes them. */
  mark(): BottleneckCounts;
  close(): void;
}

const zero = (): BottleneckCounts => ({ offeredBytes: 0, offeredDatagrams: 0, carriedBytes: 0, dropped: 0, upBytes: 0, upDatagrams: 0, fromVictimBytes: 0, toVictimBytes: 0, toVictimDatagrams: 0 });

/** `a` and `b` added field by field. */
export const sumCounts = (a: BottleneckCounts, b: BottleneckCounts): BottleneckCounts => {
  const out = zero();
  for (const k of Object.keys(out) as (keyof BottleneckCounts)[]) out[k] = a[k] + b[k];
  return out;
};

/** Starts a bottleneck relay to the server at 127.0.0.1:`serverPort`. */
export const startBottleneck = async (serverPort: number, shape: BottleneckShape): Promise<Bottleneck> => {
  const front = dgram.createSocket('udp4');
  const up = dgram.createSocket('udp4');
  const victim = dgram.createSocket('udp4');
  for (const s of [front, up, victim]) await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  let client: { address: string; port: number } | undefined;
  let counts = zero();
  const recorded: Buffer[] = [];
  const queue: Buffer[] = [];
  let queued = 0;
  let draining = false;
  let closed = false;
  // The link serialises one datagram at a time: the next leaves `size / rate` after the previous, so a
  // sender faster than the rate fills the queue, then loses what does not fit.
  let linkFreeAt = 0;
  const drain = (): void => {
    // Every datagram whose turn on the link has come leaves now: a timer a datagram would hold the link to
    // Node's timer resolution (about 1 ms each), far below the rate at small datagrams.
    const now = performance.now();
    while (queue.length > 0 && !closed && Math.max(now, linkFreeAt) <= now + 1) {
      const m = queue.shift() as Buffer;
      queued -= m.length;
      const c = client;
      counts.carriedBytes += m.length;
      setTimeout(() => c !== undefined && !closed && front.send(m, c.port, c.address), shape.delayMs);
      linkFreeAt = Math.max(now, linkFreeAt) + (m.length / shape.rateBytesPerS) * 1000;
    }
    if (queue.length === 0 || closed) {
      draining = false;
      return;
    }
    setTimeout(drain, Math.max(0, linkFreeAt - now - 1));
  };
  up.on('message', (m) => {
    counts.offeredBytes += m.length;
    counts.offeredDatagrams++;
    if (queued + m.length > shape.queueBytes) {
      counts.dropped++;
      return;
    }
    queue.push(m);
    queued += m.length;
    if (!draining) {
      draining = true;
      drain();
    }
  });
  victim.on('message', (m) => {
    counts.toVictimBytes += m.length;
    counts.toVictimDatagrams++;
  });
  const state = {
    port: (front.address() as { port: number }).port,
    recorded,
    recording: false,
    raceFromVictimMs: 0,
    victimOnly: false,
    get counts(): BottleneckCounts {
      return counts;
    },
    inject: (bytes: Uint8Array): void => void (!closed && up.send(bytes, serverPort, '127.0.0.1')),
    mark: (): BottleneckCounts => {
      const c = counts;
      counts = zero();
      return c;
    },
    close: (): void => {
      closed = true;
      front.close();
      up.close();
      victim.close();
    },
  };
  front.on('message', (m, rinfo) => {
    client = { address: rinfo.address, port: rinfo.port };
    counts.upBytes += m.length;
    counts.upDatagrams++;
    if (state.recording) recorded.push(Buffer.from(m));
    const delay = shape.delayMs + (shape.upExtraDelayMs ?? 0);
    if (state.victimOnly) {
      counts.fromVictimBytes += m.length;
      setTimeout(() => !closed && victim.send(m, serverPort, '127.0.0.1'), delay);
      return;
    }
    if (state.raceFromVictimMs > 0) {
      counts.fromVictimBytes += m.length;
      setTimeout(() => !closed && victim.send(m, serverPort, '127.0.0.1'), Math.max(0, delay - state.raceFromVictimMs));
    }
    setTimeout(() => !closed && up.send(m, serverPort, '127.0.0.1'), delay);
  });
  return state;
};
