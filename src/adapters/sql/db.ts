/**
 * The read database's connection, an adapter shared by its two writers: the read side's engine
 * (src/projections/engine/) and the webhook outbox (src/webhooks/deliveries.ts).
 */

import Database from 'libsql';
import { MikroORM as PgORM } from '@mikro-orm/postgresql';
import type { EntityManager } from '@mikro-orm/knex';
import { join } from 'node:path';
import { asUnavailable } from '../../ports/dependency';

export type Dialect = 'sqlite' | 'postgres';

// Pure value helpers of the stored values, re-exported for whoever reads rows through this connection.
export { iso, isoInput, jsonOrNull, num, numOrNull, strOrNull } from './values';

/**
 * The small SQL surface the read database's users need, on MikroORM's connection (inside a transaction
 * when it has one). Projections write plain SQL through it because rebuild writes the
 * same rows into differently named tables, which fixed entity metadata cannot express.
 */
export interface Sql {
  readonly dialect: Dialect;
  /** Rows of a SELECT (or of an INSERT/UPDATE ... RETURNING). Placeholders are `?`. */
  all<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  /** A statement whose rows are not needed. */
  run(sql: string, params?: unknown[]): Promise<void>;
  /** A schema-qualified, quoted table name (postgres) or a quoted one (sqlite). */
  table(name: string): string;
}

export interface DbConfig {
  kind: Dialect;
  dataDir: string;
  databaseUrl?: string;
  /** PostgreSQL schema holding every read-model table (created when absent). */
  schema?: string;
}

/** One opened read database: the ORM, the dialect, and helpers to run work in a transaction. */
export interface Db {
  readonly dialect: Dialect;
  readonly schema: string | null;
  /** SQL outside any transaction (queries). */
  readonly sql: Sql;
  /** Runs `work` in one transaction: everything it wrote commits together or not at all. */
  transaction<T>(work: (tx: Sql) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** What the read side uses of MikroORM's SQL connection (AbstractSqlConnection). */
interface Connection {
  execute(sql: string, params: unknown[], method: 'all' | 'run', ctx?: unknown): Promise<unknown>;
  transactional<T>(cb: (trx: unknown) => Promise<T>): Promise<T>;
}

/**
 * SQL on MikroORM's connection, inside the knex transaction `ctx` when given. The connection API is
 * used rather than EntityManager.transactional: there are no entities to flush, and skipping the
 * fork and unit of work makes a transaction about 2.4× cheaper (0.7 vs 1.7 ms on SQLite here).
 */
const bindSql = (conn: Connection, ctx: unknown, dialect: Dialect, schema: string | null): Sql => ({
  dialect,
  all: async <R>(sql: string, params: unknown[] = []) => (await conn.execute(sql, params, 'all', ctx).catch(unavailable)) as R[],
  run: async (sql: string, params: unknown[] = []) => {
    await conn.execute(sql, params, 'run', ctx).catch(unavailable);
  },
  table: (name: string) => (schema ? `${quote(schema)}.${quote(name)}` : quote(name)),
});

/** A lost or refused PostgreSQL connection becomes DependencyUnavailableError('readModels'). */
const unavailable = (e: unknown): never => {
  throw asUnavailable('readModels', e);
};

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Opens the read database through MikroORM 6: libsql on `<dataDir>/read.db`, or PostgreSQL at
 * `databaseUrl` in `schema` (default `public`). No entities are registered: see Sql above.
 */
export const openDb = async (config: DbConfig): Promise<Db> => {
  const common = {
    entities: [],
    discovery: { warnWhenNoEntities: false },
    allowGlobalContext: false,
    debug: false,
  };
  if (config.kind === 'sqlite') return openSqlite(join(config.dataDir, 'read.db'));
  if (!config.databaseUrl) throw new Error('read models on postgres need databaseUrl (DATABASE_URL)');
  const schema = config.schema ?? 'public';
  if (!SCHEMA_NAME.test(schema)) throw new Error(`invalid postgres schema name "${schema}"`);
  const orm = await PgORM.init({
    ...common,
    clientUrl: config.databaseUrl,
    // A database that is down fails a query within seconds (the bus retries the batch, a query
    // answers UNAVAILABLE) rather than queueing it for knex's default minute. Six partitions apply
    // their batches at once in the Kafka mode (app.ts): a connection each, and some for queries.
    pool: { min: 0, max: 10, acquireTimeoutMillis: 10_000 },
    driverOptions: { connection: { connectionTimeoutMillis: 5_000, keepAlive: true, keepAliveInitialDelayMillis: 10_000 } },
  });
  const em = orm.em.fork() as EntityManager;
  await em.execute(`create schema if not exists ${quote(schema)}`);
  const conn = (orm.em.fork() as EntityManager).getConnection() as unknown as Connection;
  return {
    dialect: 'postgres',
    schema,
    sql: bindSql(conn, undefined, 'postgres', schema),
    transaction: <T>(work: (tx: Sql) => Promise<T>) => conn.transactional(async (trx) => work(bindSql(conn, trx, 'postgres', schema))).catch(unavailable),
    close: () => orm.close(true),
  };
};

/**
 * The SQLite read database, on libsql directly: one writing connection with its statements
 * prepared once, and one read-only connection for queries, which therefore never see a batch that
 * is still being written. (MikroORM's libsql path, measured in docs/performance.md, spends about
 * 75 µs of knex per statement and re-opens its connection every 10 s, which drops the
 * busy_timeout and synchronous pragmas: each commit then waited for an fsync, and a second
 * process met SQLITE_BUSY.) Transactions are BEGIN IMMEDIATE: the write lock first, taken with
 * asynchronous retries while another process (a rebuild, a second server) holds it, so that no
 * statement fails later with SQLITE_BUSY_SNAPSHOT; and they run one at a time in this process.
 */
const openSqlite = (file: string): Db => {
  const open = (readonly: boolean) => {
    const db = new Database(file, readonly ? { readonly: true } : {});
    if (!readonly) db.pragma('journal_mode = wal');
    // The writer never waits inside SQLite: a busy wait there would block the event loop (and
    // with it whoever holds the lock in this process). It takes the lock with asynchronous retries.
    db.pragma(`busy_timeout = ${readonly ? 1000 : 0}`);
    // The read models can be rebuilt from the event store: a power cut may cost their last
    // commits (never their integrity), which the consumers then apply again.
    db.pragma('synchronous = normal');
    return db;
  };
  const writer = open(false);
  // Created by the writer first (WAL and the file must exist before a read-only open).
  writer.exec('select 1');
  const reader = open(true);
  const statements = (db: Database.Database) => {
    const cache = new Map<string, Database.Statement>();
    return (sql: string): Database.Statement => {
      let st = cache.get(sql);
      if (!st) {
        st = db.prepare(sql);
        if (cache.size >= 500) cache.delete(cache.keys().next().value!);
        cache.set(sql, st);
      }
      return st;
    };
  };
  const bind = (db: Database.Database): Sql => {
    const prepared = statements(db);
    return {
      dialect: 'sqlite',
      all: async <R>(sql: string, params: unknown[] = []) => {
        const st = prepared(sql);
        // A statement that returns no rows (DDL, a write without RETURNING) cannot be iterated.
        return (st.reader ? st.all(...(params as never[])) : (st.run(...(params as never[])), [])) as R[];
      },
      run: async (sql: string, params: unknown[] = []) => {
        prepared(sql).run(...(params as never[]));
      },
      table: (name: string) => quote(name),
    };
  };
  const tx = bind(writer);
  const begin = writer.prepare('BEGIN IMMEDIATE');
  const commit = writer.prepare('COMMIT');
  const rollback = writer.prepare('ROLLBACK');
  let queue: Promise<unknown> = Promise.resolve();
  /** BEGIN IMMEDIATE, waiting (asynchronously) while another process holds the write lock, up to 30 s. */
  const lockWriter = async () => {
    const deadline = Date.now() + 30_000;
    for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
      try {
        begin.run();
        return;
      } catch (e) {
        if ((e as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw e;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  };
  return {
    dialect: 'sqlite',
    schema: null,
    sql: bind(reader),
    transaction: <T>(work: (tx: Sql) => Promise<T>): Promise<T> => {
      const run = async () => {
        await lockWriter();
        try {
          const result = await work(tx);
          commit.run();
          return result;
        } catch (e) {
          if (writer.inTransaction) rollback.run();
          throw e;
        }
      };
      const next = queue.then(run, run);
      queue = next.catch(() => undefined);
      return next;
    },
    close: async () => {
      await queue;
      reader.close();
      writer.close();
    },
  };
};

/** Column types per dialect. `key` compares bytewise in both (positions, ids, ISO instants). */
export const types = (d: Dialect) => ({
  key: d === 'postgres' ? 'text collate "C"' : 'text',
  text: 'text',
  int: 'integer',
  big: d === 'postgres' ? 'bigint' : 'integer',
  json: 'text',
});
