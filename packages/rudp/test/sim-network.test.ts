import { describe, expect, it } from 'vitest';
import type { PeerAddress, SansIoEndpoint, Transmit } from '../src/core/sans-io.js';
import { SimNetwork } from '../src/testing/sim-network.js';
import type { LinkConfig } from '../src/testing/impairment.js';

interface Received {
  readonly at: number;
  readonly from: PeerAddress;
  readonly data: Uint8Array;
}

/** Sends whatever the test queues; records whatever arrives. */
class Host implements SansIoEndpoint {
  readonly received: Received[] = [];
  private readonly out: Transmit[] = [];
  queue(to: PeerAddress, data: Uint8Array): void {
    this.out.push({ to, data });
  }
  handleDatagram(now: number, data: Uint8Array, from: PeerAddress): void {
    this.received.push({ at: now, from, data });
  }
  pollTransmit(): Transmit | undefined {
    return this.out.shift();
  }
  pollTimeout(): number | undefined {
    return undefined;
  }
  handleTimeout(): void {}
}

/** Replies to every datagram with the same bytes. */
class Echo implements SansIoEndpoint {
  private readonly out: Transmit[] = [];
  handleDatagram(_now: number, data: Uint8Array, from: PeerAddress): void {
    this.out.push({ to: from, data });
  }
  pollTransmit(): Transmit | undefined {
    return this.out.shift();
  }
  pollTimeout(): number | undefined {
    return undefined;
  }
  handleTimeout(): void {}
}

/** Sends a numbered ping every `interval` ms until `count`; records round trips. */
class Pinger implements SansIoEndpoint {
  readonly rtts: number[] = [];
  private next = 0;
  private sent = 0;
  private readonly sentAt = new Map<number, number>();
  private pending: Transmit | undefined;
  constructor(
    private readonly target: PeerAddress,
    private readonly interval: number,
    private readonly count: number,
    start = 0,
  ) {
    this.next = start;
  }
  handleDatagram(now: number, data: Uint8Array): void {
    const id = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0);
    const t = this.sentAt.get(id);
    if (t !== undefined) {
      this.rtts.push(now - t);
      this.sentAt.delete(id);
    }
  }
  pollTransmit(): Transmit | undefined {
    const p = this.pending;
    this.pending = undefined;
    return p;
  }
  pollTimeout(): number | undefined {
    return this.sent < this.count ? this.next : undefined;
  }
  handleTimeout(now: number): void {
    if (now < this.next || this.sent >= this.count) return;
    const data = new Uint8Array(8);
    new DataView(data.buffer).setUint32(0, this.sent);
    this.sentAt.set(this.sent, now);
    this.pending = { to: this.target, data };
    this.sent++;
    this.next += this.interval;
  }
}

const A = '10.0.0.1:1000';
const B = '10.0.0.2:2000';

function numbered(i: number, size = 8): Uint8Array {
  const d = new Uint8Array(size);
  new DataView(d.buffer).setUint32(0, i);
  return d;
}
const idOf = (d: Uint8Array): number => new DataView(d.buffer, d.byteOffset, d.byteLength).getUint32(0);

/** A sends `n` numbered datagrams to B, one every `gapMs`; returns B's receptions. */
function stream(link: LinkConfig, n: number, gapMs: number, seed = 1): { sim: SimNetwork; got: Received[] } {
  const sim = new SimNetwork({ seed, defaultLink: link });
  const a = new Host();
  const b = new Host();
  sim.addNode(A, a);
  sim.addNode(B, b);
  for (let i = 0; i < n; i++) {
    sim.schedule(i * gapMs, () => {
      a.queue(B, numbered(i));
      sim.wake(A);
    });
  }
  expect(sim.runUntilIdle(1e9)).toBe(true);
  return { sim, got: b.received };
}

describe('SimNetwork links', () => {
  it('keeps one-way delay within delay ± jitter and uses the whole range', () => {
    const { got } = stream({ delayMs: 35, jitterMs: 5 }, 2000, 3);
    expect(got).toHaveLength(2000);
    const delays = got.map((r) => r.at - idOf(r.data) * 3);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(30);
    expect(Math.max(...delays)).toBeLessThanOrEqual(40);
    expect(Math.min(...delays)).toBeLessThan(30.5);
    expect(Math.max(...delays)).toBeGreaterThan(39.5);
  });

  it('is FIFO despite jitter when reorder is 0', () => {
    const { got } = stream({ delayMs: 35, jitterMs: 20 }, 2000, 0.5);
    expect(got.map((r) => idOf(r.data))).toEqual(Array.from({ length: 2000 }, (_, i) => i));
  });

  it('reorders for real when reorder > 0, losing nothing', () => {
    const { sim, got } = stream({ delayMs: 20, jitterMs: 2, reorder: 0.1 }, 2000, 1);
    const ids = got.map((r) => idOf(r.data));
    expect([...ids].sort((x, y) => x - y)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
    let inversions = 0;
    for (let i = 1; i < ids.length; i++) if (ids[i]! < ids[i - 1]!) inversions++;
    expect(inversions).toBeGreaterThan(100);
    expect(sim.linkStats(A, B).reordered).toBeGreaterThan(150);
  });

  it('counts loss, duplication, corruption and truncation per link and in totals', () => {
    const { sim, got } = stream({ loss: 0.2, duplicate: 0.1, corrupt: 0.05, truncate: 0.05 }, 10_000, 1);
    const s = sim.linkStats(A, B);
    expect(s.sentDatagrams).toBe(10_000);
    expect(s.sentBytes).toBe(80_000);
    expect(s.deliveredDatagrams).toBe(got.length);
    expect(s.deliveredDatagrams).toBe(s.sentDatagrams - s.droppedLoss + s.duplicated);
    expect(s.droppedLoss / 10_000).toBeGreaterThan(0.18);
    expect(s.droppedLoss / 10_000).toBeLessThan(0.22);
    expect(s.corrupted).toBeGreaterThan(0);
    expect(s.truncated).toBeGreaterThan(0);
    expect(s.deliveredBytes).toBe(got.reduce((n, r) => n + r.data.length, 0));
    expect(sim.totals()).toEqual(s);
    expect(sim.linkStats(B, A).sentDatagrams).toBe(0);
  });

  it('drops datagrams over the MTU', () => {
    const sim = new SimNetwork({ seed: 1, defaultLink: { mtu: 1200 } });
    const a = new Host();
    const b = new Host();
    sim.addNode(B, b);
    a.queue(B, new Uint8Array(1200));
    a.queue(B, new Uint8Array(1201));
    sim.addNode(A, a);
    sim.runUntilIdle(1000);
    expect(b.received.map((r) => r.data.length)).toEqual([1200]);
    expect(sim.linkStats(A, B).droppedMtu).toBe(1);
  });

  it('moves 1 MB over 10 Mbit/s in ≈ 0.8 s of virtual time', () => {
    const sim = new SimNetwork({ seed: 1, defaultLink: { bandwidthBps: 10_000_000, delayMs: 10 } });
    const a = new Host();
    const b = new Host();
    for (let i = 0; i < 1000; i++) a.queue(B, new Uint8Array(1000));
    sim.addNode(B, b);
    sim.addNode(A, a);
    sim.runUntilIdle(10_000);
    expect(b.received).toHaveLength(1000);
    expect(b.received.at(-1)!.at).toBeCloseTo(810, 6);
    expect(b.received[0]!.at).toBeCloseTo(10.8, 6);
  });

  it('drops at the tail when the bottleneck queue is full', () => {
    const sim = new SimNetwork({ seed: 1, defaultLink: { bandwidthBps: 10_000_000, queueBytes: 64_000 } });
    const a = new Host();
    const b = new Host();
    for (let i = 0; i < 200; i++) a.queue(B, numbered(i, 1000));
    sim.addNode(B, b);
    sim.addNode(A, a);
    sim.runUntilIdle(10_000);
    expect(b.received.map((r) => idOf(r.data))).toEqual(Array.from({ length: 64 }, (_, i) => i));
    expect(sim.linkStats(A, B).droppedQueue).toBe(136);
  });

  it('applies per-direction links over the default', () => {
    const sim = new SimNetwork({ seed: 1, defaultLink: { delayMs: 5 } });
    sim.setLink(B, A, { delayMs: 50 });
    const pinger = new Pinger(B, 100, 3);
    sim.addNode(B, new Echo());
    sim.addNode(A, pinger);
    sim.runUntilIdle(10_000);
    expect(pinger.rtts).toEqual([55, 55, 55]);
    sim.setDefaultLink({ delayMs: 1 });
    sim.setLinks(A, B, { delayMs: 2 });
    expect(sim.defaultLink).toEqual({ delayMs: 1 });
  });

  it('copies sent bytes, so an endpoint may reuse its buffer', () => {
    const sim = new SimNetwork({ seed: 1, defaultLink: { delayMs: 1 } });
    const a = new Host();
    const b = new Host();
    sim.addNode(A, a);
    sim.addNode(B, b);
    const buf = new Uint8Array([1, 2, 3]);
    a.queue(B, buf);
    sim.wake(A);
    buf[0] = 99;
    sim.runUntilIdle(100);
    expect(Array.from(b.received[0]!.data)).toEqual([1, 2, 3]);
  });

  it('with receiveBatchMs, reads the datagrams that arrived within the window together, then drains once (a socket read in batches)', () => {
    // 1,000-byte datagrams at 80 Mbit/s: one every 0.1 ms, the first at 1.1 ms.
    const sim = new SimNetwork({ seed: 1, defaultLink: { delayMs: 1, bandwidthBps: 80e6 } });
    const a = new Host();
    const b = new Host();
    let drains = 0;
    sim.addNode(A, a);
    sim.addNode(B, b, { receiveBatchMs: 0.35, onActivity: () => drains++ });
    for (let i = 0; i < 8; i++) a.queue(B, new Uint8Array(1000));
    sim.wake(A);
    sim.runUntilIdle(100);
    // Arrivals 1.1–1.4 ms read at 1.45, arrivals 1.5–1.8 ms at 1.85: two reads, one activity each.
    expect(b.received.map((r) => Math.round(r.at * 100) / 100)).toEqual([1.45, 1.45, 1.45, 1.45, 1.85, 1.85, 1.85, 1.85]);
    expect(drains).toBe(2);
    expect(() => sim.addNode('c:1', new Host(), { receiveBatchMs: -1 })).toThrow(RangeError);
  });

  it('counts datagrams sent to an address with no node as no-route drops', () => {
    const sim = new SimNetwork({ seed: 1 });
    const a = new Host();
    a.queue('10.9.9.9:9', new Uint8Array(4));
    sim.addNode(A, a);
    sim.runUntilIdle(100);
    expect(sim.linkStats(A, '10.9.9.9:9')).toMatchObject({ sentDatagrams: 1, deliveredDatagrams: 0, droppedNoRoute: 1 });
  });

  it('rebinds a node to a new address as a NAT would: it sends from the new one, the old one (and what is in flight to it) no longer reaches it, its links go along', () => {
    const sim = new SimNetwork({ seed: 1, defaultLink: { delayMs: 1 } });
    const moved = '10.0.0.1:6000';
    sim.setLinks(A, B, { delayMs: 10 });
    const a = new Host();
    const b = new Host();
    sim.addNode(A, a);
    sim.addNode(B, b);
    a.queue(B, Uint8Array.of(1));
    b.queue(A, Uint8Array.of(2));
    sim.wake(A);
    sim.wake(B);
    sim.runFor(5);
    // Both in flight: the one A sent is still from A; the one to A finds nobody there.
    sim.rebind(A, moved);
    sim.runFor(20);
    expect(b.received.map((r) => [r.from, r.at])).toEqual([[A, 10]]);
    expect(a.received).toEqual([]);
    expect(sim.linkStats(B, A)).toMatchObject({ sentDatagrams: 1, droppedNoRoute: 1 });
    a.queue(B, Uint8Array.of(3));
    sim.wake(moved);
    b.queue(moved, Uint8Array.of(4));
    sim.wake(B);
    sim.runFor(20);
    // The link's 10 ms went along (the default here is 1 ms).
    expect(b.received.map((r) => [r.from, r.at])).toEqual([[A, 10], [moved, 35]]);
    expect(a.received.map((r) => [r.from, Array.from(r.data), r.at])).toEqual([[B, [4], 35]]);
    expect(sim.endpoint(A)).toBeUndefined();
    expect(sim.endpoint(moved)).toBe(a);
    expect(() => sim.rebind(A, '10.0.0.1:7000')).toThrow(/no node at/);
    expect(() => sim.rebind(moved, B)).toThrow(/already registered/);
  });
});

describe('SimNetwork scheduling', () => {
  it('fires timers, tasks and onActivity at exact virtual times', () => {
    const sim = new SimNetwork({ seed: 1, defaultLink: { delayMs: 35 } });
    const log: string[] = [];
    const pinger = new Pinger(B, 20, 3, 10);
    sim.addNode(B, new Echo(), { onActivity: (now) => log.push(`echo@${now}`) });
    sim.addNode(A, pinger, { onActivity: (now) => log.push(`ping@${now}`) });
    sim.schedule(45, (now) => log.push(`task@${now}`));
    sim.runUntil(200);
    expect(sim.now).toBe(200);
    expect(pinger.rtts).toEqual([70, 70, 70]);
    // The task was scheduled before the first ping was sent, so at 45 it runs first.
    expect(log).toEqual(['ping@10', 'ping@30', 'task@45', 'echo@45', 'ping@50', 'echo@65', 'ping@80', 'echo@85', 'ping@100', 'ping@120']);
  });

  it('keeps one live timer per node: a moved deadline fires once, at the new time', () => {
    let deadline: number | undefined = 100;
    const fired: number[] = [];
    const ep: SansIoEndpoint = {
      handleDatagram: () => {},
      pollTransmit: () => undefined,
      pollTimeout: () => deadline,
      handleTimeout: (now) => {
        fired.push(now);
        deadline = undefined;
      },
    };
    const sim = new SimNetwork({ seed: 1 });
    sim.addNode(A, ep);
    sim.schedule(10, () => {
      deadline = 50;
      sim.wake(A);
    });
    sim.schedule(20, () => {
      deadline = 70;
      sim.wake(A);
    });
    expect(sim.runUntilIdle(1000)).toBe(true);
    expect(fired).toEqual([70]);
    expect(sim.now).toBe(70);
  });

  it('step and runUntilIdle report whether events remain', () => {
    const sim = new SimNetwork({ seed: 1 });
    expect(sim.step()).toBe(false);
    sim.schedule(5, () => {});
    sim.schedule(500, () => {});
    expect(sim.runUntilIdle(100)).toBe(false);
    expect(sim.now).toBe(100);
    expect(sim.step()).toBe(true);
    expect(sim.now).toBe(500);
    expect(sim.eventsProcessed).toBe(2);
    expect(() => sim.schedule(1, () => {})).toThrow(RangeError);
  });

  it('stops an endpoint whose timer never lets time advance', () => {
    const stuck: SansIoEndpoint = {
      handleDatagram: () => {},
      pollTransmit: () => undefined,
      pollTimeout: () => 5,
      handleTimeout: () => {},
    };
    const sim = new SimNetwork({ seed: 1 });
    sim.addNode(A, stuck);
    expect(() => sim.runUntil(1000)).toThrow(/fired 1001 times at virtual time 5 ms/);
  });

  it('stops a zero-delay ping-pong loop at one instant', () => {
    const sim = new SimNetwork({ seed: 1, maxEventsPerInstant: 10_000 });
    const a = new Echo();
    sim.addNode(B, new Echo());
    sim.addNode(A, a);
    a.handleDatagram(0, new Uint8Array(1), B);
    sim.wake(A);
    expect(() => sim.runUntil(1)).toThrow(/more than 10000 events at virtual time 0 ms/);
  });
});

describe('SimNetwork determinism and scale', () => {
  function trace(seed: number, extraLink: boolean): string[] {
    const link: LinkConfig = { delayMs: 35, jitterMs: 5, loss: 0.1, duplicate: 0.02, reorder: 0.02, corrupt: 0.01 };
    const sim = new SimNetwork({ seed, defaultLink: link });
    const out: string[] = [];
    const C = '10.0.0.3:3000';
    sim.addNode(B, new Echo(), {
      onActivity: (now) => out.push(`${now.toFixed(6)}`),
    });
    sim.addNode(A, new Pinger(B, 20, 500));
    if (extraLink) sim.addNode(C, new Pinger(B, 7, 500));
    sim.runUntilIdle(1e6);
    const ab = sim.linkStats(A, B);
    out.push(JSON.stringify(ab), JSON.stringify(sim.linkStats(B, A)));
    return extraLink ? [JSON.stringify(ab)] : out;
  }

  it('gives identical runs for the same seed and different ones for another', () => {
    expect(trace(7, false)).toEqual(trace(7, false));
    expect(trace(7, false)).not.toEqual(trace(8, false));
  });

  it('gives each link its own stream: traffic on another link changes nothing', () => {
    expect(trace(7, true)).toEqual([trace(7, false).at(-2)]);
  });

  it('runs 10,000 nodes pinging one server, every datagram accounted for (its speed is the bench\'s to measure)', () => {
    const sim = new SimNetwork({ seed: 3, defaultLink: { delayMs: 35, jitterMs: 5, loss: 0.01 } });
    const server = '10.255.255.1:443';
    sim.addNode(server, new Echo());
    const pingers: Pinger[] = [];
    for (let i = 0; i < 10_000; i++) {
      const p = new Pinger(server, 100, 20, i % 100);
      pingers.push(p);
      sim.addNode(`10.${(i >> 8) & 255}.${i & 255}.1:5000`, p);
    }
    expect(sim.runUntilIdle(10_000)).toBe(true);
    const replies = pingers.reduce((n, p) => n + p.rtts.length, 0);
    const t = sim.totals();
    expect(t.sentDatagrams).toBe(200_000 + t.deliveredDatagrams - replies);
    expect(replies / 200_000).toBeGreaterThan(0.97);
    const worst = pingers.reduce((m, p) => p.rtts.reduce((x, r) => Math.max(x, r), m), 0);
    expect(worst).toBeLessThanOrEqual(80);
    expect(worst).toBeGreaterThan(70);
  });
});

describe('SimNetwork fails a run that makes no progress', () => {
  it('a timer whose deadline keeps coming due a microsecond later, with nothing sent, fails fast with a clear message', () => {
    const sim = new SimNetwork({ seed: 1 });
    let now = 0;
    const stuck: SansIoEndpoint = {
      handleDatagram: () => undefined,
      pollTransmit: () => undefined,
      // Like a connection whose expiry handler forgets to act: the endpoint rounds the past deadline up.
      pollTimeout: () => now + 1e-3,
      handleTimeout: (t) => {
        now = t;
      },
    };
    sim.addNode('10.9.9.9:1', stuck);
    // It stops after a bounded number of fires (the count in the message), not after 10 s of microsecond steps.
    expect(() => sim.runFor(10_000)).toThrow(/timer of node 10\.9\.9\.9:1 fired 100001 times in a row.*makes no progress/);
  });

  it('a timer that fires often but sends each time is progress', () => {
    const sim = new SimNetwork({ seed: 1, maxIdleTimerFires: 10 });
    let now = 0;
    let sent = 0;
    let due = false;
    const pacer: SansIoEndpoint = {
      handleDatagram: () => undefined,
      pollTransmit: () => {
        if (!due) return undefined;
        due = false;
        sent++;
        return { to: '10.9.9.8:1', data: new Uint8Array(1) };
      },
      pollTimeout: () => now + 0.01,
      handleTimeout: (t) => {
        now = t;
        due = true;
      },
    };
    sim.addNode('10.9.9.9:1', pacer);
    sim.runFor(10);
    expect(sent).toBeGreaterThan(900);
  });
});
