import { describe, expect, it } from 'vitest';
import { isClean } from '../src/integrity/integrity-checker.js';
import { SystemFactory } from '../src/peers/systems.js';
import { runBulk } from '../src/run/bulk-run.js';
import { runChat } from '../src/run/chat-run.js';
import { CHAT } from '../src/scenarios/chat.js';
import { BULK } from '../src/scenarios/bulk.js';
import { burstLoss, duplicateReorder, plainLoss } from '../src/scenarios/link-variants.js';

const factory = await SystemFactory.load();
const shortChat = { ...CHAT, durationMs: 4_000 };

describe('KCP endpoint in the simulator', () => {
  for (const variant of [plainLoss(0.2), burstLoss(0.1), duplicateReorder(0.01)]) {
    it(`kcp-fast delivers every chat message once, intact and in order (${variant.id})`, () => {
      const r = runChat(factory, 'kcp-fast', variant, 3, shortChat);
      expect(r.completed).toBe(true);
      expect(r.integrity.sent).toBe(2 * (shortChat.durationMs / shortChat.intervalMs) + 1);
      expect(isClean(r.integrity)).toBe(true);
      // Loss costs retransmissions, never less than the one-way delay.
      expect(r.latency.p50).toBeGreaterThanOrEqual(30);
      expect(r.latency.p99).toBeGreaterThan(r.latency.p50);
    });
  }

  it('kcp-fast completes a lossy bulk transfer intact', () => {
    const r = runBulk(factory, 'kcp-fast', plainLoss(0.05), 3, { ...BULK, totalBytes: 256 * 1024 });
    expect(r.completed).toBe(true);
    expect(isClean(r.integrity)).toBe(true);
    expect(r.fractionOfLimit).toBeGreaterThan(0);
    expect(r.fractionOfLimit).toBeLessThanOrEqual(1);
  });

  it('gives the same figures for the same seed', () => {
    const a = runChat(factory, 'kcp-fast', plainLoss(0.1), 11, shortChat);
    const b = runChat(factory, 'kcp-fast', plainLoss(0.1), 11, shortChat);
    expect(b.latency).toEqual(a.latency);
    expect(b.wirePerPayload).toBe(a.wirePerPayload);
  });
});
