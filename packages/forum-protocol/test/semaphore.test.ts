import { describe, expect, it } from 'vitest';
import { SCRYPT_CONCURRENCY, Semaphore, hashPassword, parsePasswordHash, scryptSlots, verifyPasswordHash } from '../src/index.js';

/** A promise and the function that resolves it. */
const gate = (): { promise: Promise<void>; resolve: () => void } => {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

describe('Semaphore', () => {
  it('runs at most `limit` tasks at once, the rest in arrival order, and frees a place when a task fails', async () => {
    const s = new Semaphore(2);
    const order: number[] = [];
    const gates = Array.from({ length: 5 }, gate);
    const runs = gates.map((g, i) =>
      s.run(async () => {
        order.push(i);
        await g.promise;
        if (i === 1) throw new Error('task 1 fails');
        return i;
      }),
    );
    expect([s.active, s.waiting]).toEqual([2, 3]);
    gates[1]?.resolve();
    await expect(runs[1]).rejects.toThrow('task 1 fails');
    expect([s.active, s.waiting]).toEqual([2, 2]);
    for (const g of gates) g.resolve();
    expect(await Promise.all([runs[0], runs[2], runs[3], runs[4]])).toEqual([0, 2, 3, 4]);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect([s.active, s.waiting]).toEqual([0, 0]);
  });

  it('refuses a limit under 1', () => {
    expect(() => new Semaphore(0)).toThrow(RangeError);
  });
});

describe('scrypt runs on at most half of the thread pool', () => {
  it('six hashes and checks started at once: two run, four wait, all complete correctly', async () => {
    expect(SCRYPT_CONCURRENCY).toBe(Math.max(1, Math.floor((Number(process.env['UV_THREADPOOL_SIZE']) || 4) / 2)));
    const stored = parsePasswordHash(await hashPassword('pw'));
    if (stored === undefined) throw new Error('no hash');
    const work = [
      ...Array.from({ length: 3 }, (_, i) => hashPassword(`p${i}`)),
      ...Array.from({ length: 3 }, (_, i) => verifyPasswordHash(i === 0 ? 'pw' : 'nope', stored)),
    ];
    expect(scryptSlots.active).toBe(SCRYPT_CONCURRENCY);
    expect(scryptSlots.waiting).toBe(6 - SCRYPT_CONCURRENCY);
    const done = await Promise.all(work);
    expect(done.slice(3)).toEqual([true, false, false]);
    expect(done.slice(0, 3).every((h) => typeof h === 'string' && parsePasswordHash(h) !== undefined)).toBe(true);
    expect([scryptSlots.active, scryptSlots.waiting]).toEqual([0, 0]);
  });
});
