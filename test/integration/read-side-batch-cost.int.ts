import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { POSTGRES_URL, probePostgres, serviceMissing } from '../support/services';
import { applyBatchIn, sourceWatermarksWrite } from '../../src/projections/engine/checkpoint';
import { openDb, type Db, type Sql } from '../../src/adapters/sql/db';
import { billingProjection } from '../../src/projections/billing/projection';
import { callHistoryProjection } from '../../src/projections/call-history/projection';
import { crmContextProjection } from '../../src/projections/crm-context/projection';
import { gatewayPortsProjection } from '../../src/projections/gateway-ports/projection';
import { merchantsProjection } from '../../src/projections/merchants/projection';
import { migrate } from '../../src/projections/engine/migrations';
import { tablesFor } from '../../src/projections/engine/tables';
import { FixtureStore, fullCall, gatewayCreated } from '../../src/projections/testing/fixtures';
import type { StoredEvent } from '../../src/ports/event-store';

/**
 * The Kafka path's read side (issue 21): a batch's cost on PostgreSQL is a few round trips,
 * whatever its size. Inside a busy server every round trip also waits for the event loop, so a
 * count that grew with the batch (a statement per event, per row or per table and projection)
 * would put the projections' lag back where it was. Counted on the transaction's Sql, BEGIN and
 * COMMIT aside: the lock with the versions, the rows read, everything written.
 */
describe('a batch on PostgreSQL costs a fixed number of statements', () => {
  const schema = `read_cost_${randomBytes(5).toString('hex')}`;
  let db: Db | null = null;
  let missing: string | null = null;
  const views = [callHistoryProjection(), billingProjection(), crmContextProjection(), gatewayPortsProjection(), merchantsProjection()];
  const store = new FixtureStore();

  before(async () => {
    missing = await probePostgres();
    if (missing) return;
    db = await openDb({ kind: 'postgres', dataDir: tmpdir(), databaseUrl: POSTGRES_URL, schema });
    await migrate(db, views);
  });
  after(async () => {
    if (!db) return;
    await db.sql.run(`drop schema if exists "${schema}" cascade`);
    await db.close();
  });

  /** Applies `events` to the five projections as ReadModels.applyAll does; returns the statements it took. */
  const applyCounting = async (events: StoredEvent[]): Promise<{ statements: number; applied: number; duplicates: number }> => {
    let statements = 0;
    const result = await db!.transaction(async (tx) => {
      const counting: Sql = {
        ...tx,
        all: (sql, params) => (statements++, tx.all(sql, params)),
        run: (sql, params) => (statements++, tx.run(sql, params)),
      };
      const names = views.map((v) => v.name);
      const watermark = sourceWatermarksWrite(counting, names, [{ source: 'webdial.events/0', watermark: events.at(-1)!.position }]);
      return applyBatchIn(counting, views.map((v) => ({ view: v, key: v.name, tables: tablesFor(counting, '') })), events, { warn: () => {}, error: () => {} }, {
        also: watermark ? [watermark] : [],
        lock: { schema, names, mode: 'shared' },
      });
    });
    const outcomes = [...result.values()];
    return { statements, applied: outcomes.reduce((n, o) => n + o.applied.length, 0), duplicates: outcomes.reduce((n, o) => n + o.duplicates, 0) };
  };

  const calls = (n: number, prefix: string) => {
    const out: StoredEvent[] = [];
    for (let i = 0; i < n; i++)
      out.push(...fullCall(store, { callId: `${prefix}-${i}`, merchantId: `m-${i % 3}`, gatewayId: 'gw-cost', port: (i % 20) + 1, at: '2026-11-20T10:15:00.000Z', dtmf: i % 2 ? ['*1'] : [] }));
    return out;
  };

  it('3 statements for 2 calls and for 50 calls; 2 for a redelivery of them (no rows to read)', async (t) => {
    if (!db) return serviceMissing(t, 'postgres', missing ?? 'not configured');
    await applyCounting([gatewayCreated(store, 'gw-cost', 20, '2026-11-20T10:00:00.000Z')]);
    const small = calls(2, 'small');
    const large = calls(50, 'large');
    const a = await applyCounting(small);
    const b = await applyCounting(large);
    const again = await applyCounting(large);
    assert.ok(a.applied > 0 && b.applied > 10 * a.applied, `the batches applied events (${a.applied}, ${b.applied})`);
    assert.equal(again.applied, 0, 'the redelivery applies nothing');
    assert.ok(again.duplicates > 0);
    assert.deepEqual(
      [a.statements, b.statements, again.statements],
      [3, 3, 2],
      `statements per batch: ${small.length} events ${a.statements}, ${large.length} events ${b.statements}, redelivered ${again.statements}`,
    );
  });
});
