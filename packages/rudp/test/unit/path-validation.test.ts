/**
 * The validation of a client's new port (core/path-validation.ts): which
 * addresses count as the same host, the challenges' count, spacing and
 * amplification limit, the PINGs to the address the connection left, the
 * give-up time, and which echoes validate.
 */
import { describe, expect, it } from 'vitest';
import { AMPLIFICATION_LIMIT, MAX_PATH_PROBES, PATH_PROBE_BYTES, PathValidation, isLoopback, sameHost } from '../../src/core/path-validation.js';

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

/** Challenge data: 8 bytes, all `b`. */
const data = (b: number): Uint8Array => new Uint8Array(8).fill(b);

describe('PathValidation', () => {
  it('sends a challenge at once, then one a probe timeout later, at most 3, and gives up 3 probe timeouts after it started', () => {
    const v = new PathValidation('10.0.0.1:6000', 1000, 100, 1200, false);
    expect(v.probeDue(1000)).toBe(true);
    v.onProbeSent(1000, data(1));
    expect(v.probeDue(1099)).toBe(false);
    expect(v.deadline()).toBe(1100);
    v.onProbeSent(1100, data(2));
    v.onProbeSent(1200, data(3));
    expect(MAX_PATH_PROBES).toBe(3);
    // No fourth: only the give-up time is left.
    expect(v.probeDue(1300)).toBe(false);
    expect(v.deadline()).toBe(1300);
    expect(v.abandonAt).toBe(1300);
    // Not moved: no PING to the validated address.
    expect(v.oldPathProbeDue()).toBe(false);
  });

  it('never sends the candidate more than 3x the bytes it authenticated from it', () => {
    // A 24-byte packet (the smallest sealed one) allows 72 bytes: two 34-byte challenges, not three.
    const v = new PathValidation('10.0.0.1:6000', 0, 100, 24, false);
    expect(AMPLIFICATION_LIMIT * 24).toBe(72);
    expect(PATH_PROBE_BYTES).toBe(34);
    v.onProbeSent(0, data(1));
    v.onSent(34);
    v.onProbeSent(100, data(2));
    v.onSent(34);
    expect(v.probeDue(200)).toBe(false);
    expect(v.mayAmplify(4)).toBe(true);
    expect(v.mayAmplify(5)).toBe(false);
    // Held back, a challenge makes no deadline of its own (the timer would fire over and over): only the give-up time.
    expect(v.deadline()).toBe(300);
    v.onReceived(24);
    expect(v.probeDue(200)).toBe(true);
    expect(v.deadline()).toBe(200);
  });

  it('moved: each challenge to the candidate makes a PING to the validated address due at once', () => {
    const v = new PathValidation('10.0.0.1:6000', 1000, 100, 1200, true);
    expect(v.oldPathProbeDue()).toBe(false);
    v.onProbeSent(1000, data(1));
    expect(v.oldPathProbeDue()).toBe(true);
    expect(v.deadline()).toBe(1000);
    v.onOldPathProbeSent();
    expect(v.oldPathProbeDue()).toBe(false);
    expect(v.deadline()).toBe(1100);
  });

  it('is answered by the echo of any of its challenges, and by nothing else', () => {
    const v = new PathValidation('10.0.0.1:6000', 0, 100, 1200, true);
    expect(v.answeredBy(data(7))).toBe(false);
    const first = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
    v.onProbeSent(0, first);
    v.onProbeSent(100, data(9));
    expect(v.answeredBy(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8))).toBe(true);
    expect(v.answeredBy(data(9))).toBe(true);
    // One bit off, anywhere; another length; a challenge of another validation.
    for (let i = 0; i < 8; i++) {
      const wrong = first.slice();
      wrong[i] = (wrong[i] as number) ^ 1;
      expect(v.answeredBy(wrong)).toBe(false);
    }
    expect(v.answeredBy(first.subarray(0, 7))).toBe(false);
    expect(v.answeredBy(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9))).toBe(false);
    const next = new PathValidation('10.0.0.1:6000', 300, 100, 1200, false);
    next.onProbeSent(300, data(4));
    expect(next.answeredBy(first)).toBe(false);
  });
});

describe('PathValidation of another host (an IP address change)', () => {
  it('pads a challenge to the base size only where 3x what came from the candidate allows it, else sends it alone; a port change never pads', () => {
    // A full 1,200-byte datagram from the candidate: 3,600 bytes may go back, so three padded challenges.
    const full = new PathValidation('10.0.0.9:6000', 0, 100, 1200, true, true, 775);
    expect(full.probeSize(1200)).toBe(1200);
    full.onSent(1200);
    full.onSent(1200);
    expect(full.probeSize(1200)).toBe(1200);
    full.onSent(1);
    // 2,401 sent: another 1,200 would pass 3,600, a 34-byte one does not.
    expect(full.probeSize(1200)).toBe(PATH_PROBE_BYTES);
    // A 40-byte ACK: 120 bytes may go back.
    expect(new PathValidation('10.0.0.9:6000', 0, 100, 40, true, true, 775).probeSize(1200)).toBe(PATH_PROBE_BYTES);
    // Another port of the same host: the path is the same, never padded.
    expect(new PathValidation('10.0.0.1:6000', 0, 100, 1200, true).probeSize(1200)).toBe(PATH_PROBE_BYTES);
  });

  it('sends challenges a probe timeout apart but gives up 3 of its own (longer) timeouts after it started', () => {
    const v = new PathValidation('10.0.0.9:6000', 1000, 100, 1200, true, true, 775);
    v.onProbeSent(1000, data(1));
    v.onOldPathProbeSent();
    expect(v.deadline()).toBe(1100);
    expect(v.abandonAt).toBe(1000 + 3 * 775);
  });

  it('tells when the challenge an echo answers was sent (the new path\'s first RTT estimate)', () => {
    const v = new PathValidation('10.0.0.9:6000', 0, 100, 1200, true, true, 775);
    v.onProbeSent(10, data(1));
    v.onProbeSent(110, data(2));
    expect(v.answeredAt(data(2))).toBe(110);
    expect(v.answeredAt(data(1))).toBe(10);
    expect(v.answeredAt(data(3))).toBeUndefined();
    expect(v.answeredAt(data(1).subarray(0, 7))).toBeUndefined();
  });
});

describe('isLoopback', () => {
  it('is true for 127.0.0.0/8 (also mapped into IPv6) and ::1, false for anything else', () => {
    for (const a of ['127.0.0.1:5000', '127.3.4.5:1', '[::1]:5000', '[::ffff:127.0.0.1]:5000', '[0:0:0:0:0:0:0:1]:9']) expect(isLoopback(a)).toBe(true);
    for (const a of ['10.0.0.1:5000', '128.0.0.1:5000', '[::2]:5000', '[2001:db8::1]:5000', '[::ffff:10.0.0.1]:5000', '127.0.0.1', 'client-a:5000']) expect(isLoopback(a)).toBe(false);
  });
});
