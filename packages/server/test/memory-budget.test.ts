import { describe, expect, it } from 'vitest';
import { MemoryBudget } from '../src/memory-budget.js';

const MIB = 1024 * 1024;

/** A budget of 100 MiB whose resident set the test sets. */
const fakeBudget = (): { budget: MemoryBudget; setRss: (mib: number) => void } => {
  let rss = 50 * MIB;
  return { budget: new MemoryBudget(100 * MIB, () => rss), setRss: (mib) => (rss = mib * MIB) };
};

describe('memory budget', () => {
  it('over the budget, holds the connections at their number then: a newcomer is welcome in the place of one gone, even while the resident set stays over', () => {
    const { budget, setRss } = fakeBudget();
    expect(budget.overloaded(40)).toBeUndefined();
    setRss(150);
    const refusal = 'memory budget reached (150 MiB of 100 MiB in use)';
    expect(budget.overloaded(40)).toBe(refusal);
    expect(budget.overloaded(40)).toBe(refusal);
    // The attacker's connections closed; the pages they held are still resident (the lag that kept logins refused).
    expect(budget.overloaded(39)).toBeUndefined();
    expect(budget.overloaded(3)).toBeUndefined();
    expect(budget.overloaded(40)).toBe(refusal);
    expect(budget.overloaded(41)).toBe(refusal);
  });

  it('forgets the count once back within the budget, and takes it again at the next crossing', () => {
    const { budget, setRss } = fakeBudget();
    setRss(150);
    expect(budget.overloaded(40)).toBeDefined();
    setRss(90);
    expect(budget.overloaded(60)).toBeUndefined();
    setRss(150);
    expect(budget.overloaded(60)).toBeDefined();
    expect(budget.overloaded(59)).toBeUndefined();
  });

  it('without a count every newcomer is refused while over (the transfer port); no budget refuses nothing', () => {
    const { budget, setRss } = fakeBudget();
    setRss(150);
    expect(budget.overloaded()).toBe('memory budget reached (150 MiB of 100 MiB in use)');
    expect(new MemoryBudget(undefined, () => 1e12).overloaded()).toBeUndefined();
  });

  it('a resident set that cannot be read (EMFILE at the descriptor limit) keeps the last reading instead of throwing (attack round 5: the server exited)', () => {
    let rss: number | Error = new Error('EMFILE: too many open files, uv_resident_set_memory');
    const read = (): number => {
      if (rss instanceof Error) throw rss;
      return rss;
    };
    const budget = new MemoryBudget(100 * MIB, read);
    // Never read yet: nothing to hold against a newcomer.
    expect(budget.overloaded(10)).toBeUndefined();
    rss = 150 * MIB;
    expect(budget.overloaded(10)).toBe('memory budget reached (150 MiB of 100 MiB in use)');
    rss = new Error('EMFILE: too many open files, uv_resident_set_memory');
    expect(budget.overloaded(10)).toBe('memory budget reached (150 MiB of 100 MiB in use)');
    expect(budget.overloaded(9)).toBeUndefined();
  });
});
