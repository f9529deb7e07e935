import { describe, expect, it } from 'vitest';
import { CommandDeadline } from '../src/store/command-deadline.js';

describe('CommandDeadline.extend', () => {
  it('adds each extension without a key', () => {
    const d = new CommandDeadline(1_000);
    d.extend(200);
    d.extend(300);
    expect(d.allowedMs).toBe(1_500);
    d.end();
  });

  it('under one key gives the largest asked, once: a re-run asking again does not double it', () => {
    const d = new CommandDeadline(1_000);
    d.extend(600, 'chunks');
    d.extend(600, 'chunks');
    expect(d.allowedMs).toBe(1_600);
    d.extend(900, 'chunks');
    expect(d.allowedMs).toBe(1_900);
    d.extend(100, 'other');
    expect(d.allowedMs).toBe(2_000);
    d.end();
  });

  it('never shortens the deadline: a second ask under the key for less keeps the time given', () => {
    const d = new CommandDeadline(1_000);
    d.extend(5_000, 'chunks');
    // Before: replaced, 6,000 -> 1,010 ms, and the deadline (already spent in part by the first run) came at once.
    d.extend(10, 'chunks');
    expect(d.allowedMs).toBe(6_000);
    expect(d.expired).toBe(false);
    d.end();
  });
});

describe('CommandDeadline.expireNow', () => {
  it('passes the deadline at once: what waits for it runs, once; ended or passed, it does nothing', () => {
    const d = new CommandDeadline(60_000);
    let fired = 0;
    d.onExpire(() => void fired++);
    expect(d.expired).toBe(false);
    d.expireNow();
    expect(d.expired).toBe(true);
    expect(fired).toBe(1);
    d.expireNow();
    expect(fired).toBe(1);
    d.end();
    const ended = new CommandDeadline(60_000);
    ended.onExpire(() => void fired++);
    ended.end();
    ended.expireNow();
    expect(fired).toBe(1);
    expect(ended.expired).toBe(false);
  });

  it('leaves no timer behind: a call added after it never runs, at the old deadline either', async () => {
    const d = new CommandDeadline(5);
    let fired = 0;
    d.expireNow();
    d.onExpire(() => void fired++);
    // Due after the deadline's own 5 ms timer, so that one (had it stayed set) runs first.
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(fired).toBe(0);
    expect(d.expired).toBe(true);
    d.end();
  });
});
