/**
 * Large replies are encoded one per turn of the event loop (src/one-per-turn.ts): the requests the reply budget
 * woke at once encoded their threads back to back in one turn, and the loop stalled for every client (90–210 ms
 * with 32 accounts on 8 hosts reading full threads). Turns are the test's own here: a scheduler that queues them.
 */
import { expect, it } from 'vitest';
import { OnePerTurn } from '../src/one-per-turn.js';

/** A scheduler whose turns run only when the test says. */
const manualTurns = (): { readonly schedule: (turn: () => void) => void; readonly pending: () => number; readonly step: () => Promise<void> } => {
  const turns: (() => void)[] = [];
  return {
    schedule: (turn) => void turns.push(turn),
    pending: () => turns.length,
    step: async () => {
      turns.shift()?.();
      // What awaits a job's result runs in the microtasks after its turn.
      await Promise.resolve();
    },
  };
};

it('runs one job a turn, in the order given, and none before its turn', async () => {
  const t = manualTurns();
  const q = new OnePerTurn(t.schedule);
  const ran: string[] = [];
  const results = ['a', 'b', 'c'].map((name) => q.run(() => (ran.push(name), name.toUpperCase())));
  // Asked at once: nothing ran yet, and one turn is asked for, not three.
  expect([ran, t.pending(), q.waiting]).toEqual([[], 1, 3]);
  await t.step();
  expect([ran, t.pending(), q.waiting]).toEqual([['a'], 1, 2]);
  await t.step();
  expect(ran).toEqual(['a', 'b']);
  await t.step();
  expect(await Promise.all(results)).toEqual(['A', 'B', 'C']);
  expect([t.pending(), q.waiting]).toEqual([0, 0]);
});

it('a job that throws rejects its own run, and the next still has its turn', async () => {
  const t = manualTurns();
  const q = new OnePerTurn(t.schedule);
  const bad = q.run(() => {
    throw new Error('broken');
  });
  const good = q.run(() => 2);
  await t.step();
  await expect(bad).rejects.toThrow('broken');
  await t.step();
  expect(await good).toBe(2);
});

it('by default a job queued from a turn runs in a later turn of the loop, not in the same one', async () => {
  const q = new OnePerTurn();
  const order: string[] = [];
  const second = new Promise<void>((resolve) => {
    void q.run(() => {
      order.push('first');
      // Queued from this turn: it runs in the loop's next round (after its I/O poll), as does the job queued after it.
      setImmediate(() => order.push('next round'));
      void q.run(() => {
        order.push('second');
        resolve();
      });
      order.push('first done');
    });
  });
  await second;
  expect(order).toEqual(['first', 'first done', 'next round', 'second']);
});
