/**
 * The validation of a client's new port (core/path-validation.ts): which
 * addresses count as the same host, the PINGs' count, spacing and
 * amplification limit, the PINGs to the address the connection left, the
 * give-up time, and which ACKs validate.
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
    const v = new PathValidation('10.0.0.1:6000', 1000, 100, 1200, 10, false);
    expect(v.probeDue(1000)).toBe(true);
    v.onProbeSent(1000, 10);
    expect(v.probeDue(1099)).toBe(false);
    expect(v.deadline()).toBe(1100);
    v.onProbeSent(1100, 11);
    v.onProbeSent(1200, 12);
    expect(MAX_PATH_PROBES).toBe(3);
    // No fourth: only the give-up time is left.
    expect(v.probeDue(1300)).toBe(false);
    expect(v.deadline()).toBe(1300);
    expect(v.abandonAt).toBe(1300);
    // Not moved: no PING to the validated address.
    expect(v.oldPathProbeDue()).toBe(false);
  });

  it('never sends the candidate more than 3x the bytes it authenticated from it', () => {
    // A 24-byte packet (the smallest sealed one) allows 72 bytes: two 26-byte PINGs, not three.
    const v = new PathValidation('10.0.0.1:6000', 0, 100, 24, 1, false);
    expect(AMPLIFICATION_LIMIT * 24).toBe(72);
    expect(PATH_PROBE_BYTES).toBe(26);
    v.onProbeSent(0, 1);
    v.onSent(26);
    v.onProbeSent(100, 2);
    v.onSent(26);
    expect(v.probeDue(200)).toBe(false);
    expect(v.mayAmplify(20)).toBe(true);
    expect(v.mayAmplify(21)).toBe(false);
    // Held back, a PING makes no deadline of its own (the timer would fire over and over): only the give-up time.
    expect(v.deadline()).toBe(300);
    v.onReceived(24);
    expect(v.probeDue(200)).toBe(true);
    expect(v.deadline()).toBe(200);
  });

  it('moved: each PING to the candidate makes one to the validated address due at once', () => {
    const v = new PathValidation('10.0.0.1:6000', 1000, 100, 1200, 10, true);
    expect(v.oldPathProbeDue()).toBe(false);
    v.onProbeSent(1000, 10);
    expect(v.oldPathProbeDue()).toBe(true);
    expect(v.deadline()).toBe(1000);
    v.onOldPathProbeSent(11);
    expect(v.oldPathProbeDue()).toBe(false);
    expect(v.deadline()).toBe(1100);
  });

  it('not moved: is validated by an ACK covering one of its PINGs, not by one covering only other packets', () => {
    const v = new PathValidation('10.0.0.1:6000', 0, 100, 1200, 40, false);
    v.onProbeSent(0, 40);
    v.onProbeSent(100, 57);
    expect(v.acknowledgedBy([])).toBe(false);
    expect(v.acknowledgedBy([{ lo: 58, hi: 90 }, { lo: 41, hi: 56 }, { lo: 1, hi: 39 }])).toBe(false);
    expect(v.acknowledgedBy([{ lo: 58, hi: 90 }, { lo: 57, hi: 57 }])).toBe(true);
    expect(v.acknowledgedBy([{ lo: 45, hi: 50 }, { lo: 30, hi: 40 }])).toBe(true);
  });

  it('moved: is validated by an ACK covering any packet from the first sent there on but the PINGs to the validated address', () => {
    const v = new PathValidation('10.0.0.1:6000', 0, 100, 1200, 40, true);
    v.onProbeSent(0, 40);
    v.onOldPathProbeSent(41);
    v.onProbeSent(100, 50);
    v.onOldPathProbeSent(51);
    // Everything before the move went to the validated address.
    expect(v.acknowledgedBy([{ lo: 1, hi: 39 }])).toBe(false);
    // The PINGs to the validated address, alone or together: an answer from there copied to the candidate's port.
    expect(v.acknowledgedBy([{ lo: 51, hi: 51 }, { lo: 41, hi: 41 }, { lo: 1, hi: 39 }])).toBe(false);
    // Any other packet sent from the move on: a PING or the connection's own traffic.
    expect(v.acknowledgedBy([{ lo: 51, hi: 51 }, { lo: 41, hi: 42 }])).toBe(true);
    expect(v.acknowledgedBy([{ lo: 35, hi: 40 }])).toBe(true);
    expect(v.acknowledgedBy([{ lo: 60, hi: 60 }])).toBe(true);
  });
});
