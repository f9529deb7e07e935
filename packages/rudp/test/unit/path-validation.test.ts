/**
 * The validation of a client's new port (core/path-validation.ts): which
 * addresses count as the same host, the PINGs' count, spacing and
 * amplification limit, the give-up time, and which ACKs validate.
 */
import { describe, expect, it } from 'vitest';
import { AMPLIFICATION_LIMIT, MAX_PATH_PROBES, PATH_PROBE_BYTES, PathValidation, sameHost } from '../../src/core/path-validation.js';

describe('sameHost', () => {
  it('is another port of the same IP address, and nothing else', () => {
    expect(sameHost('203.0.113.7:5000', '203.0.113.7:6000')).toBe(true);
    expect(sameHost('[2001:db8::1]:5000', '[2001:db8::1]:6000')).toBe(true);
    expect(sameHost('[fe80::1%eth0]:5000', '[fe80::1%eth0]:6000')).toBe(true);
    // Another address, even in the same /64 or /24, another zone, or another family.
    expect(sameHost('203.0.113.7:5000', '203.0.113.8:5000')).toBe(false);
    expect(sameHost('[2001:db8::1]:5000', '[2001:db8::2]:5000')).toBe(false);
    expect(sameHost('[fe80::1%eth0]:5000', '[fe80::1%eth1]:5000')).toBe(false);
    expect(sameHost('203.0.113.7:5000', '[::ffff:203.0.113.7]:5000')).toBe(false);
    // Not an address at all.
    expect(sameHost('203.0.113.7', '203.0.113.7:5000')).toBe(false);
    expect(sameHost('203.0.113.7:99999', '203.0.113.7:5000')).toBe(false);
  });
});

describe('PathValidation', () => {
  it('sends a PING at once, then one a probe timeout later, at most 3, and gives up 3 probe timeouts after it started', () => {
    const v = new PathValidation('10.0.0.1:6000', 1000, 100, 1200);
    expect(v.probeDue(1000)).toBe(true);
    v.onProbeSent(1000, 10, 24);
    expect(v.probeDue(1099)).toBe(false);
    expect(v.deadline()).toBe(1100);
    v.onProbeSent(1100, 11, 24);
    v.onProbeSent(1200, 12, 24);
    expect(MAX_PATH_PROBES).toBe(3);
    // No fourth: only the give-up time is left.
    expect(v.probeDue(1300)).toBe(false);
    expect(v.deadline()).toBe(1300);
    expect(v.abandonAt).toBe(1300);
  });

  it('never sends the candidate more than 3x the bytes it authenticated from it', () => {
    // A 24-byte packet (the smallest sealed one) allows 72 bytes: two 26-byte PINGs, not three.
    const v = new PathValidation('10.0.0.1:6000', 0, 100, 24);
    expect(AMPLIFICATION_LIMIT * 24).toBe(72);
    expect(PATH_PROBE_BYTES).toBe(26);
    v.onProbeSent(0, 1, 26);
    v.onProbeSent(100, 2, 26);
    expect(v.probeDue(200)).toBe(false);
    // Held back, a PING makes no deadline of its own (the timer would fire over and over): only the give-up time.
    expect(v.deadline()).toBe(300);
    v.onReceived(24);
    expect(v.probeDue(200)).toBe(true);
    expect(v.deadline()).toBe(200);
  });

  it('is validated by an ACK covering one of its PINGs, not by one covering only other packets', () => {
    const v = new PathValidation('10.0.0.1:6000', 0, 100, 1200);
    v.onProbeSent(0, 40, 24);
    v.onProbeSent(100, 57, 24);
    expect(v.acknowledgedBy([])).toBe(false);
    expect(v.acknowledgedBy([{ lo: 58, hi: 90 }, { lo: 41, hi: 56 }, { lo: 1, hi: 39 }])).toBe(false);
    expect(v.acknowledgedBy([{ lo: 58, hi: 90 }, { lo: 57, hi: 57 }])).toBe(true);
    expect(v.acknowledgedBy([{ lo: 45, hi: 50 }, { lo: 30, hi: 40 }])).toBe(true);
  });
});
