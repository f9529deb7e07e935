/**
 * CRT in PostgreSQL: which locks make the thread limits hold across servers
 * without making every CRT wait for every other.
 *
 * - The title needs no lock: it is the primary key, and the insert does
 *   nothing on a conflict (a concurrent CRT of the same title answers "exists").
 * - The per-account limit needs the account's CRTs to count one at a time:
 *   each takes its account's slot lock, one of {@link CREATE_SLOTS} advisory
 *   locks picked by a hash of the name. Accounts of different slots never
 *   wait for each other (two of one slot do, as if they were one account).
 * - The forum-wide limit needs every CRT in flight to be seen, or bounded. A
 *   slot is held until its CRT commits, so at most {@link CREATE_SLOTS} CRTs
 *   are in flight at once: while the forum has room for that many more, a
 *   CRT that counted before another committed still cannot take it past the
 *   limit. Nearer the limit a CRT takes the gate lock exclusively (every CRT
 *   holds it, shared otherwise), counts with no other CRT in flight, and CRTs
 *   run one at a time, as all of them used to.
 *
 * - The per-origin limit (the threads of the accounts one host created,
 *   store/origin-shares.ts, and of an IPv6 origin's /56 and /48) needs the
 *   CRTs of each level to count one at a time: each takes its origin's
 *   levels' locks after the slot, finest first (postgres-origin-shares.ts).
 *
 * The counts themselves are rows kept by triggers (schema 4): the forum's
 * striped by slot, so that CRTs of two slots never wait for one counter row.
 */
import * as E from 'fp-ts/lib/Either.js';
import type { Sql, TransactionSql } from 'postgres';
import { threadLimitProblem, type ThreadLimitError, type ThreadLimits } from '../store/thread-limits.js';
import { committedUnderLock } from './postgres-commit-landed.js';
import { lockOriginOf, ORIGIN_CREATE_LOCK_CLASS, originLevelThreads } from './postgres-origin-shares.js';

/** Class of CRT's two-key advisory locks ("crt"), apart from the one-key migration lock. */
export const CREATE_LOCK_CLASS = 0x637274;

/** How many account slots CRTs lock; a power of two (the slot is the name's hash masked). */
export const CREATE_SLOTS = 64;

// The gate's key is no slot's (slots are 0…CREATE_SLOTS−1).
const GATE_KEY = -1;

/** The gate's key as `pg_locks.objid` shows it (an oid: −1 as 2³² − 1); schema 4 refuses a thread created without the gate. */
export const GATE_KEY_OID = 2 ** 32 + GATE_KEY;

/** How a CRT holds the gate: shared while the forum has room for every CRT that may be in flight, exclusive nearer its limit. */
export type CreateMode = 'shared' | 'exclusive';

// The account's slot lock alone (every CRT by `creator` holds it until it ends).
const lockSlot = (tx: TransactionSql, creator: string): Promise<unknown> => tx`SELECT pg_advisory_xact_lock(${CREATE_LOCK_CLASS}, hashtext(${creator}) & ${CREATE_SLOTS - 1})`;

/**
 * Takes the locks a CRT by `creator` holds until its transaction ends: the
 * gate in `mode`, then the account's slot. Exported for tests, which hold
 * them to show who waits for whom.
 */
export const lockForCreate = async (tx: TransactionSql, creator: string, mode: CreateMode): Promise<void> => {
  // Pipelined: one round trip, run in this order (gate first, as every CRT does, so none deadlock).
  await Promise.all([
    mode === 'shared' ? tx`SELECT pg_advisory_xact_lock_shared(${CREATE_LOCK_CLASS}, ${GATE_KEY})` : tx`SELECT pg_advisory_xact_lock(${CREATE_LOCK_CLASS}, ${GATE_KEY})`,
    lockSlot(tx, creator),
  ]);
};

/** The slot `creator`'s CRTs lock (for tests: which accounts share one). */
export const createSlot = async (sql: Sql, creator: string): Promise<number> => {
  const rows = await sql<{ slot: number }[]>`SELECT hashtext(${creator}) & ${CREATE_SLOTS - 1} AS slot`;
  return rows[0]?.slot ?? 0;
};

type Outcome = E.Either<ThreadLimitError, boolean>;

/** One CRT transaction in `mode`; `'exclusive'` when a shared one found the forum too near its limit to decide. */
const createIn = (sql: Sql, limits: ThreadLimits, title: string, creator: string, mode: CreateMode, wrote: (xid: string) => void): Promise<Outcome | 'exclusive'> =>
  sql.begin(async (tx): Promise<Outcome | 'exclusive'> => {
    // The creator's origin's levels' locks after the slot (postgres-origin-shares.ts): CRTs by accounts of one
    // origin, or of one /56 or /48, count one after another, whatever their slots. Not taken when the bound is off.
    const [, origin] = await Promise.all([lockForCreate(tx, creator, mode), limits.originShares === 0 ? undefined : lockOriginOf(tx, ORIGIN_CREATE_LOCK_CLASS, creator)]);
    // Statements started after the locks: under READ COMMITTED they see every CRT that held them before.
    // The counts are kept by triggers in the transaction of each insert and delete (schema 4): a few rows
    // read, however many threads there are, and exactly the threads committed.
    const [exists, counts, ours] = await Promise.all([
      tx`SELECT 1 FROM threads WHERE title = ${title}`,
      tx<{ total: number; mine: number }[]>`
        SELECT (SELECT COALESCE(sum(threads), 0) FROM thread_counts)::int AS total,
               COALESCE((SELECT threads FROM creator_thread_counts WHERE creator = ${creator}), 0) AS mine`,
      origin === undefined ? undefined : originLevelThreads(tx, creator),
    ]);
    if (exists.length > 0) return E.right(false);
    const total = counts[0]?.total ?? 0;
    const held = new Map(ours?.map((l) => [l.key, l.held]));
    const refused = threadLimitProblem(limits, total, counts[0]?.mine ?? 0, ours === undefined ? undefined : { levels: ours, threads: (key) => held.get(key) ?? 0 });
    if (refused !== undefined) return E.left(refused);
    // The other slots' CRTs in flight, not counted above, and this one must all fit.
    if (mode === 'shared' && total + CREATE_SLOTS > limits.maxThreads) return 'exclusive';
    const rows = await tx<{ xid: string }[]>`INSERT INTO threads (title, creator) VALUES (${title}, ${creator}) ON CONFLICT DO NOTHING RETURNING txid_current()::text AS xid`;
    const xid = rows[0]?.xid;
    if (xid !== undefined) wrote(xid);
    return E.right(xid !== undefined);
  });

/**
 * Creates the thread `title` for `creator` unless it exists (`false`) or a
 * limit refuses it, exactly however many CRTs run at once on however many
 * servers (the module comment says how). `wrote` is told the transaction's id
 * once the row is inserted, for the caller to ask whether it committed if its
 * COMMIT fails ({@link createCommittedAfterAll}).
 */
export const createThreadInPostgres = async (
  sql: Sql,
  limits: ThreadLimits,
  title: string,
  creator: string,
  wrote: (xid: string) => void = () => undefined,
): Promise<Outcome> => {
  const shared = await createIn(sql, limits, title, creator, 'shared', wrote);
  if (shared !== 'exclusive') return shared;
  const exclusive = await createIn(sql, limits, title, creator, 'exclusive', wrote);
  // Only a shared CRT asks for another try; the type cannot say so.
  if (exclusive === 'exclusive') throw new Error('an exclusive CRT left the outcome undecided');
  return exclusive;
};

/**
 * Whether the CRT by `creator` of transaction `xid`, whose COMMIT's answer was lost, committed after all
 * (postgres-commit-landed.ts). Asked under the account's slot lock, which that CRT held until it ended: its
 * new row, unseen by others until it commits, has no lock to wait on while its COMMIT still runs.
 */
export const createCommittedAfterAll = (sql: Sql, creator: string, xid: string): Promise<boolean | undefined> =>
  committedUnderLock(sql, (tx) => lockSlot(tx, creator), xid);
