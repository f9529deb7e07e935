import { describe, expect, it } from 'vitest';
import { appendKnownHost, changedKeyMessage, checkHostKey, firstContactMessage, hostId, parseKnownHosts } from '../src/client/known-hosts.js';

const key = (b: number): Uint8Array => new Uint8Array(32).fill(b);

describe('known hosts', () => {
  it('names hosts host:port, IPv6 in brackets', () => {
    expect(hostId('127.0.0.1', 4000)).toBe('127.0.0.1:4000');
    expect(hostId('forum.example', 4000)).toBe('forum.example:4000');
    expect(hostId('::1', 4000)).toBe('[::1]:4000');
  });

  it('first contact, then trusted; another port of the same host is a different server', () => {
    const id = hostId('10.0.0.1', 4000);
    const empty = parseKnownHosts('');
    expect(checkHostKey(empty, id, key(1))).toEqual({ kind: 'first-contact' });
    const text = appendKnownHost('', id, key(1));
    expect(text).toBe(`10.0.0.1:4000 x25519 ${'01'.repeat(32)}\n`);
    const known = parseKnownHosts(text);
    expect(checkHostKey(known, id, key(1))).toEqual({ kind: 'trusted' });
    expect(checkHostKey(known, hostId('10.0.0.1', 4001), key(1))).toEqual({ kind: 'first-contact' });
  });

  it('a changed key is reported with the recorded one', () => {
    const known = parseKnownHosts(appendKnownHost('', 'h:1', key(1)));
    const r = checkHostKey(known, 'h:1', key(2));
    expect(r.kind).toBe('changed');
    expect(r.kind === 'changed' && Buffer.from(r.known).equals(Buffer.from(key(1)))).toBe(true);
  });

  it('keeps comments, reports bad and repeated lines without giving up on the good ones', () => {
    const text = ['# mine', '', 'h:1 x25519 ' + '02'.repeat(32), 'h:2 rsa AAAA', 'h:1 x25519 ' + '03'.repeat(32), 'h:3 x25519 zz'].join('\n');
    const known = parseKnownHosts(text);
    expect([...known.keys.keys()]).toEqual(['h:1']);
    expect(checkHostKey(known, 'h:1', key(2))).toEqual({ kind: 'trusted' });
    expect(known.problems).toEqual([
      'line 4: not "host:port x25519 <64 hex digits>"',
      'line 5: h:1 is listed twice with different keys; the first line counts',
      'line 6: not "host:port x25519 <64 hex digits>"',
    ]);
    // Appending to a file without a final newline starts a new line.
    expect(appendKnownHost('# mine', 'h:9', key(9))).toBe(`# mine\nh:9 x25519 ${'09'.repeat(32)}\n`);
  });

  it('the same host with the same key twice is no problem (they agree); with another key it is', () => {
    const line = (k: number): string => `h:1 x25519 ${String(k).padStart(2, '0').repeat(32)}`;
    // Before: two clients' simultaneous first contacts left two equal lines, and every later connection warned.
    const same = parseKnownHosts([line(1), line(1), ''].join('\n'));
    expect(same.problems).toEqual([]);
    expect(checkHostKey(same, 'h:1', key(1))).toEqual({ kind: 'trusted' });
    const differ = parseKnownHosts([line(1), line(1), line(2), ''].join('\n'));
    expect(differ.problems).toEqual(['line 3: h:1 is listed twice with different keys; the first line counts']);
    expect(checkHostKey(differ, 'h:1', key(2)).kind).toBe('changed');
  });

  it('messages say what happened and how to proceed', () => {
    expect(firstContactMessage('h:1', 'SHA256:abc', '/home/u/.forum-client/known_hosts').join('\n')).toContain('SHA256:abc');
    const changed = changedKeyMessage('h:1', 'SHA256:old', 'SHA256:new', '/k').join('\n');
    expect(changed).toContain('different identity key');
    expect(changed).toContain('SHA256:old');
    expect(changed).toContain('SHA256:new');
    expect(changed).toContain('delete the line for h:1 from /k');
  });
});
