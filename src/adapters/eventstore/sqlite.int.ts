import Database from 'libsql';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventStoreContract } from './contract';
import { SqliteEventStore } from './sqlite';

// Two instances on one file stand in for two processes: each sees the other's appends by polling.
eventStoreContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'webdial-es-'));
  const file = join(dir, 'events.sqlite');
  return {
    uniqueEventIds: true,
    open: async (options) => new SqliteEventStore(file, { pollMs: 50, ...options }),
    writeRaw: async (streamId, streamVersion, e) => {
      const db = new Database(file);
      try {
        db.prepare(
          `INSERT INTO events (event_id, stream_id, stream_version, type, data, occurred_at, recorded_at,
             merchant_id, correlation_id, causation_id, schema_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(e.eventId, streamId, streamVersion, e.type, JSON.stringify(e.data), e.occurredAt, new Date().toISOString(),
          e.merchantId, e.correlationId, e.causationId, e.schemaVersion);
      } finally {
        db.close();
      }
    },
    dispose: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
