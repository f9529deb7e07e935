import { describe, expect, it } from 'vitest';
import { keepError, type ListenerErrors, rethrowErrors } from '../../src/node/listener-errors.js';

/** Runs each listener past any that throws, as the adapter does, then rethrows what they threw. */
function runAll(listeners: readonly (() => void)[]): void {
  let errors: ListenerErrors;
  for (const listener of listeners) {
    try {
      listener();
    } catch (error) {
      errors = keepError(errors, error);
    }
  }
  rethrowErrors(errors);
}

describe('listener errors', () => {
  it('throws nothing when no listener threw', () => {
    const ran: number[] = [];
    expect(() => runAll([() => ran.push(1), () => ran.push(2)])).not.toThrow();
    expect(ran).toEqual([1, 2]);
  });

  it('rethrows the very error when one listener threw', () => {
    const bug = new TypeError('one bug');
    let caught: unknown;
    try {
      runAll([
        () => {
          throw bug;
        },
        () => undefined,
      ]);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBe(bug);
  });

  it('keeps every error, in order, in an AggregateError when several threw (values that are not Errors too)', () => {
    const first = new Error('first');
    let caught: unknown;
    try {
      runAll([
        () => {
          throw first;
        },
        () => undefined,
        () => {
          throw 'a string';
        },
      ]);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(AggregateError);
    expect((caught as AggregateError).errors).toEqual([first, 'a string']);
    expect((caught as AggregateError).message).toBe('2 listeners threw: first; a string');
  });
});
