import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Why a statement was not started: its command had passed its deadline ({@link withCommandDeadline}).
 * `code` is `ERR_COMMAND_DEADLINE`.
 */
export class CommandDeadlineError extends Error {
  readonly code = 'ERR_COMMAND_DEADLINE';
  constructor(readonly deadlineMs: number) {
    super(`the command passed its deadline of ${deadlineMs} ms, so no statement more was started`);
    this.name = 'CommandDeadlineError';
  }
}

/**
 * The time one command (a request and the store work it causes, over any number of statements and
 * transactions) may take. A store that honours it (PostgreSQL) starts no statement once it has passed
 * and cancels the one running; the others ignore it.
 */
export class CommandDeadline {
  #at: number;
  #allowedMs: number;
  #timer: NodeJS.Timeout | undefined;
  #fired = false;
  #ended = false;
  readonly #onExpire = new Set<() => void>();
  /** What each keyed extension gave, ms (see {@link extend}). */
  readonly #extensions = new Map<string, number>();

  constructor(ms: number) {
    this.#allowedMs = ms;
    this.#at = performance.now() + ms;
    this.#arm();
  }

  /** Whether the deadline has passed (read on the clock too: a late timer does not let a statement more start). */
  get expired(): boolean {
    return this.#fired || (!this.#ended && performance.now() >= this.#at);
  }

  /** Whether the command is over: what it left running is not its any more, and is not held to the deadline. */
  get ended(): boolean {
    return this.#ended;
  }

  /** The time left until the deadline, ms: negative once it has passed. */
  get remainingMs(): number {
    return this.#at - performance.now();
  }

  /** The time the command was allowed, ms, its extensions included. */
  get allowedMs(): number {
    return this.#allowedMs;
  }

  /**
   * Gives the command `ms` more (work that grows with what it touches). Under a `key`, the command gets the
   * largest `ms` asked under that key, not their sum: a transaction run again (a stray cancel,
   * `postgres-deadline.ts`) asks again for the same work, which must not double its time. An extension
   * never shortens the deadline: a second ask under the key for less (the work found smaller on its
   * re-run) keeps the time given, part of which the first run has spent.
   */
  extend(ms: number, key?: string): void {
    if (this.#fired || this.#ended || !(ms >= 0)) return;
    const before = key === undefined ? 0 : (this.#extensions.get(key) ?? 0);
    const given = Math.max(before, ms);
    if (key !== undefined) this.#extensions.set(key, given);
    const more = given - before;
    if (more === 0) return;
    this.#allowedMs += more;
    this.#at += more;
    this.#arm();
  }

  /**
   * Calls `f` once when the deadline passes (not if the command ends first, nor if it has passed already:
   * callers check {@link expired} first); returns its removal.
   */
  onExpire(f: () => void): () => void {
    if (this.#ended || this.#fired) return () => undefined;
    this.#onExpire.add(f);
    return () => void this.#onExpire.delete(f);
  }

  /**
   * Passes the deadline now, as if its time had run out: what waits for it runs (a statement running is
   * cancelled, and given up past the abandon rule's grace). For work whose result nobody wants any more
   * (an upload whose sender left while its chunk was at the database).
   */
  expireNow(): void {
    if (this.#fired || this.#ended) return;
    this.#at = performance.now();
    this.#fire();
  }

  /** Ends the command: its timer and the calls waiting for the deadline go. */
  end(): void {
    this.#ended = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#onExpire.clear();
  }

  #arm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, this.#at - performance.now()));
    // Cleared when the command ends: the timer must not keep a stopping process alive meanwhile.
    this.#timer.unref();
  }

  #fire(): void {
    if (this.#ended) return;
    // Fired early by a timer rounding down: the rest of the time still counts.
    const left = this.#at - performance.now();
    if (left > 0) {
      this.#timer = setTimeout(() => this.#fire(), left);
      this.#timer.unref();
      return;
    }
    this.#fired = true;
    // Passed early by expireNow: the timer still set for the old time would pass it a second time.
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const calls = [...this.#onExpire];
    this.#onExpire.clear();
    for (const f of calls) f();
  }
}

const current = new AsyncLocalStorage<CommandDeadline>();

/**
 * Runs `work` as one command allowed `ms` in all: the store calls it makes (and what they start) see
 * the deadline through {@link commandDeadline}. Ends the deadline when `work` settles.
 */
export const withCommandDeadline = async <A>(ms: number, work: () => Promise<A>): Promise<A> => {
  const deadline = new CommandDeadline(ms);
  try {
    return await current.run(deadline, work);
  } finally {
    deadline.end();
  }
};

/** The deadline of the command running now, or `undefined` (none, or its command is over). */
export const commandDeadline = (): CommandDeadline | undefined => {
  const d = current.getStore();
  return d === undefined || d.ended ? undefined : d;
};

/**
 * Runs `work` outside any command's deadline: for a clean-up a command starts but must not lose to its
 * deadline (a throttle's attempt settled, a lease released, an upload's rows deleted), whose failing
 * would leave rows counted or held long after the command.
 */
export const outsideCommandDeadline = <A>(work: () => A): A => current.exit(work);
