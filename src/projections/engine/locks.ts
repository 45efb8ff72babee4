import type { Sql } from '../../adapters/sql/db';

/**
 * PostgreSQL only: live appliers (and re-rating) of a projection share a transaction-scoped
 * advisory lock; the rebuild's swap takes it exclusively, so no event can be committed to the old
 * tables between the swap's final catch-up read and the rename. SQLite needs nothing: a write
 * transaction there already excludes every other writer.
 * Advisory locks are database-wide, hence the schema in the key.
 */
export const lockProjection = (tx: Sql, schema: string | null, name: string, mode: 'shared' | 'exclusive'): Promise<void> =>
  lockProjections(tx, schema, [name], mode);

/** The same for several projections in one statement (one round trip), always in name order. */
export const lockProjections = async (tx: Sql, schema: string | null, names: readonly string[], mode: 'shared' | 'exclusive'): Promise<void> => {
  if (tx.dialect !== 'postgres' || names.length === 0) return;
  const q = projectionLocksQuery(schema, names, mode);
  await tx.run(q.sql, q.params);
};

/** What {@link lockProjections} may be given to take the lock inside the batch's first statement (see applyBatchIn). */
export interface ProjectionLocks {
  schema: string | null;
  names: readonly string[];
  mode: 'shared' | 'exclusive';
}

/** The select of {@link lockProjections} (PostgreSQL), to run alone or as a subquery of another statement. */
export const projectionLocksQuery = (schema: string | null, names: readonly string[], mode: 'shared' | 'exclusive'): { sql: string; params: string[] } => {
  const fn = mode === 'shared' ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock';
  const keys = [...names].sort().map((n) => `webdial-read:${schema ?? ''}:${n}`);
  return { sql: `select ${fn}(hashtext(l.k)) from (values ${keys.map(() => '(?)').join(', ')}) as l(k) order by l.k`, params: keys };
};
