/**
 * Login throttling: a sliding window of failed password attempts per
 * account and per source host. Pure state with the clock passed in, so it
 * is tested with a fake clock and the server only supplies `now`.
 */

/** Limits of {@link createLoginRateLimiter}. */
export interface LoginRateLimitOptions {
  /** Failed attempts per account within the window before it is throttled. Default 5. */
  readonly maxFailuresPerAccount?: number;
  /** Failed attempts per source host within the window before it is throttled. Default 20. */
  readonly maxFailuresPerAddress?: number;
  /** Window length, ms. Default 60,000. */
  readonly windowMs?: number;
  /** Most accounts and most hosts tracked (each); beyond, the stalest entry is forgotten. Default 10,000. */
  readonly maxTracked?: number;
}

/** The defaults: 5 per account and 20 per host per minute. */
export const DEFAULT_LOGIN_RATE_LIMIT: Required<LoginRateLimitOptions> = {
  maxFailuresPerAccount: 5,
  maxFailuresPerAddress: 20,
  windowMs: 60_000,
  maxTracked: 10_000,
};

/** Counts failed logins and says when to refuse more. */
export interface LoginRateLimiter {
  /** Milliseconds until a new attempt for `username` from `address` is allowed; 0 if it is allowed now. */
  blockedFor(username: string, address: string | undefined, now: number): number;
  /** Records a wrong password. */
  recordFailure(username: string, address: string | undefined, now: number): void;
  /** Records a right password: the account's failures are forgotten (the host's are not). */
  recordSuccess(username: string): void;
}

/** The host part of a `host:port` / `[v6]:port` address: throttling follows the host, whatever port it uses. */
export const hostOf = (address: string): string => {
  const v6 = /^\[([^\]]+)\]:\d+$/.exec(address);
  if (v6) return v6[1] as string;
  const v4 = /^([^:]+):\d+$/.exec(address);
  return v4 ? (v4[1] as string) : address;
};

/** A bounded map from key to the times of its recent failures (oldest first). */
class FailureLog {
  private readonly entries = new Map<string, number[]>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly maxTracked: number,
  ) {}

  blockedFor(key: string, now: number): number {
    const times = this.recent(key, now);
    if (times.length < this.max) return 0;
    // The attempt that made the count reach `max` must leave the window.
    return (times[times.length - this.max] as number) + this.windowMs - now;
  }

  record(key: string, now: number): void {
    const times = this.recent(key, now);
    times.push(now);
    if (times.length > this.max) times.splice(0, times.length - this.max);
    // Re-insert so Map order is least recently failed first.
    this.entries.delete(key);
    this.entries.set(key, times);
    if (this.entries.size > this.maxTracked) this.evict(now);
  }

  forget(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  private recent(key: string, now: number): number[] {
    const times = this.entries.get(key);
    if (times === undefined) return [];
    let i = 0;
    while (i < times.length && (times[i] as number) <= now - this.windowMs) i++;
    if (i > 0) times.splice(0, i);
    if (times.length === 0) this.entries.delete(key);
    return times;
  }

  private evict(now: number): void {
    for (const [key, times] of this.entries) {
      if (this.entries.size <= this.maxTracked) return;
      const last = times[times.length - 1];
      if (last === undefined || last <= now - this.windowMs) this.entries.delete(key);
    }
    // Still full of live entries: forget the least recently failed.
    for (const key of this.entries.keys()) {
      if (this.entries.size <= this.maxTracked) return;
      this.entries.delete(key);
    }
  }
}

/**
 * A sliding-window limiter: once an account has `maxFailuresPerAccount`
 * failures (or a host `maxFailuresPerAddress`) within `windowMs`, further
 * attempts are refused until the oldest of them leaves the window. State is
 * bounded by `maxTracked` accounts and hosts.
 */
export const createLoginRateLimiter = (options: LoginRateLimitOptions = {}): LoginRateLimiter & { readonly tracked: () => number } => {
  const o = { ...DEFAULT_LOGIN_RATE_LIMIT, ...options };
  const accounts = new FailureLog(o.maxFailuresPerAccount, o.windowMs, o.maxTracked);
  const hosts = new FailureLog(o.maxFailuresPerAddress, o.windowMs, o.maxTracked);
  return {
    blockedFor: (username, address, now) =>
      Math.max(accounts.blockedFor(username, now), address === undefined ? 0 : hosts.blockedFor(hostOf(address), now)),
    recordFailure: (username, address, now) => {
      accounts.record(username, now);
      if (address !== undefined) hosts.record(hostOf(address), now);
    },
    recordSuccess: (username) => accounts.forget(username),
    tracked: () => accounts.size + hosts.size,
  };
};

const seconds = (n: number): string => (n === 1 ? '1 second' : `${n} seconds`);

/** The line shown when a login is throttled. */
export const throttledText = (retryAfterMs: number): string =>
  `Too many failed login attempts, try again in ${seconds(Math.max(1, Math.ceil(retryAfterMs / 1000)))}`;
