import type { Dialect, Sql } from '../../adapters/sql/db';

/**
 * A read-model table described once, so that the migrator and the rebuild create the very same
 * shape: the migrator under the live name, the rebuild under a suffixed name that is later renamed.
 * Constraint and index names carry a token because PostgreSQL (schema-wide) and SQLite (file-wide)
 * keep those names across ALTER TABLE RENAME: a rebuilt table must not collide with the live one.
 */
export interface TableDef {
  name: string;
  /** Column definitions, e.g. `amount_minor ${t.big} not null`. */
  columns(d: Dialect): string[];
  primaryKey: string[];
  indexes?: Array<{ name: string; columns: string[]; unique?: boolean }>;
  /**
   * SQLite: store the rows in primary-key order, without a rowid (one b-tree instead of a table and
   * an index): for tables read and written by their whole key, such as the timeline. Ignored on PostgreSQL.
   */
  withoutRowid?: boolean;
}

/** Physical name of a logical table in a table set: '' is the live set, '__next' a rebuild. */
export type Suffix = '' | '__next';

export const createTableSql = (sql: Sql, def: TableDef, suffix: Suffix, token: string): string[] => {
  const physical = def.name + suffix;
  const cols = def.columns(sql.dialect).join(',\n  ');
  const pk = `constraint ${quoteName(`pk_${def.name}_${token}`)} primary key (${def.primaryKey.join(', ')})`;
  const stmts = [`create table ${sql.table(physical)} (\n  ${cols},\n  ${pk}\n)${def.withoutRowid && sql.dialect === 'sqlite' ? ' without rowid' : ''}`];
  for (const ix of def.indexes ?? []) {
    const name = quoteName(`ix_${def.name}_${ix.name}_${token}`);
    stmts.push(`create ${ix.unique ? 'unique ' : ''}index ${name} on ${sql.table(physical)} (${ix.columns.join(', ')})`);
  }
  return stmts;
};

const quoteName = (n: string) => `"${n}"`;

/** Logical table name → physical name (quoted, schema-qualified) for one table set. */
export type Tables = (logical: string) => string;

export const tablesFor = (sql: Sql, suffix: Suffix): Tables => (logical) => sql.table(logical + suffix);
