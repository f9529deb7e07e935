/**
 * Per-connection marks that hold times (fractional ms) or `Infinity` only once something happens on
 * the connection: the pacer's block, the path MTU search's next start (`Infinity` once the ceiling is
 * reached), the reordering window (widened by a spurious loss), the repair decoder's last repair. One
 * connection where they happened must not box them in every idle connection, whose marks are still 0
 * (see helpers/field-boxing.ts). A file of its own, as the helper asks.
 */
import { describe, expect, it } from 'vitest';
import { Reassembly } from '../../src/core/receive/reassembly.js';
import { RttEstimator } from '../../src/core/recovery/rtt.js';
import { RepairReceiver } from '../../src/core/repair/repair-receiver.js';
import { Pacer } from '../../src/core/send/pacer.js';
import { PathMtu } from '../../src/core/send/path-mtu.js';
import { heapGrowthPerObject } from '../helpers/field-boxing.js';
import { RecordingController } from './fixtures.js';
import { ack, rig, send, type Rig } from './loss-detection-rig.js';

const MTU = 1_200;
const reassembly = new Reassembly(1 << 20);
const rtt = new RttEstimator();
rtt.update(40.5, 0);
const cc = new RecordingController(100_000, 10.5);

interface Marks {
  readonly pacer: Pacer;
  readonly pmtu: PathMtu;
  readonly recovery: Rig;
  readonly repairs: RepairReceiver;
}

function marks(): Marks {
  return { pacer: new Pacer(MTU, cc, rtt, 0.5), pmtu: new PathMtu(MTU, 1_452), recovery: rig(), repairs: new RepairReceiver(reassembly) };
}

/** Objects measured: a box a field (16 B each) is still 1.6 MB against a noise of a few hundred KB at most. */
const COUNT = 100_000;

describe('time marks: one connection where they were set', () => {
  it('boxes none in the idle connections (no heap grows per connection)', () => {
    const perObject = heapGrowthPerObject<Marks>({
      make: () => {
        // An idle connection: a packet or two sent and acknowledged in order.
        const m = marks();
        send(m.recovery, 1, 1.25);
        m.recovery.ld.onAck(42.5, ack([[1, 1]]), 1);
        m.pacer.refill(42.5);
        return m;
      },
      read: (m) => m.pacer.deadline(50.5) + m.pmtu.current + m.recovery.ld.reorderDelayMs + (m.repairs.keeping ? 1 : 0),
      push: () => {
        const busy = marks();
        // Paced with data waiting.
        busy.pacer.refill(10.25);
        busy.pacer.block(10.25, true);
        // A search that reaches the ceiling (its next start: never).
        let pn = 1;
        let now = 0.5;
        for (let size = busy.pmtu.probeDue(now, true); size !== undefined; size = busy.pmtu.probeDue(now, true)) {
          busy.pmtu.onProbeSent(now, pn, size);
          busy.pmtu.onAck(now + 40.5, [{ lo: pn, hi: pn }]);
          now += 300.25;
          pn++;
        }
        expect(busy.pmtu.current).toBe(1_452);
        // A packet declared lost by the packet threshold, then acknowledged after all (reordering).
        for (let p = 1; p <= 5; p++) send(busy.recovery, p, 0.25 * p);
        busy.recovery.ld.onAck(45.75, ack([[5, 5]]), 5);
        busy.recovery.ld.onAck(46.25, ack([[5, 5], [1, 1]]), 5);
        expect(busy.recovery.ld.reorderDelayMs).toBeGreaterThan(0);
        // A gap the repair decoder starts at.
        busy.repairs.prepare(false, 47.75);
        expect(busy.repairs.keeping).toBe(true);
      },
    }, COUNT);
    expect(perObject).toBeLessThan(8);
  });
});
