import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { paceFailure, watchPace } from '../src/transfer-pace.js';

describe('the pace a transfer body must keep (fake timers)', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('fails once fewer than minBytes moved over a whole window, never before a window has passed', () => {
    let slow = 0;
    const watch = watchPace({ minBytes: 100, windowMs: 1000 }, () => slow++);
    watch.add(99);
    vi.advanceTimersByTime(999);
    expect(slow).toBe(0);
    vi.advanceTimersByTime(1);
    expect(slow).toBe(1);
    // Once: the caller ends the transfer.
    vi.advanceTimersByTime(5000);
    expect(slow).toBe(1);
    watch.stop();
  });

  it('the window slides: bytes that moved over a window ago no longer count', () => {
    let slow = 0;
    const watch = watchPace({ minBytes: 100, windowMs: 1000 }, () => slow++);
    watch.add(60);
    vi.advanceTimersByTime(500);
    watch.add(60);
    // 0–1.0 s: 120 bytes.
    vi.advanceTimersByTime(500);
    expect(slow).toBe(0);
    // 0.1–1.1 s: 60 (the first 60 are out of it), though the whole transfer has kept 109 bytes a second.
    vi.advanceTimersByTime(100);
    expect(slow).toBe(1);
    watch.stop();
  });

  it('a steady pace at the floor holds for good; stop() ends the checks; minBytes 0 never fails', () => {
    let slow = 0;
    const watch = watchPace({ minBytes: 100, windowMs: 1000 }, () => slow++);
    for (let i = 0; i < 100; i++) {
      watch.add(10);
      vi.advanceTimersByTime(100);
    }
    expect(slow).toBe(0);
    watch.stop();
    vi.advanceTimersByTime(10_000);
    expect(slow).toBe(0);
    const off = watchPace({ minBytes: 0, windowMs: 1000 }, () => slow++);
    vi.advanceTimersByTime(10_000);
    off.stop();
    expect(slow).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('says what was too slow', () => {
    expect(paceFailure({ minBytes: 1024, windowMs: 60_000 })).toBe('under 1024 bytes in the last 60 s');
    expect(paceFailure({ minBytes: 64, windowMs: 500 })).toBe('under 64 bytes in the last 0.5 s');
  });
});
