/**
 * The packet log and tail classification of `chat-anatomy.ts`, shared with
 * `relay-chat-anatomy.ts` (the same classes over real sockets): a `Tap`
 * wraps a rudp endpoint and logs every DATA packet it sends and when it
 * arrives; `tailClassifier` names why a message was late.
 */
import { parseFrames, parseHeader, PacketType, type Frame } from 'rudpx/core';
import { makePayload, parsePayload } from '../integrity/payload.js';
import type { MessageConnection, MessageEndpoint, MessageEvent } from '../peers/message-endpoint.js';
import type { PeerAddress, Transmit } from '../lib/rudp-imports.js';
import type { Side, SimPair } from '../sim/sim-pair.js';
import { CHAT } from '../scenarios/chat.js';

export interface PacketLog {
  readonly from: Side;
  readonly pn: number;
  readonly sentAt: number;
  arrivedAt: number | undefined;
  readonly size: number;
  readonly frames: readonly Frame[];
  /** Payload seqs of whole messages it carried. */
  readonly seqs: readonly number[];
}

/** Wraps an endpoint: logs what it sends and what reaches it. */
export class Tap implements MessageEndpoint {
  /** When the last datagram reached this endpoint (a message is delivered at the arrival that completes it). */
  lastArrivalAt = Number.NaN;
  constructor(
    private readonly inner: MessageEndpoint,
    private readonly side: Side,
    private readonly log: Map<string, PacketLog>,
    private readonly all: PacketLog[],
  ) {}
  connect(now: number, to: PeerAddress): MessageConnection {
    return this.inner.connect(now, to);
  }
  pollEvent(): MessageEvent | undefined {
    return this.inner.pollEvent();
  }
  handleDatagram(now: number, data: Uint8Array, from: PeerAddress): void {
    this.lastArrivalAt = now;
    const h = parseHeader(data);
    if (typeof h !== 'string') {
      const e = this.log.get(`${this.side === 'client' ? 'server' : 'client'}:${h.pn}:${data.length}`);
      if (e !== undefined && e.arrivedAt === undefined) e.arrivedAt = now;
    }
    this.inner.handleDatagram(now, data, from);
  }
  pollTransmit(now: number): Transmit | undefined {
    const t = this.inner.pollTransmit(now);
    if (t === undefined) return t;
    const h = parseHeader(t.data);
    if (typeof h !== 'string' && h.type === PacketType.Data) {
      const frames = parseFrames(h.payload) ?? [];
      const seqs: number[] = [];
      for (const f of frames) {
        if (f.type === 'fragment' && f.offset === 0 && f.data.length === f.messageLength) {
          const p = parsePayload(f.data);
          if (p) seqs.push(p.seq);
        }
      }
      const e: PacketLog = { from: this.side, pn: h.pn, sentAt: now, arrivedAt: undefined, size: t.data.length, frames, seqs };
      this.log.set(`${this.side}:${h.pn}:${t.data.length}`, e);
      this.all.push(e);
    }
    return t;
  }
  pollTimeout(): number | undefined {
    return this.inner.pollTimeout();
  }
  handleTimeout(now: number): void {
    this.inner.handleTimeout(now);
  }
}

export interface MessageFate {
  readonly from: Side;
  readonly seq: number;
  /** Writable so a tool can move it to another time base. */
  sentAt: number;
  deliveredAt: number;
}

/** Every packet that carried each message whole, in send order, by `${from}:${seq}`. */
export function carriersByMessage(packets: readonly PacketLog[]): Map<string, PacketLog[]> {
  const bySide = new Map<string, PacketLog[]>();
  for (const p of packets) {
    for (const s of p.seqs) {
      const k = `${p.from}:${s}`;
      const l = bySide.get(k);
      if (l) l.push(p);
      else bySide.set(k, [p]);
    }
  }
  return bySide;
}

/**
 * Why message `m` arrived when it did: held behind an earlier message, its first packet (late by
 * jitter only), a copy or resend (sent how long after the message), or rebuilt from a repair (in the
 * how-many-th packet after its first). A message's delivery time must be the arrival time of the
 * packet that completed it.
 */
export function tailClassifier(packets: readonly PacketLog[], bySide: Map<string, PacketLog[]>): (m: MessageFate) => string {
  const arrivalsAt = new Map<string, PacketLog>();
  for (const p of packets) if (p.arrivedAt !== undefined) arrivalsAt.set(`${p.from}:${p.arrivedAt}`, p);
  return (m: MessageFate): string => {
    const carriers = bySide.get(`${m.from}:${m.seq}`) ?? [];
    const first = carriers[0];
    const arrived = carriers.filter((c) => c.arrivedAt !== undefined && c.arrivedAt <= m.deliveredAt).sort((a, b) => (a.arrivedAt as number) - (b.arrivedAt as number));
    const own = arrived[0];
    if (own !== undefined && (own.arrivedAt as number) < m.deliveredAt - 0.001) return 'held behind an earlier message';
    if (own !== undefined && own === first) return 'first packet (late by jitter only)';
    if (own !== undefined) {
      const after = own.sentAt - m.sentAt;
      const kind = after < 45 ? 'copy' : 'resend';
      const lostCarriers = carriers.filter((c) => c.sentAt < own.sentAt).length;
      return `${kind} sent +${(Math.round(after / 10) * 10).toFixed(0)} ms (${lostCarriers} earlier carriers lost)`;
    }
    const by = arrivalsAt.get(`${m.from}:${m.deliveredAt}`);
    if (by === undefined || first === undefined) return 'rebuilt (packet unknown)';
    return `rebuilt from repair in packet first+${by.pn - first.pn}`;
  };
}

/**
 * Schedules the chat on `pair` from `now`: `n` messages each way, one every
 * `CHAT.intervalMs` (the client's numbered from 1, after the one that opened
 * the connection), each noted in `fates` by `side:seq` as it is sent.
 */
export function scheduleChat(pair: SimPair, now: number, n: number, fates: Map<string, MessageFate>): void {
  for (let i = 0; i < n; i++) {
    pair.sim.schedule(now + i * CHAT.intervalMs, (t) => {
      for (const side of ['client', 'server'] as const) {
        const seq = side === 'client' ? i + 1 : i;
        fates.set(`${side}:${seq}`, { from: side, seq, sentAt: t, deliveredAt: Number.NaN });
        pair.send(side, makePayload(seq, CHAT.messageBytes));
      }
    });
  }
}
