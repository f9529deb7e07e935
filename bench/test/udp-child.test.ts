import { describe, expect, it } from 'vitest';
import { runUdpInChild } from '../src/udp/udp-child.js';

describe('the real-socket part in a process of its own', () => {
  it('runs in a fresh process and hands its report back over IPC', async () => {
    // No part selected: the child loads rudpx and udp-relay, starts and stops its relay process, and reports.
    const r = await runUdpInChild(true, [1], () => {}, { throughput: false, relayBulk: false, relayChat: false });
    expect(typeof r).toBe('object');
    expect(r).toMatchObject({ throughput: [], bulk: [], bulkWarmUp: [] });
  }, 60_000);
});
