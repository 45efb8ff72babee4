import type { TestContext } from 'node:test';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { startServer, type ServerProcess } from './server';
import { POSTGRES_URL, probePostgres, serviceMissing } from './services';

/**
 * A fresh database on the shared PostgreSQL server (POSTGRES_URL) for webdial processes that run as
 * one cluster. Each process keeps a data directory of its own (`startServer(db.env)`): all they share
 * is the database (event store and read models) and the token secret. Two processes on one SQLite
 * data directory are no cluster: the second refuses to start (SINGLE_INSTANCE).
 */
export interface PostgresDatabase {
  /** postgres://…/<the new database> */
  readonly url: string;
  /** WEBDIAL_EVENT_STORE, WEBDIAL_READ_DB, DATABASE_URL and a WEBDIAL_TOKEN_SECRET shared by every process on it. */
  readonly env: Record<string, string>;
  /**
   * Names, in `e`'s message, the transactions open for more than 5 s anywhere on the server: the
   * store delivers only events below the cluster-wide xmin, so one of them stalls every subscription.
   */
  explain(e: unknown): Promise<void>;
  /** DROP DATABASE … WITH (FORCE); idempotent. */
  drop(): Promise<void>;
}

const query = async (sql: string) => {
  const client = new Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    return (await client.query(sql)).rows as Array<Record<string, unknown>>;
  } finally {
    await client.end();
  }
};

/** Creates `<prefix>_<random>`; resolves to why PostgreSQL is unavailable (a string) where it does not answer. */
export const createPostgresDatabase = async (prefix: string): Promise<PostgresDatabase | string> => {
  const missing = await probePostgres();
  if (missing) return missing;
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  await query(`CREATE DATABASE ${name}`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    env: { WEBDIAL_EVENT_STORE: 'postgres', WEBDIAL_READ_DB: 'postgres', DATABASE_URL: url.toString(), WEBDIAL_TOKEN_SECRET: randomBytes(32).toString('base64url') },
    explain: async (e) => {
      if (!(e instanceof Error)) return;
      const rows = await query(
        `SELECT datname, pid, state, backend_xid::text, xact_start FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND xact_start < now() - interval '5 seconds'`,
      ).catch(() => []);
      if (rows.length) e.message += `\n(old transactions holding back the cluster's xmin: ${JSON.stringify(rows)})`;
    },
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch((e: Error) => console.log(`# could not drop ${name}: ${e.message}`));
    },
  };
};

/**
 * Runs `fn` on a fresh database and drops it afterwards. Where PostgreSQL is unavailable the test
 * skips with the reason printed, and fails under CI=true ({@link serviceMissing}).
 */
export const withPostgresDatabase = async (t: TestContext, prefix: string, fn: (db: PostgresDatabase) => Promise<void>): Promise<void> => {
  const db = await createPostgresDatabase(prefix);
  if (typeof db === 'string') return serviceMissing(t, 'PostgreSQL', db);
  try {
    await fn(db);
  } catch (e) {
    await db.explain(e);
    throw e;
  } finally {
    await db.drop();
  }
};

/** Two server processes on the database, each with its own data directory; if the second fails to start, the first is stopped. */
export const startPair = async (db: PostgresDatabase, env: Record<string, string> = {}): Promise<[ServerProcess, ServerProcess]> => {
  const one = await startServer({ ...env, ...db.env });
  const two = await startServer({ ...env, ...db.env }).catch(async (e) => {
    await one.stop();
    throw e;
  });
  return [one, two];
};
