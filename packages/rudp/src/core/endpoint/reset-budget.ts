/**
 * The stateless resets one client host may have from a server each minute
 * (endpoint/stateless-reset.ts). A reset's token is bound to the host that
 * asked (crypto/reset-token.ts) but not to its port, so a client can ask,
 * from its own port, for the token of every connection id the server does
 * not hold now: among them the ids the server will give its neighbours
 * behind the same NAT address, whose connections it could then end by
 * forging the server's address. At the endpoint's 1,000 resets a second, a
 * cluster server's 65,536 QUIC-LB ids took about a minute. Held to
 * `RESETS_PER_HOST_PER_MINUTE`, the collection is what the README's
 * "Stateless reset" figures: days for 16 bits of nonce, centuries for random
 * 32-bit ids. A restarted server's client needs one reset per connection,
 * so a host with that many connections or fewer loses nothing; past it,
 * its other connections time out, as they did before resets.
 *
 * Bounded: a host is counted only once the endpoint's rate
 * (`STATELESS_RESETS_PER_SECOND`) let its reset through, the counts are
 * forgotten all at once each minute, and past `MAX_RESET_BUDGET_HOSTS`
 * hosts in a minute a new one gets nothing until the next. A full table
 * forgets nobody, so a flood of spoofed sources cannot push out a host's
 * count and give it a fresh budget; it only stops resets to new hosts for
 * the rest of that minute, as the endpoint's rate would. Every look-up,
 * refused or not, spends a token of the endpoint's rate (the host's key is
 * parsed from its address, some 2 µs for IPv6), so a host past its budget
 * that asks on at a flood's pace holds back other hosts' resets as a flood
 * of spoofed sources does, but costs no more per datagram than one.
 *
 * Pure: time is the `now` the endpoint is given.
 */

/** Resets a client host (`hostKey`: an IPv4 address, an IPv6 /64) may be sent in one minute. */
export const RESETS_PER_HOST_PER_MINUTE = 16;

/** The budget's period: every count is forgotten once it has passed. */
export const RESET_BUDGET_WINDOW_MS = 60_000;

/** Hosts counted in one minute at most (measured: 63 bytes each with IPv4 keys, 89 with IPv6: 1.5 MB at most); a host past them gets no reset until the next minute. */
export const MAX_RESET_BUDGET_HOSTS = 16_384;

/** Resets sent per host in the current minute; see the file's comment. */
export class ResetBudget {
  private readonly spent = new Map<string, number>();
  /** How much of the current minute has gone by: the sum of the steps forward of the `now`s given. */
  private age = 0;
  private at: number | undefined = undefined;

  /** Whether host `host` may be sent a reset at `now`; counts it if so. */
  take(now: number, host: string): boolean {
    // A clock set back (a driver's wall clock) moves the minute on by nothing, and on from there as it runs:
    // measured from the minute's first `now`, the minute lasted as long again as the clock was set back,
    // every host that had spent its budget got none for that long, and neither did a new one past a full table.
    this.age += this.at === undefined ? 0 : Math.max(0, now - this.at);
    this.at = now;
    if (this.age >= RESET_BUDGET_WINDOW_MS) {
      this.spent.clear();
      this.age = 0;
    }
    const spent = this.spent.get(host) ?? 0;
    if (spent >= RESETS_PER_HOST_PER_MINUTE) return false;
    if (spent === 0 && this.spent.size >= MAX_RESET_BUDGET_HOSTS) return false;
    this.spent.set(host, spent + 1);
    return true;
  }

  /** Hosts counted in the current minute. */
  get size(): number {
    return this.spent.size;
  }
}
