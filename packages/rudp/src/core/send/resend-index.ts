/**
 * The resend queue's entries of each one-chunk message, so that a lost
 * packet's chunk finds what already waits for it without a scan of the
 * queue. The queue asks for every chunk of every lost packet: with tens of
 * thousands of small messages in flight through an outage, a scan of the
 * queue per chunk was quadratic (bench/src/tools/outage-resend-cpu.ts,
 * messages of 8 bytes written at once, both ways down for 2 s: 20,000 of
 * them 1.26–1.46 s of CPU with the scan, 1.03–1.13 s without; 50,000
 * 2.5–2.6 s, 1.8–1.9 s).
 *
 * Only one-chunk messages (the queue asks about no others) and no tail
 * copies (optional, they never count as waiting). A message's chunk count
 * never changes once it was sent, and only sent messages are queued, so an
 * entry is indexed on the way out exactly when it was on the way in. The
 * queue tells this index (through its tally, queue-tally.ts) of every entry
 * it adds and every one it drops, and holds one only while it has entries
 * (an idle connection keeps none).
 */
import type { ChunkRef, OutgoingMessage } from './outgoing-message.js';

/** What the queue holds of a chunk, not sent yet: a resend due now (or held for repairs), only spaced copies due later, or nothing. */
export type Waiting = 'resend' | 'copy' | undefined;

/** The queued entries of one-chunk messages, by message. */
export class ResendIndex {
  private readonly byMessage = new Map<OutgoingMessage, ChunkRef[]>();

  /** Whether the index keeps entry `r`: one of a one-chunk message, not a tail copy. */
  static keeps(r: ChunkRef): boolean {
    return r.tail !== true && r.message.chunkCount === 1;
  }

  /** Entry `r` (one it keeps) joined the queue. */
  add(r: ChunkRef): void {
    const list = this.byMessage.get(r.message);
    if (list === undefined) this.byMessage.set(r.message, [r]);
    else list.push(r);
  }

  /** Entry `r` (one it keeps) left the queue (sent, or without a purpose any more); returns whether the index is empty now. */
  remove(r: ChunkRef): boolean {
    const list = this.byMessage.get(r.message);
    const i = list === undefined ? -1 : list.indexOf(r);
    if (list !== undefined && i >= 0) {
      // Order does not matter here: the last one takes its place.
      const last = list.pop() as ChunkRef;
      if (i < list.length) list[i] = last;
      if (list.length === 0) this.byMessage.delete(r.message);
    }
    return this.byMessage.size === 0;
  }

  /** What the queue holds of chunk `c` of a one-chunk message at `now`. */
  waitingFor(now: number, c: ChunkRef): Waiting {
    const list = this.byMessage.get(c.message);
    if (list === undefined) return undefined;
    let found: Waiting;
    for (let i = 0; i < list.length; i++) {
      const r = list[i] as ChunkRef;
      if (r.index !== c.index || r.piece !== c.piece) continue;
      if (r.notBefore <= now) return 'resend';
      found = 'copy';
    }
    return found;
  }
}
