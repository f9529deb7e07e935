/**
 * The queue of messages waiting to be held to the overcommit's minimum pace (connection/timeouts.ts):
 * bounded by the messages still partial, however many began.
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../src/core/connection.js';
import {
  OVERCOMMIT_LEAD_GRACES,
  OVERCOMMIT_PACE_BYTES_PER_S,
  type OvercommitTimer,
  noteOvercommitBegun,
  noteOvercommitProgress,
} from '../../src/core/connection/timeouts.js';

/** The fake connection's grace: the idle timeout and four probe timeouts of 1 s. */
const GRACE = 34_000;

/** A connection as the pace sees it: its timer and which messages are partial (their lengths; `received`: what arrived of each, else 1 byte). */
function fakeConnection(partial: Map<number, number>, received = new Map<number, number>()): { readonly c: Connection; timer(): OvercommitTimer } {
  const c = {
    overcommitTimer: { answer: 1, since: 0, pn: 0, ackedAt: 0 } as OvercommitTimer,
    config: { idleTimeoutMs: 30_000, maxAckDelayMs: 25 },
    rtt: { pto: () => 1_000 },
    reassembly: {
      receivedOf: (id: number) => (partial.has(id) ? (received.get(id) ?? 1) : undefined),
      lengthOf: (id: number) => partial.get(id),
    },
  };
  return { c: c as unknown as Connection, timer: () => c.overcommitTimer };
}

describe('the overcommit pace queue', () => {
  it('keeps only partial messages once it grows: a peer that keeps the paced one partial and begins and completes 10,000 more leaves it short', () => {
    // Before the queue dropped whole messages, it held every message begun while the paced one was partial
    // (here 10,000), each left only as the paced one was whole.
    const partial = new Map<number, number>([[0, 10_000]]);
    const { c, timer } = fakeConnection(partial);
    noteOvercommitBegun(c, 0, 0);
    expect(timer().pace?.message).toBe(0);
    for (let id = 1; id <= 10_000; id++) {
      partial.set(id, 3_000);
      noteOvercommitBegun(c, id, id);
      // The one before is whole now (read by the application).
      partial.delete(id - 1 === 0 ? -1 : id - 1);
    }
    expect(timer().pace?.message).toBe(0);
    expect(timer().pace?.later.ids.length).toBeLessThanOrEqual(64);
  });

  it('paces the next still-partial message once the paced one is whole, on the same pace', () => {
    const partial = new Map<number, number>([[0, 10_000]]);
    const { c, timer } = fakeConnection(partial);
    noteOvercommitBegun(c, 5, 0);
    partial.set(1, 2_000);
    partial.set(2, 50_000);
    noteOvercommitBegun(c, 6, 1);
    noteOvercommitBegun(c, 7, 2);
    partial.delete(1);
    partial.delete(0);
    noteOvercommitProgress(c, 8);
    // Message 1 went whole before it was paced; 2 takes 0's place from 0's first byte, 0's bytes counted.
    expect(timer().pace?.message).toBe(2);
    expect(timer().pace?.since).toBe(5);
    expect(timer().pace?.base).toBe(1 - 10_000);
  });

  it('carries no more than a grace of lead past a fragment, also into the next message paced: a peer that sent 20 MiB at once and then stalls on its 30 MiB message is due two graces after', () => {
    // Before, the pace was an average from the first byte: 20 MiB bought 2.8 h behind it.
    const partial = new Map<number, number>([[0, 20 * 1024 * 1024]]);
    const received = new Map<number, number>();
    const { c, timer } = fakeConnection(partial, received);
    noteOvercommitBegun(c, 0, 0);
    partial.set(1, 30 * 1024 * 1024);
    noteOvercommitBegun(c, 0, 1);
    // Message 0 whole (and 4 KiB of message 1) 2 s later.
    partial.delete(0);
    received.set(1, 4096);
    noteOvercommitProgress(c, 2_000);
    const pace = timer().pace;
    expect(pace?.message).toBe(1);
    const due = (pace?.since ?? 0) + GRACE + ((4096 - (pace?.base ?? 0)) * 1000) / OVERCOMMIT_PACE_BYTES_PER_S;
    expect(due).toBe(2_000 + (1 + OVERCOMMIT_LEAD_GRACES) * GRACE);
    // A fragment that adds little moves the deadline by what it adds, not back to a full lead.
    received.set(1, 4096 + 1024);
    noteOvercommitProgress(c, 60_000);
    const later = timer().pace;
    expect((later?.since ?? 0) + GRACE + ((4096 + 1024 - (later?.base ?? 0)) * 1000) / OVERCOMMIT_PACE_BYTES_PER_S).toBe(due + 500);
  });
});
