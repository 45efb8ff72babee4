import type { TestContext } from 'node:test';

/**
 * Tests that need a service skip with a printed reason where it is absent, but under CI=true a
 * missing service fails the run (ARCHITECTURE §7).
 */
export const serviceMissing = (t: TestContext, service: string, reason: string): void => {
  const message = `${service} unavailable: ${reason}`;
  if (process.env.CI === 'true') throw new Error(`${message} (required under CI=true)`);
  console.log(`# skip: ${message}`);
  t.skip(message);
};

export const POSTGRES_URL = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Resolves to null when PostgreSQL answers, else to the reason it did not. */
export const probePostgres = async (url = POSTGRES_URL): Promise<string | null> => {
  const { Client } = await import('pg');
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    return null;
  } catch (e) {
    return (e as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
};
