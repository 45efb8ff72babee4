import type { Db, Sql } from '../../adapters/sql/db';
import { num, types } from '../../adapters/sql/db';
import { createTableSql } from './tables';
import type { RowProjection } from './rows';

/**
 * Versioned migrations as plain SQL steps (no @mikro-orm/migrations): each runs once, in its own
 * transaction, recorded in `schema_migrations`. Rule for later changes: never edit an applied
 * step; add a new version (ALTER ...) AND update the TableDef, because rebuild creates fresh
 * tables from the TableDefs, i.e. in the latest shape.
 */
export interface Migration {
  version: number;
  name: string;
  /**
   * Columns added to a TableDef after its table was created: added unless the table already has
   * them (a fresh database gets them from migration 2, which creates the tables in the latest shape).
   * Run before `steps`.
   */
  addColumns?(sql: Sql): Array<{ table: string; column: string; type: string }>;
  steps(sql: Sql, views: readonly RowProjection[]): string[];
}

/**
 * A table a later migration adds to a read model (null: every table of a new read model), with its
 * indexes (under `token`'s names), when absent:
 * a fresh database created it already in the read model's latest shape.
 */
const createIfAbsent = (sql: Sql, views: readonly RowProjection[], projection: string, table: string | null, token: string): string[] =>
  views
    .filter((v) => v.name === projection)
    .flatMap((v) => v.tables.filter((def) => table === null || def.name === table))
    .flatMap((def) => createTableSql(sql, def, '', token))
    .map((stmt) => stmt.replace(/^create (unique )?(table|index) /, 'create $1$2 if not exists '));

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
        // billing's log of re-ratings (../billing/rerate.ts), frozen here as this migration created it.
        `create table ${sql.table('bl_rerates')} (
  seq ${t.int} not null primary key,
  merchant_id ${t.key} not null,
  from_at ${t.key} not null,
  to_at ${t.key} not null,
  plan ${t.json},
  at_position ${t.key}
)`,
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
  {
    version: 8,
    name: 'billing: talk time in milliseconds from the answer (issue 22: sub-second calls were free, 9.5 s billed 9 s)',
    // The TableDefs carry both columns. Rows written before are dated from call-history's instants
    // (the same CallAnswered.at and CallTerminated.at billing now reads), so that a re-rating dry
    // run shows what the new rating does to past charges; rows it cannot date keep a null talk_ms.
    addColumns: (sql) => {
      const t = types(sql.dialect);
      return [
        { table: 'bl_calls', column: 'answered_at', type: t.key },
        { table: 'bl_charges', column: 'talk_ms', type: t.big },
      ];
    },
    steps: (sql) => {
      const [charges, calls, history] = [sql.table('bl_charges'), sql.table('bl_calls'), sql.table('ch_calls')];
      const ms = (from: string, to: string) =>
        sql.dialect === 'postgres'
          ? `round(extract(epoch from (${to}::timestamptz - ${from}::timestamptz)) * 1000)::bigint`
          : `cast(round((julianday(${to}) - julianday(${from})) * 86400000.0) as integer)`;
      return [
        `update ${calls} set answered_at = (select h.answered_at from ${history} h where h.id = ${calls}.call_id) where answered = 1 and answered_at is null`,
        `update ${charges} set talk_ms = (select case when ${ms('h.answered_at', 'h.terminated_at')} < 0 then 0 else ${ms('h.answered_at', 'h.terminated_at')} end
           from ${history} h where h.id = ${charges}.call_id and h.answered_at is not null and h.terminated_at is not null)
         where talk_ms is null`,
      ];
    },
  },
  {
    version: 9,
    name: "issue 23: a center's opt-in to the session number as DTMF; contexts by session id (the screen pop's look-up by that number)",
    addColumns: (sql) => [{ table: 'mc_call_centers', column: 'identity_dtmf', type: types(sql.dialect).int }],
    // CONTEXTS.indexes under the name migration 2 gives it on a fresh database (where it exists already).
    steps: (sql) => [`create index if not exists "ix_crm_contexts_session_v1" on ${sql.table('crm_contexts')} (merchant_id, session_id)`],
  },
  {
    version: 10,
    name: 'issue 23: virtual numbers (DIDs) in the merchants read model',
    // A fresh database got mc_dids from migration 5 already (it creates the merchants tables in their latest shape).
    steps: (sql, views) => createIfAbsent(sql, views, 'merchants', 'mc_dids', 'v5'),
  },
  {
    version: 11,
    name: 'issue 21: export tickets used, shared by every instance (a ticket downloads once in the cluster, not once per process)',
    steps: (sql) => {
      const t = types(sql.dialect);
      return [`create table ${sql.table('export_ticket_uses')} (nonce ${t.key} not null primary key, expires_at ${t.big} not null)`];
    },
  },
  {
    version: 12,
    name: "issue 23: inbound calls (a call's direction and the number dialled; a caller's earlier calls by number; billing by direction)",
    // The TableDefs carry these columns: a fresh database has them already (addColumns skips them).
    addColumns: (sql) => {
      const t = types(sql.dialect);
      const direction = `${t.key} not null default 'OUTBOUND'`;
      return [
        { table: 'ch_calls', column: 'direction', type: direction },
        { table: 'ch_calls', column: 'did', type: t.key },
        { table: 'crm_contexts', column: 'direction', type: direction },
        { table: 'crm_contexts', column: 'did', type: t.key },
        { table: 'bl_calls', column: 'direction', type: direction },
        { table: 'bl_charges', column: 'direction', type: direction },
      ];
    },
    // CALLS.indexes under the name migration 2 gives it on a fresh database (where it exists already).
    steps: (sql) => [`create index if not exists "ix_ch_calls_caller_v1" on ${sql.table('ch_calls')} (merchant_id, ani)`],
  },
  {
    version: 13,
    name: "issue 25: a link's queue policy in the merchants read model",
    // LINKS carries the column: a fresh database has it already (addColumns skips it).
    addColumns: (sql) => [{ table: 'mc_links', column: 'queue_policy', type: types(sql.dialect).json }],
    steps: () => [],
  },
  {
    version: 14,
    name: "issue 25: a call's timeline holds its queues', transfers' and callbacks' events (ch_feed)",
    // A fresh database got ch_feed with call-history's tables already. Events stored before stay out of
    // it until call-history is rebuilt (`webdial projections rebuild call-history`).
    steps: (sql, views) => createIfAbsent(sql, views, 'call-history', 'ch_feed', 'v1'),
  },
  {
    version: 15,
    name: "issue 25: callbacks (one row per callback promise) and a merchant's callback prefixes",
    // MERCHANTS carries the column: a fresh database has it already (addColumns skips it).
    addColumns: (sql) => [{ table: 'mc_merchants', column: 'callback_prefixes', type: types(sql.dialect).json }],
    steps: (sql, views) => createIfAbsent(sql, views, 'callbacks', null, 'v15'),
  },
  {
    version: 16,
    name: 'issue 25: billing legs of transferred calls (the hand-overs of a billed call, the rated legs of a charge)',
    // BILL_CALLS and CHARGES carry the columns: a fresh database has them already (addColumns skips them).
    addColumns: (sql) => [
      { table: 'bl_calls', column: 'legs', type: types(sql.dialect).json },
      { table: 'bl_charges', column: 'legs', type: types(sql.dialect).json },
    ],
    steps: () => [],
  },
  {
    version: 18,
    name: "issue 25: a CALLBACK call's media (a PSTN center's try is dialled, not rung in the consoles)",
    // CALLS and CONTEXTS carry the column: a fresh database has it already (addColumns skips it). Rows
    // of earlier tries keep null, which reads as BROWSER: every try was a browser center's then.
    addColumns: (sql) => [
      { table: 'ch_calls', column: 'callback_media', type: types(sql.dialect).key },
      { table: 'crm_contexts', column: 'callback_media', type: types(sql.dialect).key },
    ],
    steps: () => [],
  },
];

const FIRST_FOUR: readonly string[] = ['call-history', 'billing', 'crm-context', 'gateway-ports'];

const hasColumn = async (tx: Sql, schema: string | null, table: string, column: string): Promise<boolean> => {
  const rows =
    tx.dialect === 'postgres'
      ? await tx.all(`select 1 as found from information_schema.columns where table_schema = ? and table_name = ? and column_name = ?`, [schema ?? 'public', table, column])
      : await tx.all(`select 1 as found from pragma_table_info(?) where name = ?`, [table, column]);
  return rows.length > 0;
};

/** Applies the migrations not yet applied. Safe to call from several processes (postgres: advisory lock). */
export const migrate = async (db: Db, views: readonly RowProjection[]): Promise<number[]> => {
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
      for (const c of m.addColumns?.(tx) ?? []) if (!(await hasColumn(tx, db.schema, c.table, c.column))) await tx.run(`alter table ${tx.table(c.table)} add column ${c.column} ${c.type}`);
      for (const step of m.steps(tx, views)) await tx.run(step);
      await tx.run(`insert into ${tx.table('schema_migrations')} (version, name) values (?, ?)`, [m.version, m.name]);
      return true;
    });
    if (done) applied.push(m.version);
  }
  return applied;
};
