import type { Db, Sql } from './db';
import { num, types } from './db';
import { rerateLogSql } from './billing/rerate';
import { createTableSql } from './tables';
import type { View } from './rows';

/**
 * Versioned migrations as plain SQL steps (no @mikro-orm/migrations): each runs once, in its own
 * transaction, recorded in `schema_migrations`. Rule for later changes: never edit an applied
 * step; add a new version (ALTER ...) AND update the TableDef, because rebuild creates fresh
 * tables from the TableDefs, i.e. in the latest shape.
 */
export interface Migration {
  version: number;
  name: string;
  steps(sql: Sql, views: readonly View[]): string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'projection checkpoints and the re-rating log',
    steps: (sql) => {
      const t = types(sql.dialect);
      return [
        `create table ${sql.table('projection_checkpoint')} (projection ${t.key} not null primary key, position ${t.key} not null)`,
        `create table ${sql.table('projection_stream')} (
          projection ${t.key} not null, stream_id ${t.key} not null, version ${t.int} not null,
          primary key (projection, stream_id))`,
        rerateLogSql(sql.dialect, sql.table('bl_rerates')),
      ];
    },
  },
  {
    version: 2,
    name: 'read models: call-history, billing, crm-context, gateway-ports',
    // The first four projections; later ones create their tables in migrations of their own.
    steps: (sql, views) => views.filter((v) => FIRST_FOUR.includes(v.name)).flatMap((v) => v.tables.flatMap((def) => createTableSql(sql, def, '', 'v1'))),
  },
  {
    version: 3,
    name: 'rebuild ownership: the latest rebuild of a projection owns its fresh tables',
    steps: (sql) => {
      const t = types(sql.dialect);
      return [
        `create table ${sql.table('projection_rebuild')} (projection ${t.key} not null primary key, token ${t.text} not null, started_at ${t.text} not null)`,
      ];
    },
  },
  {
    version: 4,
    name: 'watermarks per bus source, streams blocked on a version gap, dead letters',
    steps: (sql) => {
      const t = types(sql.dialect);
      const serial = sql.dialect === 'postgres' ? 'bigint generated always as identity primary key' : 'integer primary key';
      return [
        // How far each source (a Kafka partition, or the in-process bus) has been applied: the
        // lowest of them is the projection's checkpoint. '' = nothing yet.
        `create table ${sql.table('projection_watermark')} (
          projection ${t.key} not null, source ${t.key} not null, position ${t.key} not null,
          primary key (projection, source))`,
        // A stream blocked on a version gap is flagged where its version is read: no second query per batch.
        `alter table ${sql.table('projection_stream')} add column blocked ${t.int} not null default 0`,
        `create table ${sql.table('projection_blocked')} (
          projection ${t.key} not null, stream_id ${t.key} not null, expected_version ${t.int} not null,
          got_version ${t.int} not null, position ${t.key} not null, at ${t.key} not null,
          primary key (projection, stream_id))`,
        `create table ${sql.table('dead_letters')} (
          id ${serial}, consumer ${t.key} not null, event_id ${t.key}, type ${t.text}, stream_id ${t.key},
          stream_version ${t.int}, position ${t.key}, merchant_id ${t.key}, origin ${t.text}, error ${t.text} not null,
          payload ${t.text}, at ${t.key} not null, replayed_at ${t.key})`,
        `create index ix_dead_letters_merchant on ${sql.table('dead_letters')} (merchant_id, id)`,
      ];
    },
  },
  {
    version: 5,
    name: 'read model: merchants (configuration and API keys, as the API reads them back)',
    steps: (sql, views) => views.filter((v) => v.name === 'merchants').flatMap((v) => v.tables.flatMap((def) => createTableSql(sql, def, '', 'v5'))),
  },
  {
    version: 6,
    name: "crm-context: a customer's calls by merchant and customer id (the screen pop's earlier calls)",
    // CONTEXTS.indexes under the name migration 2 gives it on a fresh database (where it exists already).
    steps: (sql) => [`create index if not exists "ix_crm_contexts_customer_v1" on ${sql.table('crm_contexts')} (merchant_id, customer_id)`],
  },
  {
    version: 7,
    name: 'call-history: the timeline keyed by call and version (one b-tree on SQLite; half the cost of a row)',
    steps: (sql, views) => {
      const def = views.flatMap((v) => v.tables).find((t) => t.name === 'ch_events')!;
      const cols = 'event_id, call_id, merchant_id, type, stream_version, position, occurred_at, data';
      return [
        ...createTableSql(sql, { ...def, name: 'ch_events_v7' }, '', 'v7'),
        `insert into ${sql.table('ch_events_v7')} (${cols}) select ${cols} from ${sql.table('ch_events')} where true on conflict do nothing`,
        `drop table ${sql.table('ch_events')}`,
        `alter table ${sql.table('ch_events_v7')} rename to "ch_events"`,
      ];
    },
  },
];

const FIRST_FOUR: readonly string[] = ['call-history', 'billing', 'crm-context', 'gateway-ports'];

/** Applies the migrations not yet applied. Safe to call from several processes (postgres: advisory lock). */
export const migrate = async (db: Db, views: readonly View[]): Promise<number[]> => {
  const t = types(db.dialect);
  await db.sql.run(
    `create table if not exists ${db.sql.table('schema_migrations')} (version ${t.int} not null primary key, name ${t.text} not null)`,
  );
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    const done = await db.transaction(async (tx) => {
      if (tx.dialect === 'postgres') await tx.run(`select pg_advisory_xact_lock(hashtext(?))`, [`webdial-read-migrate:${db.schema}`]);
      const rows = await tx.all(`select version from ${tx.table('schema_migrations')} where version = ?`, [m.version]);
      if (rows.length > 0 && num(rows[0].version) === m.version) return false;
      for (const step of m.steps(tx, views)) await tx.run(step);
      await tx.run(`insert into ${tx.table('schema_migrations')} (version, name) values (?, ?)`, [m.version, m.name]);
      return true;
    });
    if (done) applied.push(m.version);
  }
  return applied;
};
