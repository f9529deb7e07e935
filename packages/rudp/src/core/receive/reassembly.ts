/**
 * The receiving side of the message stream: fragments of any message in any
 * order, duplicates ignored, whole messages released strictly in id order.
 * Memory is bounded by the receive window: a fragment that would push the
 * buffered bytes past it is refused (an honest sender never sends one).
 */
import type { FragmentFrame } from '../../wire/frame.js';

interface Partial {
  readonly buf: Uint8Array;
  readonly seen: Set<number>;
  received: number;
}

/** Most message ids ahead of the next one to deliver that we track. */
export const MAX_MESSAGES_AHEAD = 65_536;

/** Outcome of accepting a fragment. */
export type FragmentResult = 'new' | 'duplicate' | 'refused';

/** Reassembles messages and releases them in order. */
export class Reassembly {
  private readonly partial = new Map<number, Partial>();
  private readonly complete = new Map<number, Uint8Array>();
  /**
   * The complete messages `nextId`, `nextId + 1`, … without a gap, from
   * `runHead` on, oldest first: in-order arrival (nearly all of it, and a
   * whole burst of it before the application reads) costs no map insert and
   * delete per message. `complete` holds only messages after a gap.
   */
  private run: (Uint8Array | undefined)[] = [];
  private runHead = 0;
  private nextId = 0;
  /** Bytes held in partial and complete-but-undelivered messages. */
  buffered = 0;

  constructor(private readonly window: number) {}

  /** Accepts a fragment. */
  accept(f: FragmentFrame): FragmentResult {
    const id = f.messageId;
    if (this.isWhole(id)) return 'duplicate';
    if (id - this.nextId >= MAX_MESSAGES_AHEAD) return 'refused';
    let p = this.partial.get(id);
    if (!p && f.offset === 0 && f.data.length === f.messageLength) {
      // The common case, a message in one fragment: no partial state, at most one copy.
      if (this.buffered + f.messageLength > this.window) return 'refused';
      this.store(id, keepable(f.data));
      this.buffered += f.messageLength;
      return 'new';
    }
    if (!p) {
      if (this.buffered + f.messageLength > this.window) return 'refused';
      p = { buf: new Uint8Array(f.messageLength), seen: new Set(), received: 0 };
      this.partial.set(id, p);
      this.buffered += f.messageLength;
    } else if (p.buf.length !== f.messageLength) {
      return 'refused';
    }
    if (p.seen.has(f.offset)) return 'duplicate';
    if (f.data.length === 0 && f.messageLength !== 0) return 'duplicate';
    p.seen.add(f.offset);
    p.buf.set(f.data, f.offset);
    p.received += f.data.length;
    if (p.received >= f.messageLength) {
      this.partial.delete(id);
      this.store(id, p.buf);
    }
    return 'new';
  }

  /** Whether message `id` arrived whole (delivered or waiting for its turn). */
  isWhole(id: number): boolean {
    return id < this.firstMissing() || this.complete.has(id);
  }

  /** The lowest id not yet whole: every message below it has arrived (the run never leaves a whole one behind it). */
  firstMissing(): number {
    return this.nextId + this.run.length - this.runHead;
  }

  /** Whether the next message in order is complete. */
  hasNext(): boolean {
    return this.runHead < this.run.length;
  }

  /** The next message in order, if it is complete. */
  pop(): Uint8Array | undefined {
    if (this.runHead >= this.run.length) return undefined;
    const m = this.run[this.runHead] as Uint8Array;
    this.run[this.runHead++] = undefined;
    if (this.runHead === this.run.length) {
      this.run.length = 0;
      this.runHead = 0;
    } else if (this.runHead > 1024 && this.runHead * 2 > this.run.length) {
      // A reader that never quite catches up must not leave an ever longer trail of read slots.
      this.run.splice(0, this.runHead);
      this.runHead = 0;
    }
    this.nextId++;
    this.buffered -= m.length;
    return m;
  }

  private store(id: number, m: Uint8Array): void {
    let next = this.firstMissing();
    if (id !== next) {
      this.complete.set(id, m);
      return;
    }
    this.run.push(m);
    // The message filled a gap: what waited behind it joins the run.
    for (let w = this.complete.get(++next); w !== undefined; w = this.complete.get(++next)) {
      this.complete.delete(next);
      this.run.push(w);
    }
  }
}

/**
 * The bytes of a whole-message fragment, for the application to keep as long
 * as it likes. A view when the fragment is most of its buffer (a received
 * datagram, which the driver hands over for good: see
 * `SansIoEndpoint.handleDatagram`): a copy of a 1 KB message is a new
 * off-heap buffer per message, the largest single cost of receiving them.
 * Otherwise a copy, so a kept small message never pins a large buffer (a
 * datagram full of small messages, or a 64 KiB slab in the simulator).
 */
function keepable(data: Uint8Array): Uint8Array {
  return data.length * 2 >= data.buffer.byteLength ? data : data.slice();
}
