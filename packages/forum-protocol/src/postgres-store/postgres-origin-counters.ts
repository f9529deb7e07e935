/**
 * Schema 15's counters of what one origin's accounts hold (store/origin-shares.ts): a statement-level trigger
 * on a per-account counter table adds the statement's change of it (its new rows less its old ones), summed by
 * the accounts' origin, to the origin's counter, in the origins' order. The threads' and the uploads' counters
 * are the same text over different tables; written once here, so the two cannot drift apart.
 *
 * Schema 16 counts each origin level (an origin, and an IPv6 origin's /56 and /48: `forum_origin_levels`, the
 * same keys as `originLevels`) in the same tables, keyed by the level's key: an origin's own row is its own
 * level's, as before, so a server of schema 15 still reads its origin's count right.
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

/**
 * The SQL function `forum_origin_levels(origin)` (schema 16): the keys of `origin`'s levels, finest first, as
 * `originLevels` (store/origin-shares.ts) gives them: a global IPv6 /64 key (`a:b:c:d::/64`, hex groups without
 * leading zeros, as rudp's `hostKey` writes it; link-local fe80::/10 aside) with its /56 (`a:b:c:(d & ff00)::/56`)
 * and /48 (`a:b:c::/48`); any other origin alone. In SQL so that the triggers count every level of an account
 * whichever server wrote its row (a server of schema 15 too); tests check it gives `originLevels`' keys.
 */
export const ORIGIN_LEVELS_FUNCTION = `CREATE OR REPLACE FUNCTION forum_origin_levels(origin text) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
     SELECT CASE WHEN m IS NULL OR m[1] ~ '^fe[89ab][0-9a-f]$' THEN ARRAY[origin]
       ELSE ARRAY[origin,
                  m[1] || ':' || m[2] || ':' || m[3] || ':' || to_hex(('x' || lpad(m[4], 8, '0'))::bit(32)::int & 65280) || '::/56',
                  m[1] || ':' || m[2] || ':' || m[3] || '::/48'] END
     FROM (SELECT regexp_match(origin, '^([0-9a-f]{1,4}):([0-9a-f]{1,4}):([0-9a-f]{1,4}):([0-9a-f]{1,4})::/64$') AS m) s $$`;

/**
 * The trigger function and the three triggers (insert, update, delete) that keep `c.origins` from `c.table`:
 * by origin (schema 15), or with `levels` by each of its levels' keys (schema 16).
 */
export const originCounterStatements = (c: OriginCounter, levels = false): readonly string[] => {
  const fn = `forum_count_${c.origins}`;
  // PL/pgSQL resolves a transition table only in a trigger that declares it: one branch per operation.
  const add = (rows: string): string =>
    levels
      ? `INSERT INTO ${c.origins} AS o (origin, ${c.amount})
           SELECT l.level, sum(d.n) FROM (${rows}) d
           JOIN accounts a ON a.username = d.${c.account} AND a.origin IS NOT NULL
           CROSS JOIN LATERAL unnest(forum_origin_levels(a.origin)) AS l(level)
           GROUP BY l.level ORDER BY l.level
           ON CONFLICT (origin) DO UPDATE SET ${c.amount} = o.${c.amount} + EXCLUDED.${c.amount};`
      : `INSERT INTO ${c.origins} AS o (origin, ${c.amount})
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
