import { hostLevelsOf } from 'forum-protocol';
import { describe, expect, it } from 'vitest';
import { LogLimiter } from '../src/log-limiter.js';

/** The levels the server passes for a client at `address` (`host:port`; a bare name counts as itself). */
const at = hostLevelsOf;

describe('log lines a client host causes', () => {
  const limiter = (limits = { burst: 3, perMinute: 6, maxKeys: 4 }): { readonly lines: string[]; readonly l: LogLimiter } => {
    const lines: string[] = [];
    return { lines, l: new LogLimiter((line) => lines.push(line), limits) };
  };

  it('a burst is written, the rest counted and summarised at the flush; a quiet host earns lines back', () => {
    const { lines, l } = limiter();
    for (let i = 0; i < 100; i++) l.line(at('10.0.0.1'), 'Malformed request', `Malformed request ${i}`, i * 10);
    expect(lines).toEqual(['Malformed request 0', 'Malformed request 1', 'Malformed request 2']);
    // 6 a minute: 10 s on, one more line; the next is counted again.
    l.line(at('10.0.0.1'), 'Malformed request', 'later', 11_000);
    l.line(at('10.0.0.1'), 'Malformed request', 'dropped', 11_001);
    expect(lines.slice(3)).toEqual(['later']);
    l.flush(30_000);
    expect(lines.slice(4)).toEqual(['Client host 10.0.0.1: 98 more "Malformed request" lines suppressed in the last 30 s']);
    // Nothing dropped since: the flush says nothing.
    l.flush(42_000);
    expect(lines).toHaveLength(5);
  });

  it('hosts and kinds count apart', () => {
    const { lines, l } = limiter({ burst: 1, perMinute: 1, maxKeys: 10 });
    l.line(at('a'), 'x', 'a x', 0);
    l.line(at('a'), 'x', 'a x again', 0);
    l.line(at('a'), 'y', 'a y', 0);
    l.line(at('b'), 'x', 'b x', 0);
    expect(lines).toEqual(['a x', 'a y', 'b x']);
  });

  it('at most maxKeys pairs are kept: the oldest is summarised and forgotten; quiet ones go at the flush', () => {
    const { lines, l } = limiter({ burst: 1, perMinute: 1, maxKeys: 2 });
    l.line(at('a'), 'x', 'a1', 0);
    l.line(at('a'), 'x', 'a2', 0);
    l.line(at('b'), 'x', 'b1', 0);
    l.line(at('c'), 'x', 'c1', 1000);
    expect(l.size).toBe(2);
    // One line suppressed: the singular.
    expect(lines).toEqual(['a1', 'b1', 'Client host a: 1 more "x" line suppressed in the last 1 s', 'c1']);
    // A minute on, both have earned their burst back and dropped nothing: forgotten.
    l.flush(62_000);
    expect(l.size).toBe(0);
  });

  it('an IPv6 client counts against its /56 and /48 too: 100 /64s of one /48 get 16 times the burst, not 100', () => {
    const { lines, l } = limiter({ burst: 1, perMinute: 1, maxKeys: 4096 });
    // Each /64 in a /56 of its own, so only the /48 (16 times the host's burst) holds them back.
    for (let i = 0; i < 100; i++) l.line(at(`[2001:db8:7:${(i << 8).toString(16)}::1]:4000`), 'Malformed request', `line ${i}`, 0);
    expect(lines).toHaveLength(16);
    l.flush(1000);
    expect(lines.slice(16)).toEqual(['Client host 2001:db8:7::/48: 84 more "Malformed request" lines suppressed in the last 1 s']);
    // A /56 of its own holds 4 times the burst: its 5th /64 is refused there.
    const other = limiter({ burst: 1, perMinute: 1, maxKeys: 4096 });
    for (let i = 0; i < 5; i++) other.l.line(at(`[2001:db8:8:${i.toString(16)}::1]:4000`), 'x', `line ${i}`, 0);
    expect(other.lines).toEqual(['line 0', 'line 1', 'line 2', 'line 3']);
  });

  it('past maxKeys the pair used least recently goes, not a prefix still misbehaving (which would get its burst back)', () => {
    const { lines, l } = limiter({ burst: 1, perMinute: 1, maxKeys: 3 });
    const prefix = { key: 'P', multiple: 2 };
    // Hosts of one prefix, each new: the prefix's burst of 2, then every line is suppressed there.
    for (let i = 0; i < 20; i++) l.line([{ key: `h${i}`, multiple: 1 }, prefix], 'x', `line ${i}`, 0);
    expect(lines).toEqual(['line 0', 'line 1']);
  });
});
