import { Client } from 'pg';
import { randomBytes } from 'node:crypto';
import { POSTGRES_URL, probePostgres, serviceMissing } from '../support/services';
import type { NewEvent } from '../../src/ports/event-store';
import { eventStoreContract } from '../../src/adapters/eventstore/contract';
import { PostgresEventStore } from '../../src/adapters/eventstore/postgres';

// Each harness gets a fresh schema (other engineers share the server), dropped afterwards.
eventStoreContract('postgres', async (t) => {
  const missing = await probePostgres();
  if (missing) {
    serviceMissing(t, 'PostgreSQL', missing);
    return null;
  }
  const schema = `es_test_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  // Migrations run on open; run them once here so writeRaw can be used before any store opened.
  await (await PostgresEventStore.open(POSTGRES_URL, { schema })).close();
  return {
    uniqueEventIds: true,
    open: async (options) => PostgresEventStore.open(POSTGRES_URL, { schema, pollMs: 100, poolSize: 12, ...options }),
    writeRaw: async (streamId, streamVersion, e) => {
      await admin.query(
        `INSERT INTO "${schema}".events (event_id, stream_id, stream_version, type, data, occurred_at, merchant_id,
           correlation_id, causation_id, schema_version) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9, $10)`,
        [e.eventId, streamId, streamVersion, e.type, JSON.stringify(e.data), e.occurredAt, e.merchantId, e.correlationId, e.causationId, e.schemaVersion],
      );
    },
    holdAppend: async (store, streamId: string, events: NewEvent[]) => {
      const pg = store as PostgresEventStore;
      const client = new Client({ connectionString: POSTGRES_URL });
      await client.connect();
      await client.query('BEGIN');
      try {
        await pg.appendOn(client, streamId, events, 'any');
      } catch (e) {
        await client.end();
        throw e;
      }
      let open = true;
      const finish = (sql: string) => async () => {
        if (!open) return;
        open = false;
        try {
          await client.query(sql);
          pg.notifyLater();
        } finally {
          await client.end();
        }
      };
      return { commit: finish('COMMIT'), rollback: finish('ROLLBACK') };
    },
    dispose: async () => {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    },
  };
}, { heldTransactions: true });
