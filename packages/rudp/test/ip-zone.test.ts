import { describe, expect, it } from 'vitest';
import { withoutNeedlessZone } from '../src/node/ip-zone.js';

describe('withoutNeedlessZone', () => {
  it('keeps the zone of a link-local address (fe80::/10) and drops any other', () => {
    expect(withoutNeedlessZone('fe80::1%eth0')).toBe('fe80::1%eth0');
    expect(withoutNeedlessZone('FEBF::1%2')).toBe('FEBF::1%2');
    expect(withoutNeedlessZone('fec0::1%eth0')).toBe('fec0::1');
    expect(withoutNeedlessZone('::1%lo')).toBe('::1');
    expect(withoutNeedlessZone('2001:db8::1%eth0')).toBe('2001:db8::1');
  });

  it('leaves addresses without a zone, IPv4 and names alone', () => {
    for (const a of ['::1', 'fe80::1', '127.0.0.1', 'localhost', 'a%b']) expect(withoutNeedlessZone(a)).toBe(a);
  });
});
