/**
 * Schema 15's counters of what one origin's accounts hold (store/origin-shares.ts): a statement-level trigger
 * on a per-account counter table adds the statement's change of it (its new rows less its old ones), summed by
 * the accounts' origin, to the origin's counter, in the origins' order. The threads' and the uploads' counters
 * are the same text over different tables; written once here, so the two cannot drift apart.
 */

/** A per-account counter table and the origin counter its trigger keeps. */
export interface OriginCounter {
  /** The per-account counter table (`creator_thread_counts`, `uploader_bytes`). */
  readonly table: string;
  /** Its column naming the account (`creator`, `uploader`). */
  readonly account: string;
  /** Its column of the counted amount, also the origin table's (`threads`, `bytes`). */
  readonly amount: string;
  /** The origin counter table (`origin_threads`, `origin_upload_bytes`), which names the trigger function and triggers. */
  readonly origins: string;
}

/** The trigger function and the three triggers (insert, update, delete) that keep `c.origins` from `c.table`. */
export const originCounterStatements = (c: OriginCounter): readonly string[] => {
  const fn = `forum_count_${c.origins}`;
  // PL/pgSQL resolves a transition table only in a trigger that declares it: one branch per operation.
  const add = (rows: string): string => `INSERT INTO ${c.origins} AS o (origin, ${c.amount})
           SELECT a.origin, sum(d.n) FROM (${rows}) d
           JOIN accounts a ON a.username = d.${c.account} AND a.origin IS NOT NULL
           GROUP BY a.origin ORDER BY a.origin
           ON CONFLICT (origin) DO UPDATE SET ${c.amount} = o.${c.amount} + EXCLUDED.${c.amount};`;
  const added = `SELECT ${c.account}, ${c.amount} AS n FROM added`;
  const removed = `SELECT ${c.account}, -${c.amount} AS n FROM removed`;
  return [
    `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
     BEGIN
       IF TG_OP = 'INSERT' THEN
         ${add(added)}
       ELSIF TG_OP = 'DELETE' THEN
         ${add(removed)}
       ELSE
         ${add(`${added} UNION ALL ${removed}`)}
       END IF;
       RETURN NULL;
     END $$`,
    `CREATE OR REPLACE TRIGGER ${c.origins}_added AFTER INSERT ON ${c.table} REFERENCING NEW TABLE AS added
     FOR EACH STATEMENT EXECUTE FUNCTION ${fn}()`,
    `CREATE OR REPLACE TRIGGER ${c.origins}_changed AFTER UPDATE ON ${c.table} REFERENCING OLD TABLE AS removed NEW TABLE AS added
     FOR EACH STATEMENT EXECUTE FUNCTION ${fn}()`,
    `CREATE OR REPLACE TRIGGER ${c.origins}_removed AFTER DELETE ON ${c.table} REFERENCING OLD TABLE AS removed
     FOR EACH STATEMENT EXECUTE FUNCTION ${fn}()`,
  ];
};
