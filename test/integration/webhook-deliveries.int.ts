import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { POSTGRES_URL, probePostgres, serviceMissing } from '../support/services';
import type { DbConfig } from '../../src/adapters/sql/db';
import { WebhookDeliveries, type NewDelivery } from '../../src/webhooks/deliveries';

/**
 * The webhook outbox's promises, on SQLite and on PostgreSQL: idempotent enqueue with the checkpoint,
 * only lane heads claimable, one owner per delivery under concurrent claimers, leases that lapse,
 * retry → FAILED after the configured time, endpoint failure streaks, replay in order.
 */
const T = (s: number) => new Date(Date.UTC(2026, 10, 23, 10, 0, s)).toISOString();

let n = 0;
const row = (endpointId: string, callId: string, seq: number, over: Partial<NewDelivery> = {}): NewDelivery => ({
  id: `msg_${endpointId}_${callId}_${seq}`,
  endpointId,
  merchantId: 'm1',
  streamId: `call-${callId}`,
  seq,
  eventId: `ev-${++n}`,
  eventType: 'CallRinging',
  position: String(n).padStart(10, '0'),
  body: JSON.stringify({ type: 'CallRinging', seq }),
  recordedAt: T(0),
  ...over,
});

/** A fresh outbox per call: a new SQLite directory, or a new PostgreSQL schema (dropped afterwards). */
interface Backend {
  name: string;
  /** A reason the backend is missing, or null. */
  missing(): Promise<string | null>;
  fresh(): DbConfig;
  cleanup(): Promise<void>;
}

const backends: Backend[] = [
  (() => {
    const dirs: string[] = [];
    return {
      name: 'sqlite',
      missing: async () => null,
      fresh: () => {
        dirs.push(mkdtempSync(join(tmpdir(), 'webdial-outbox-')));
        return { kind: 'sqlite' as const, dataDir: dirs[dirs.length - 1]! };
      },
      cleanup: async () => {
        for (const d of dirs) rmSync(d, { recursive: true, force: true });
      },
    };
  })(),
  (() => {
    const schemas: string[] = [];
    return {
      name: 'postgres',
      missing: () => probePostgres(),
      fresh: () => {
        schemas.push(`outbox_test_${randomBytes(5).toString('hex')}`);
        return { kind: 'postgres' as const, dataDir: tmpdir(), databaseUrl: POSTGRES_URL, schema: schemas[schemas.length - 1]! };
      },
      cleanup: async () => {
        const { Client } = await import('pg');
        const c = new Client({ connectionString: POSTGRES_URL });
        await c.connect().catch(() => undefined);
        for (const s of schemas) await c.query(`drop schema if exists "${s}" cascade`).catch(() => undefined);
        await c.end().catch(() => undefined);
      },
    };
  })(),
];

for (const backend of backends) {
  describe(`webhook outbox on ${backend.name}`, () => {
    let missing: string | null = null;
    const opened: WebhookDeliveries[] = [];
    /** A fresh outbox, or a second handle on the previous one (`same`). */
    let last: DbConfig | null = null;
    const open = async (t: TestContext, same = false) => {
      if (missing) {
        serviceMissing(t, backend.name, missing);
        return null;
      }
      if (!same || !last) last = backend.fresh();
      const d = await WebhookDeliveries.open(last);
      opened.push(d);
      return d;
    };
    before(async () => {
      missing = await backend.missing();
    });
    after(async () => {
      for (const d of opened) await d.close().catch(() => undefined);
      await backend.cleanup();
    });

    it('enqueue is idempotent and raises the checkpoint with the rows; opening twice migrates once', async (t) => {
      const d = await open(t);
      if (!d) return;
      await open(t, true);
      const rows = [row('e-idem', 'a', 2), row('e-idem', 'a', 4)];
      assert.equal(await d.enqueue(rows, { name: 'g-idem', position: '0000000005' }, T(0)), 2);
      assert.equal(await d.enqueue(rows, { name: 'g-idem', position: '0000000003' }, T(1)), 0);
      assert.equal(await d.checkpoint('g-idem'), '0000000005', 'never lowered');
      assert.equal((await d.list('e-idem', null, 10, null)).length, 2);
    });

    it('only the head of a lane is claimed; the next one once the head is delivered', async (t) => {
      const d = await open(t);
      if (!d) return;
      await d.enqueue([row('e-lane', 'a', 2), row('e-lane', 'a', 4), row('e-lane', 'a', 5), row('e-lane', 'b', 2)], null, T(0));
      const first = await d.claim('w1', T(1), T(30), [], 10);
      assert.deepEqual(first.map((x) => [x.streamId, x.seq]).sort(), [['call-a', 2], ['call-b', 2]]);
      assert.deepEqual(await d.claim('w2', T(1), T(30), [], 10), [], 'leased heads and the rows behind them are not claimable');
      await d.succeeded(first.find((x) => x.streamId === 'call-a')!, T(2), 204);
      const next = await d.claim('w2', T(2), T(30), [], 10);
      assert.deepEqual(next.map((x) => [x.streamId, x.seq]), [['call-a', 4]]);
      assert.deepEqual(await d.claim('w2', T(2), T(30), ['e-lane'], 10), [], 'a held endpoint gives nothing');
    });

    it('concurrent claimers never share a delivery; an expired lease is taken over', async (t) => {
      const d1 = await open(t);
      if (!d1) return;
      // PostgreSQL: a second pool, so claims really overlap (FOR UPDATE SKIP LOCKED). SQLite: one
      // handle, whose claims queue on its connection (two processes on one file are the e2e's case).
      const d2 = backend.name === 'postgres' ? (await open(t, true))! : d1;
      await d1.enqueue(Array.from({ length: 40 }, (_, i) => row('e-conc', `c${i}`, 2)), null, T(0));
      const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? d1 : d2).claim(`w${i}`, T(1), T(10), [], 7)));
      const ids = claims.flat().map((x) => x.id);
      assert.equal(new Set(ids).size, ids.length, 'no delivery leased twice');
      assert.equal(ids.length, 40);
      const taken = await d1.claim('late', T(11), T(40), [], 100);
      assert.equal(taken.length, 40, 'the leases lapsed at T(10)');
    });

    it('a failing delivery is retried, then FAILED after the configured time; the endpoint streak and a replay', async (t) => {
      const d = await open(t);
      if (!d) return;
      await d.enqueue([row('e-fail', 'a', 2), row('e-fail', 'a', 4)], null, T(0));
      let [x] = await d.claim('w', T(1), T(5), [], 1);
      let r = await d.failed(x!, 'w', T(1), { status: 503, error: 'HTTP 503' }, T(2), T(1 - 10));
      assert.deepEqual(r, { status: 'PENDING', endpointFailingSince: T(1) });
      assert.deepEqual(await d.claim('w', T(1), T(5), [], 1), [], 'not before its next attempt');
      [x] = await d.claim('w', T(2), T(5), [], 1);
      assert.equal(x!.attempts, 1);
      r = await d.failed(x!, 'w', T(12), { status: null, error: 'ECONNREFUSED' }, T(13), T(12 - 10));
      assert.deepEqual(r, { status: 'FAILED', endpointFailingSince: T(1) });
      assert.deepEqual(await d.claim('w', T(20), T(30), [], 10), [], 'a FAILED head holds its lane');
      assert.deepEqual((await d.backlog()).failed >= 1, true);
      const failed = await d.list('e-fail', 'FAILED', 10, null);
      assert.deepEqual(failed.map((f) => [f.seq, f.attempts, f.lastError]), [[2, 2, 'ECONNREFUSED']]);
      assert.equal(await d.replayFailed('e-fail', T(21)), 1);
      const [again] = await d.claim('w', T(21), T(30), [], 10);
      assert.equal(again!.seq, 2, 'the replay goes first, in order');
      await d.succeeded(again!, T(22), 200);
      const [next] = await d.claim('w', T(22), T(30), [], 10);
      assert.equal(next!.seq, 4);
      r = await d.failed(next!, 'w', T(23), { status: 500, error: 'HTTP 500' }, T(24), T(13));
      assert.equal(r.endpointFailingSince, T(23), 'a success ended the streak');
    });

    it('failEndpoint fails what was tried and leaves the rest pending; lists page in event order', async (t) => {
      const d = await open(t);
      if (!d) return;
      await d.enqueue([row('e-fe', 'a', 2), row('e-fe', 'a', 4), row('e-fe', 'b', 2)], null, T(0));
      const claimed = await d.claim('w', T(1), T(5), [], 10);
      for (const c of claimed) await d.failed(c, 'w', T(1), { status: 500, error: 'HTTP 500' }, T(2), T(-100));
      assert.equal(await d.failEndpoint('e-fe'), 2);
      assert.deepEqual((await d.list('e-fe', 'PENDING', 10, null)).map((x) => [x.streamId, x.seq]), [['call-a', 4]]);
      const page1 = await d.list('e-fe', null, 2, null);
      const page2 = await d.list('e-fe', null, 2, `${page1[1]!.position}|${page1[1]!.seq}`);
      assert.deepEqual([...page1, ...page2].map((x) => x.seq), [2, 4, 2]);
    });
  });
}
