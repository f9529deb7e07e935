import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { TransferAdmission } from '../src/transfer-admission.js';

describe('TransferAdmission', () => {
  it('counts an IPv6 /64 as one host, as rudp does: its 17th connection evicts the oldest silent one, whatever address of the /64 it comes from', () => {
    const admission = new TransferAdmission({ maxConnections: 512, maxPerHost: 16 });
    const sockets = Array.from({ length: 16 }, () => new net.Socket());
    sockets.forEach((s, i) => expect(admission.admit(s, `2001:db8:1:2::${(i + 1).toString(16)}`)).toBe(true));
    expect(admission.admit(new net.Socket(), '2001:db8:1:2:ffff::99')).toBe(true);
    expect(admission.evicted).toBe(1);
    expect(sockets[0]?.destroyed).toBe(true);
    // Another /64, and IPv4 (also as IPv4-mapped IPv6, how a dual-stack socket reports it), are other hosts.
    expect(admission.admit(new net.Socket(), '2001:db8:1:3::1')).toBe(true);
    expect(admission.admit(new net.Socket(), '::ffff:192.0.2.1')).toBe(true);
    expect(admission.evicted).toBe(1);
    for (let i = 0; i < 15; i++) admission.admit(new net.Socket(), '192.0.2.1');
    expect(admission.evicted).toBe(1);
    admission.admit(new net.Socket(), '192.0.2.1');
    expect(admission.evicted).toBe(2);
  });
});
