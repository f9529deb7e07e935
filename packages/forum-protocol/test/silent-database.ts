import type { Sql } from 'postgres';

/** What {@link silentDatabase} makes. */
export interface SilentDatabase {
  /** Takes any statement (as a tagged template), answering it with no rows only when {@link answer} is called. */
  readonly sql: Sql;
  /** How many statements it was sent. */
  readonly sent: () => number;
  /** Answers every statement sent so far, with `rows` (none unless given). */
  readonly answer: (rows?: readonly unknown[]) => void;
}

/** A database that takes every statement and answers only when `answer` is called (a hung one until then); counts them. */
export const silentDatabase = (): SilentDatabase => {
  let sent = 0;
  let waiting: ((rows: readonly unknown[]) => void)[] = [];
  const query = (): Promise<readonly unknown[]> => {
    sent += 1;
    return new Promise((resolve) => waiting.push(resolve));
  };
  return {
    sql: query as unknown as Sql,
    sent: () => sent,
    answer: (rows = []) => {
      const now = waiting;
      waiting = [];
      now.forEach((f) => f(rows));
    },
  };
};
