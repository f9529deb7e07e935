/**
 * The room for connections not logged in (SECURITY.md, Known weaknesses: 40
 * hosts × 256 connections that never logged in put the server over its
 * memory budget, and then every honest login was refused), with the memory
 * budget read from a fake RSS.
 */
import { hostLevelsOf } from 'forum-protocol';
import { describe, expect, it } from 'vitest';
import { LoginRoom, REFUNDS_BEFORE_LOGIN } from '../src/login-room.js';
import { MemoryBudget } from '../src/memory-budget.js';

const MIB = 1024 * 1024;

/** A budget of 100 MiB whose RSS the test sets. */
const fakeBudget = (): { budget: MemoryBudget; setRss: (mib: number) => void } => {
  let rss = 50 * MIB;
  return { budget: new MemoryBudget(100 * MIB, () => rss), setRss: (mib) => (rss = mib * MIB) };
};

/** Connections as the server sees them: who was closed, and why. */
const peers = () => {
  const closed = new Map<string, string>();
  return { closed, close: (name: string) => (reason: string) => void closed.set(name, reason) };
};

/** A room of `perHost` places per host, and newcomers all from one address. */
const oneHost = (perHost: number) => {
  const { budget } = fakeBudget();
  const room = new LoginRoom<string>(4096, perHost);
  const { closed, close } = peers();
  const at = hostLevelsOf('198.51.100.7');
  return { room, closed, admit: (name: string) => room.admit(name, close(name), budget.overloaded(), at) };
};

describe('LoginRoom', () => {
  it('over the memory budget, a newcomer takes the place of the oldest connection not logged in, one per arrival, and the pool never grows', () => {
    const { budget, setRss } = fakeBudget();
    const room = new LoginRoom<string>(4096);
    const { closed, close } = peers();
    for (let i = 0; i < 100; i++) expect(room.admit(`idle${i}`, close(`idle${i}`), budget.overloaded())).toEqual({ kind: 'admitted' });
    setRss(150);
    const honest = room.admit('honest', close('honest'), budget.overloaded());
    expect(honest).toEqual({ kind: 'admitted', shed: 'memory budget reached (150 MiB of 100 MiB in use)' });
    expect([...closed.keys()]).toEqual(['idle0']);
    expect(closed.get('idle0')).toBe('server busy: memory budget reached (150 MiB of 100 MiB in use); closed before login to make room, try again later');
    // The honest client logs in: it no longer counts, and can never be shed.
    room.leave('honest');
    for (let i = 0; i < 1000; i++) {
      expect(room.admit(`late${i}`, close(`late${i}`), budget.overloaded()).kind).toBe('admitted');
      expect(room.size).toBe(99);
    }
    expect(closed.size).toBe(1001);
    expect(closed.has('honest')).toBe(false);
    expect(room.shed).toBe(1001);
    // Oldest first: every idle one went before any late one, and the 99 youngest are left.
    expect([...closed.keys()].slice(0, 100)).toEqual(Array.from({ length: 100 }, (_, i) => `idle${i}`));
    expect(closed.has('late900')).toBe(true);
    expect(closed.has('late901')).toBe(false);
  });

  it('over the budget with every connection logged in, a newcomer is refused as before and nobody is closed', () => {
    const { budget, setRss } = fakeBudget();
    const room = new LoginRoom<string>(4096);
    const { closed, close } = peers();
    for (const u of ['alice', 'bob']) {
      room.admit(u, close(u), budget.overloaded());
      room.leave(u);
    }
    setRss(150);
    expect(room.admit('new', close('new'), budget.overloaded())).toEqual({ kind: 'refused', reason: 'memory budget reached (150 MiB of 100 MiB in use)' });
    expect(closed.size).toBe(0);
    expect(room.size).toBe(0);
  });

  it('under the budget, at the cap of connections not logged in the oldest makes room; below it nobody is closed', () => {
    const { budget } = fakeBudget();
    const room = new LoginRoom<string>(3);
    const { closed, close } = peers();
    for (const n of ['a', 'b', 'c']) expect(room.admit(n, close(n), budget.overloaded())).toEqual({ kind: 'admitted' });
    expect(closed.size).toBe(0);
    expect(room.admit('d', close('d'), budget.overloaded())).toEqual({ kind: 'admitted', shed: '3 connections not logged in' });
    expect(closed.get('a')).toBe('server busy: 3 connections not logged in; closed before login to make room, try again later');
    // One that closed on its own (or logged in) frees its place: the next newcomer sheds nobody.
    room.leave('c');
    expect(room.admit('e', close('e'), budget.overloaded())).toEqual({ kind: 'admitted' });
    expect([...closed.keys()]).toEqual(['a']);
    expect(room.size).toBe(3);
  });

  it('an honest client keeps its place until as many newer connections as the cap have arrived', () => {
    const { budget, setRss } = fakeBudget();
    const room = new LoginRoom<string>(64);
    const { closed, close } = peers();
    for (let i = 0; i < 64; i++) room.admit(`idle${i}`, close(`idle${i}`), budget.overloaded());
    setRss(150);
    room.admit('honest', close('honest'), budget.overloaded());
    for (let i = 0; i < 63; i++) room.admit(`flood${i}`, close(`flood${i}`), budget.overloaded());
    expect(closed.has('honest')).toBe(false);
    room.admit('flood63', close('flood63'), budget.overloaded());
    expect(closed.has('honest')).toBe(true);
  });

  it("a host at its own cap makes room within itself: its newcomer takes the place of the host's oldest, never another host's", () => {
    const { budget } = fakeBudget();
    const room = new LoginRoom<string>(4096, 2);
    const { closed, close } = peers();
    const at = (address: string) => hostLevelsOf(address);
    room.admit('nat1', close('nat1'), budget.overloaded(), at('198.51.100.7'));
    room.admit('other', close('other'), budget.overloaded(), at('203.0.113.1'));
    room.admit('nat2', close('nat2'), budget.overloaded(), at('198.51.100.7'));
    expect(closed.size).toBe(0);
    expect(room.admit('nat3', close('nat3'), budget.overloaded(), at('198.51.100.7'))).toEqual({ kind: 'admitted', shed: '2 connections not logged in from one host' });
    expect([...closed.keys()]).toEqual(['nat1']);
    expect(closed.get('nat1')).toBe('server busy: 2 connections not logged in from one host; closed before login to make room, try again later');
    // One that logged in no longer counts for its host, and is never shed.
    room.leave('nat2');
    expect(room.admit('nat4', close('nat4'), budget.overloaded(), at('198.51.100.7'))).toEqual({ kind: 'admitted' });
    expect(room.admit('nat5', close('nat5'), budget.overloaded(), at('198.51.100.7')).kind).toBe('admitted');
    expect([...closed.keys()]).toEqual(['nat1', 'nat3']);
    expect(room.size).toBe(3);
  });

  it('a connection that sends a request becomes the youngest: its host sheds the others first', () => {
    const { room, closed, admit } = oneHost(3);
    for (const n of ['honest', 'idle1', 'idle2']) admit(n);
    // The honest client sends its username: two newcomers now shed the idle ones, not it.
    room.touch('honest');
    admit('new1');
    admit('new2');
    expect([...closed.keys()]).toEqual(['idle1', 'idle2']);
    admit('new3');
    expect(closed.has('honest')).toBe(true);
    // The whole room's order too (over the budget, oldest first), and a touch of one not waiting changes nothing.
    room.touch('gone');
    expect(room.size).toBe(3);
  });

  it('only a connection\'s first two requests make it the youngest: more cannot keep idle connections young for free', () => {
    // Attack round 4: 127 idle connections of a host each sending a request a second, and one new
    // connection every 200 ms, shed every neighbour typing its password (8 of 8).
    const { room, closed, admit } = oneHost(2);
    admit('idle');
    room.touch('idle');
    room.touch('idle');
    admit('honest');
    room.touch('honest');
    // The idle one's third request: before, it became the youngest and the newcomer shed the honest one.
    room.touch('idle');
    admit('new1');
    expect([...closed.keys()]).toEqual(['idle']);
    // The honest one's second step (its password) still counts; a third does not.
    room.touch('honest');
    admit('new2');
    expect([...closed.keys()]).toEqual(['idle', 'new1']);
    room.touch('honest');
    admit('new3');
    expect([...closed.keys()]).toEqual(['idle', 'new1', 'honest']);
  });

  it('a wrong password gives the touches back: a user who mistyped is shed no sooner on the second try', () => {
    const { room, closed, admit } = oneHost(2);
    admit('honest');
    room.touch('honest');
    room.touch('honest');
    // 'Invalid password': the client asks for the username again.
    room.refundTouches('honest');
    admit('idle');
    // Its second username makes it the youngest again; without the refund the newcomer shed it.
    room.touch('honest');
    admit('new1');
    expect([...closed.keys()]).toEqual(['idle']);
    // Two touches, no more, as at first.
    room.touch('honest');
    admit('new2');
    expect([...closed.keys()]).toEqual(['idle', 'new1']);
    room.touch('honest');
    admit('new3');
    expect([...closed.keys()]).toEqual(['idle', 'new1', 'honest']);
    // A refund for one not waiting changes nothing.
    room.refundTouches('gone');
    expect(room.size).toBe(2);
  });

  it('refunds at most REFUNDS_BEFORE_LOGIN wrong passwords a connection: an idle one cycling username and wrong password is not young for ever (the login throttle may be off)', () => {
    const { room, closed, admit } = oneHost(2);
    admit('cycler');
    room.touch('cycler');
    room.touch('cycler');
    // Each wrong password refunded, then a username and a password again: young each time while refunds last.
    for (let k = 0; k < REFUNDS_BEFORE_LOGIN; k++) {
      room.refundTouches('cycler');
      room.touch('cycler');
      room.touch('cycler');
    }
    admit('honest');
    // No refund left: the next wrong password's username leaves its age alone, and the newcomer sheds it, not 'honest'.
    room.refundTouches('cycler');
    room.touch('cycler');
    admit('new1');
    expect([...closed.keys()]).toEqual(['cycler']);
  });

  it('an IPv6 /56 makes room within itself at 4 hosts\' cap, across its /64s', () => {
    const { budget } = fakeBudget();
    const room = new LoginRoom<string>(4096, 1);
    const { closed, close } = peers();
    // Four /64s of one /56, one connection each: the /56's cap (4 × 1).
    for (let i = 0; i < 4; i++) room.admit(`v6-${i}`, close(`v6-${i}`), budget.overloaded(), hostLevelsOf(`2001:db8:0:${i}::1`));
    expect(closed.size).toBe(0);
    const fifth = room.admit('v6-4', close('v6-4'), budget.overloaded(), hostLevelsOf('2001:db8:0:4::1'));
    expect(fifth.kind).toBe('admitted');
    expect(fifth.kind === 'admitted' && fifth.shed).toMatch(/^4 connections not logged in from the network /);
    expect([...closed.keys()]).toEqual(['v6-0']);
  });

  it('refuses a size that is not a whole number of at least 1 (the API, as the command line does)', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => new LoginRoom(bad)).toThrow(RangeError);
      expect(() => new LoginRoom(10, bad)).toThrow(RangeError);
    }
    expect(new LoginRoom(1).max).toBe(1);
  });
});
