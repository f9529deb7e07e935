import * as E from 'fp-ts/lib/Either.js';
import type * as TE from 'fp-ts/lib/TaskEither.js';
import type { Sql } from 'postgres';
import type { StoreError } from '../store/errors.js';
import { cleanUpOutsideDeadline } from './postgres-abandon.js';
import { postgresIoError } from './postgres-timeouts.js';
import { hostLevelsOf, type HostLevel } from '../limits/host-of.js';
import { DEFAULT_ACCOUNT_CREATION_LIMIT, DEFAULT_LOGIN_RATE_LIMIT, type AttemptOutcome, type ThrottleCause } from '../limits/rate-limit.js';
import type { ThrottleCounts, ThrottleSlot } from '../handlers/throttle-counts.js';

/** One sliding window an attempt counts in: `log` names the limit, `key` the account or host within it. */
interface WindowEntry {
  readonly log: string;
  readonly key: string;
  readonly max: number;
  readonly windowMs: number;
  /** Of the full windows, those of the lowest group answer (login: failures, then checks). */
  readonly group: number;
}

/** How a settled attempt's rows are kept: the logs it counts in, and a log whose counted rows of a key go. */
interface Settlement {
  readonly counted: readonly string[];
  readonly forget?: { readonly log: string; readonly key: string };
}

interface ReserveRow {
  readonly attempt: string | null;
  readonly blocked_group: number | null;
  readonly wait_ms: string | null;
  readonly known_entry: number | null;
  readonly known_wait_ms: string | null;
}

/** Windows this server was told are full, at most this many (the oldest answer goes first). */
const MAX_KNOWN_FULL = 10_000;

/**
 * The windows the database said were full of counted rows, and until when:
 * an attempt that counts in one of them is refused here without asking
 * again. Such a window empties no sooner than the database said (a right
 * password, the one thing that clears counted rows early, is itself refused
 * while the account's failures are full), so this refuses nothing the
 * database would let in. A window full only with attempts in flight is not
 * kept: those that end uncounted (a failed creation, a cancel, a right
 * password's failure slot) free their slots at once, and the whole window
 * was refused here for a minute (ten for creations). Without it each refused attempt of a flood cost a statement
 * and its locks: 16,000 attempts from one IPv6 /48 whose counts were full
 * took an honest user's login from a p99 of 12–118 ms to 725 ms (attack
 * round 7).
 */
class KnownFull {
  private readonly until = new Map<string, { readonly at: number; readonly group: number }>();

  /** The entry of `entries` known full at `now` that is full longest, if any. */
  find(entries: readonly WindowEntry[], now: number): { readonly waitMs: number; readonly group: number } | undefined {
    let found: { waitMs: number; group: number } | undefined;
    for (const e of entries) {
      const id = `${e.log}\u0000${e.key}`;
      const full = this.until.get(id);
      if (full === undefined) continue;
      if (full.at <= now) {
        this.until.delete(id);
        continue;
      }
      if (found === undefined || full.group < found.group || (full.group === found.group && full.at - now > found.waitMs)) {
        found = { waitMs: full.at - now, group: full.group };
      }
    }
    return found;
  }

  /** The database said `entry` is full for `waitMs` from `now`. */
  add(entry: WindowEntry, now: number, waitMs: number): void {
    const id = `${entry.log}\u0000${entry.key}`;
    this.until.delete(id);
    if (this.until.size >= MAX_KNOWN_FULL) {
      const oldest = this.until.keys().next();
      if (oldest.done !== true) this.until.delete(oldest.value);
    }
    this.until.set(id, { at: now + waitMs, group: entry.group });
  }
}

// A log per level of a host (its multiple in the name): the keys of different levels never share a count.
const hostEntries = (log: string, levels: readonly HostLevel[], max: number, windowMs: number, group: number): readonly WindowEntry[] =>
  levels.map((l) => ({ log: `${log}/${l.multiple}`, key: l.key, max: max * l.multiple, windowMs, group }));

const LOGIN_FAILURES = 'login-failures';
const LOGIN_CHECKS = 'login-checks';
const ACCOUNT_CREATIONS = 'account-creations';

/**
 * Reserves a slot in every window of `entries` at once (one statement, one
 * round trip: `forum_limit_reserve`, schema 6), or says which group is full
 * and for how long. A database error is a `StoreError`: the caller refuses.
 */
const reserve = (
  sql: Sql,
  knownFull: { readonly full: KnownFull; readonly now: number },
  entries: readonly WindowEntry[],
  now: number | null,
  causeOf: (group: number) => ThrottleCause | undefined,
  settlement: (outcome: AttemptOutcome) => Settlement,
): TE.TaskEither<StoreError, ThrottleSlot> => async () => {
  const throttled = (retryAfterMs: number, group: number): ThrottleSlot => {
    const cause = causeOf(group);
    return cause === undefined ? { kind: 'throttled', retryAfterMs } : { kind: 'throttled', retryAfterMs, cause };
  };
  const full = knownFull.full.find(entries, knownFull.now);
  if (full !== undefined) return E.right(throttled(Math.max(1, Math.ceil(full.waitMs)), full.group));
  try {
    const rows = await sql<ReserveRow[]>`
      SELECT attempt, blocked_group, wait_ms, known_entry, known_wait_ms FROM forum_limit_reserve(
        ${entries.map((e) => e.log)}::text[], ${entries.map((e) => e.key)}::text[], ${entries.map((e) => Math.floor(e.max))}::integer[],
        ${entries.map((e) => Math.floor(e.windowMs))}::bigint[], ${entries.map((e) => e.group)}::integer[], ${now === null ? null : Math.floor(now)}::bigint)`;
    const row = rows[0];
    if (row === undefined) return E.left({ kind: 'io', message: 'forum_limit_reserve returned no row' });
    if (row.attempt === null) {
      const retryAfterMs = Math.max(1, Number(row.wait_ms ?? 1));
      // Only a window full on counted rows: one full with attempts in flight has room again as soon as
      // they end otherwise (a failed creation, a right password), and the database would let the next in.
      const known = row.known_entry === null ? undefined : entries[row.known_entry - 1];
      if (known !== undefined && row.known_wait_ms !== null) knownFull.full.add(known, knownFull.now, Math.max(1, Number(row.known_wait_ms)));
      return E.right(throttled(retryAfterMs, row.blocked_group ?? 0));
    }
    const attempt = row.attempt;
    let settled = false;
    return E.right({
      kind: 'reserved',
      settle: async (outcome) => {
        if (settled) return;
        settled = true;
        const s = settlement(outcome);
        // Not settled (the database gone meanwhile), the rows stay pending and count until their window
        // ends: the limit errs on the side of refusing. Settled past the deadline of the login that
        // reserved them too, which would otherwise leave them so; awaited only until the login must be
        // answered (a database gone silent answers it when it comes back).
        await cleanUpOutsideDeadline(async () => {
          await sql`SELECT forum_limit_settle(${attempt}::bigint, ${[...s.counted]}::text[], ${s.forget?.log ?? null}, ${s.forget?.key ?? null})`.catch(() => undefined);
        });
      },
    });
  } catch (e) {
    return E.left(postgresIoError(e));
  }
};

/** Options of {@link createPostgresThrottleCounts}. */
export interface PostgresThrottleOptions {
  /**
   * Whose clock measures the windows: `'database'` (default: one clock for
   * every server, so one server's clock running ahead cannot expire the
   * others' counts) or `'caller'`, the `now` each attempt carries (tests).
   */
  readonly clock?: 'database' | 'caller';
}

/**
 * The login throttle and the account-creation limit with their counts in
 * the database (`limit_events`, schema 6), so that they hold over every
 * server sharing it, as the memory limiters (rate-limit.ts) hold them over
 * one server's connections: the same windows, per account and per host
 * level (IPv6 /56 and /48 at 4 and 16 times), attempts in flight counted,
 * a right password clearing the account's failures. A login costs two round
 * trips (reserve, settle), each one statement. The differences: an attempt
 * in flight counts only within its window (a crashed server's attempts stop
 * counting once it has passed), nothing is forgotten to make room (the
 * table holds at most each key's limit of rows within a window, and expired
 * rows are swept as new ones come), and the windows are measured on the
 * database's clock, the one clock every server shares (the attempt's `now`
 * is used only with `clock: 'caller'`, for tests that move time).
 */
export const createPostgresThrottleCounts = (sql: Sql, settings: PostgresThrottleOptions = {}): ThrottleCounts => {
  const timeOf = (now: number): number | null => (settings.clock === 'caller' ? now : null);
  // The windows known full are timed on the clock the windows are measured on: the caller's, or this
  // process's monotonic one standing in for the database's (a wait is a duration, not a date).
  const knownOf = (full: KnownFull, now: number): { readonly full: KnownFull; readonly now: number } => ({
    full,
    now: settings.clock === 'caller' ? now : performance.now(),
  });
  return {
    login: (options) => {
      const o = { ...DEFAULT_LOGIN_RATE_LIMIT, ...options };
      const full = new KnownFull();
      return {
        reserve: (username, address, now) => {
          const levels = address === undefined ? [] : hostLevelsOf(address);
          const entries: readonly WindowEntry[] = [
            { log: LOGIN_FAILURES, key: username, max: o.maxFailuresPerAccount, windowMs: o.windowMs, group: 0 },
            ...hostEntries(LOGIN_FAILURES, levels, o.maxFailuresPerAddress, o.windowMs, 0),
            { log: LOGIN_CHECKS, key: username, max: o.maxChecksPerAccount, windowMs: o.windowMs, group: 1 },
            ...hostEntries(LOGIN_CHECKS, levels, o.maxChecksPerAddress, o.windowMs, 1),
          ];
          const failureLogs = entries.filter((e) => e.group === 0).map((e) => e.log);
          const checkLogs = entries.filter((e) => e.group === 1).map((e) => e.log);
          return reserve(
            sql,
            knownOf(full, now),
            entries,
            timeOf(now),
            (group) => (group === 0 ? 'failures' : 'checks'),
            (outcome) => {
              switch (outcome) {
                case 'failure':
                  return { counted: [...failureLogs, ...checkLogs] };
                // A check that ran costs its hash whatever it found; a right password clears the account's failures.
                case 'success':
                  return { counted: checkLogs, forget: { log: LOGIN_FAILURES, key: username } };
                case 'cancel':
                  return { counted: [] };
              }
            },
          );
        },
      };
    },
    creation: (options) => {
      const o = { ...DEFAULT_ACCOUNT_CREATION_LIMIT, ...options };
      const full = new KnownFull();
      return {
        reserve: (address, now) => {
          const levels = address === undefined ? [{ key: '', multiple: 1 }] : hostLevelsOf(address);
          const entries = hostEntries(ACCOUNT_CREATIONS, levels, o.maxPerHost, o.windowMs, 0);
          const logs = entries.map((e) => e.log);
          return reserve(sql, knownOf(full, now), entries, timeOf(now), () => undefined, (outcome) => ({ counted: outcome === 'success' ? logs : [] }));
        },
      };
    },
  };
};
