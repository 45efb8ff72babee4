import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { StoredEvent } from '../../src/ports/event-store';
import { POSTGRES_URL, probePostgres, serviceMissing } from '../support/services';
import { applyBatchIn, readCheckpoint } from '../../src/projections/engine/checkpoint';
import { openDb, type DbConfig, type Sql } from '../../src/adapters/sql/db';
import { billingProjection } from '../../src/projections/billing/projection';
import { callHistoryProjection } from '../../src/projections/call-history/projection';
import { crmContextProjection } from '../../src/projections/crm-context/projection';
import { gatewayPortsProjection } from '../../src/projections/gateway-ports/projection';
import { openReadModels, type CallPage, type ProjectionName, type ReadModels } from '../../src/projections/index';
import { migrate, MIGRATIONS } from '../../src/projections/engine/migrations';
import { tablesFor } from '../../src/projections/engine/tables';
import { FixtureStore, fullCall, gatewayCreated, PLAN, ratePlanSet } from '../../src/projections/testing/fixtures';
import type { Logger } from '../../src/projections/engine/common';
import type { CallEvent } from '../../src/domain/call/events';
import { callView, toCall } from '../../src/projections/call-history/view';
import { screenPopOf } from '../../src/projections/crm-context/view';
import { rowOf } from '../../src/projections/engine/projection-of';
import { callStreamId } from '../../src/domain/shared/streams';

/** Captures log lines so tests can assert on them (and keep the output quiet). */
const capture = () => {
  const lines: Array<{ level: string; msg: string; obj: object }> = [];
  const logger: Logger = {
    warn: (obj, msg) => void lines.push({ level: 'warn', msg, obj }),
    error: (obj, msg) => void lines.push({ level: 'error', msg, obj }),
  };
  return { lines, logger };
};

/** Delivers events to every projection: one transaction per projection (applyBatch), as a batch consumer would. */
const applyAll = async (rm: ReadModels, events: StoredEvent[]) => {
  for (const p of rm.projections) await rm.applyBatch(p.name, events);
};

const T0 = '2026-11-20T10:15:00.000Z';
const EXPECTED_UK_95S = 10 + 24; // fee 10 + ceil(120 s × 12 / 60): 95 s billed as 2 × 60 s at the +44 rate

/** One backend: a fresh SQLite directory or a fresh PostgreSQL schema, dropped afterwards. */
interface Backend {
  name: string;
  config(): Promise<DbConfig | string>; // a string: the reason the backend is missing
  cleanup(): Promise<void>;
}

const sqliteBackend = (): Backend => {
  let dir = '';
  return {
    name: 'sqlite',
    config: async () => {
      dir = mkdtempSync(join(tmpdir(), 'webdial-read-'));
      return { kind: 'sqlite', dataDir: dir };
    },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
};

const dropSchema = async (schema: string) => {
  const { Client } = await import('pg');
  const c = new Client({ connectionString: POSTGRES_URL });
  await c.connect().catch(() => undefined);
  await c.query(`drop schema if exists "${schema}" cascade`).catch(() => undefined);
  await c.end().catch(() => undefined);
};

const postgresBackend = (): Backend => {
  const schema = `read_test_${randomBytes(5).toString('hex')}`;
  return {
    name: 'postgres',
    config: async () => {
      const missing = await probePostgres();
      if (missing) return missing;
      return { kind: 'postgres', dataDir: tmpdir(), databaseUrl: POSTGRES_URL, schema };
    },
    cleanup: () => dropSchema(schema),
  };
};

for (const backend of [sqliteBackend(), postgresBackend()]) {
  describe(`read models on ${backend.name}`, () => {
    let config: DbConfig | null = null;
    let missing: string | null = null;
    const opened: ReadModels[] = [];
    // One store per backend, as in production: event ids and global positions are unique across tests.
    const store = new FixtureStore();
    const open = async (t: TestContext, logger?: Logger): Promise<ReadModels | null> => {
      if (!config) {
        serviceMissing(t, backend.name, missing ?? 'not configured');
        return null;
      }
      const rm = await openReadModels({ ...config, logger: logger ?? capture().logger });
      opened.push(rm);
      return rm;
    };

    before(async () => {
      const c = await backend.config();
      if (typeof c === 'string') missing = c;
      else config = c;
    });
    after(async () => {
      for (const rm of opened) await rm.close().catch(() => undefined);
      await backend.cleanup();
    });

    it("an inbound call's context reads back as INBOUND with the number dialled: the screen pop, the look-up by the caller's number", async (t) => {
      const rm = await open(t);
      if (!rm) return;
      const stream = callStreamId('in_+33100000601_AbCdEfGhJkLm');
      const data = { callId: 'in_+33100000601_AbCdEfGhJkLm', merchantId: 'm-in', did: '+33100000601', ani: '+33612340601', destination: 'CALL_CENTER' as const, callCenterId: 'cc-in', agent: null, linkId: null, sipCallId: 'SCL_x', keyed: null, ratePlan: null, at: T0 };
      await applyAll(rm, [
        store.append(stream, { type: 'InboundCallReceived', data }, 'm-in'),
        store.append(stream, { type: 'CallRinging', data: { callId: data.callId, gatewayEventId: null, at: T0 } }, 'm-in'),
      ]);
      const expected = { callId: data.callId, direction: 'INBOUND', did: data.did, ani: data.ani, callCenterId: 'cc-in', state: 'RINGING' };
      const shown = (c: Record<string, unknown> | null) => c && { callId: c.callId, direction: c.direction, did: c.did, ani: c.ani, callCenterId: c.callCenterId, state: c.state };
      assert.deepEqual(shown(await rm.queries.screenPop(data.callId, 'm-in') as never), expected);
      assert.deepEqual(shown(await rm.queries.contextByAni(data.ani, null, 'm-in') as never), expected);
    });

    it('a full call reaches all four projections with the right rows', async (t) => {
      const rm = await open(t);
      if (!rm) return;
      await applyAll(rm, [gatewayCreated(store, 'gw-1', 2, T0), ratePlanSet(store, 'm-1', PLAN, T0)]);
      const events = fullCall(store, { callId: 'c-full', merchantId: 'm-1', at: T0, talkSeconds: 95, dtmf: ['*76', '#12'] });
      // Mid-call (after CallAnswered and the DTMF): the port is busy and the ANI resolves to the call.
      const midCall = events.filter((e) => e.type !== 'CallTerminated' && e.type !== 'PortReleased');
      await applyAll(rm, midCall);
      const q = rm.queries;
      assert.equal((await q.getCall('c-full'))?.state, 'ANSWERED');
      assert.deepEqual((await q.gateway('gw-1'))?.ports.map((p) => [p.number, p.busy, p.callId]), [
        [1, true, 'c-full'],
        [2, false, null],
      ]);
      assert.equal((await q.contextByAni('+15550000001', null, 'm-1'))?.callId, 'c-full');
      assert.equal(await q.contextByAni('+15550000001', null, 'm-other'), null, 'another merchant sees nothing');

      await applyAll(rm, events.slice(midCall.length));
      const call = await q.getCall('c-full');
      assert.ok(call);
      assert.deepEqual(
        { ...call, dtmf: call.dtmf.map((d) => d.digits) },
        {
          id: 'c-full',
          direction: 'OUTBOUND',
          did: null,
          callbackMedia: null,
          merchantId: 'm-1',
          linkId: 'link-1',
          state: 'TERMINATED',
          callCenterId: 'cc-1',
          destination: '+442071234567',
          gatewayId: 'gw-1',
          port: 1,
          ani: '+15550000001',
          downloadedAt: '2026-11-20T10:15:00.000Z',
          initiatedAt: '2026-11-20T10:15:02.000Z',
          ringingAt: '2026-11-20T10:15:03.000Z',
          answeredAt: '2026-11-20T10:15:08.000Z',
          terminatedAt: '2026-11-20T10:16:43.000Z',
          terminationCause: 'HANGUP',
          terminatedBy: 'CALLER',
          talkSeconds: 95,
          dtmf: ['*76', '#12'],
        },
      );
      assert.equal(await q.getCall('c-full', 'm-other'), null);
      // One fold: the row read back is the View folded over the call's events (what mutations answer).
      const own = events.filter((e) => e.streamId === 'call-c-full').map((e) => ({ type: e.type, data: e.data }) as CallEvent);
      assert.deepEqual(call, toCall(rowOf(callView, own)!));
      assert.deepEqual((await q.contextsForCalls(['c-full'])).get('c-full'), screenPopOf(own));

      const timeline = await q.timeline('c-full');
      assert.deepEqual(
        timeline.map((e) => e.type),
        ['CallDownloaded', 'CallInitiated', 'CallRinging', 'CallAnswered', 'DtmfReceived', 'DtmfReceived', 'CallTerminated'],
      );
      assert.deepEqual((timeline[4].data as { digits: string }).digits, '*76');
      assert.ok(timeline.every((e, i) => i === 0 || timeline[i - 1].position < e.position));

      const charge = (await q.chargesForCalls(['c-full'])).get('c-full');
      assert.ok(charge);
      assert.equal(charge.amountMinor, EXPECTED_UK_95S);
      assert.equal(charge.billableSeconds, 120);
      assert.equal(charge.currency, 'EUR');
      assert.equal(charge.sourcePage, 'https://shop.example/product/42');
      assert.equal(charge.referrer, 'https://search.example/?q=sofa');
      assert.equal(charge.rounding, 'CEIL_TO_MINOR_UNIT_ONCE_PER_CALL');

      const ctx = (await q.contextsForCalls(['c-full'])).get('c-full');
      assert.deepEqual(ctx, {
        callId: 'c-full',
        merchantId: 'm-1',
        direction: 'OUTBOUND',
        did: null,
        callbackMedia: null,
        linkId: 'link-1',
        customerId: 'cust-7',
        sessionId: 'sess-9',
        pageUrl: 'https://shop.example/product/42',
        referrer: 'https://search.example/?q=sofa',
        context: { cart: ['sofa'], total: 499 },
        ani: '+15550000001',
        callCenterId: 'cc-1',
        state: 'TERMINATED',
      });
      assert.equal(await q.contextByAni('+15550000001', null, null), null, 'nobody on the ANI now');
      assert.equal((await q.contextByAni('+15550000001', new Date('2026-11-20T10:16:00Z'), null))?.callId, 'c-full');
      assert.equal(await q.contextByAni('+15550000001', new Date('2026-11-20T10:16:43Z'), null), null, 'interval is half-open');

      const gw = await q.gateway('gw-1');
      assert.deepEqual(gw, {
        id: 'gw-1',
        name: 'Gateway gw-1',
        region: 'eu-west',
        ports: [
          { gatewayId: 'gw-1', number: 1, ani: '+15550000001', busy: false, callId: null },
          { gatewayId: 'gw-1', number: 2, ani: '+15550000002', busy: false, callId: null },
        ],
      });
      // Seized 10:15:02, released 10:16:43: 101 busy seconds in the 10:00 hour.
      assert.deepEqual(await q.portUtilisation('gw-1', '2026-11-20T00:00:00Z', '2026-11-21T00:00:00Z'), [
        { port: 1, hour: '2026-11-20T10:00:00.000Z', busySeconds: 101, utilisation: 101 / 3600 },
      ]);

      const summary = await q.billingSummary('m-1', '2026-11-20T00:00:00Z', '2026-11-21T00:00:00Z', 'SOURCE_PAGE');
      assert.equal(summary.calls, 1);
      assert.equal(summary.amountMinor, EXPECTED_UK_95S);
      assert.deepEqual(summary.lines, [{ key: 'https://shop.example/product/42', calls: 1, billableSeconds: 120, amountMinor: EXPECTED_UK_95S }]);
      for (const p of rm.projections) assert.equal(await rm.checkpoint(p.name), store.events.at(-1)!.position);
    });

    it('an unanswered call has no charge record; a busy port spans hours', async (t) => {
      const rm = await open(t);
      if (!rm) return;
      await applyAll(rm, [gatewayCreated(store, 'gw-2', 1, T0)]);
      await applyAll(rm, fullCall(store, { callId: 'c-na', merchantId: 'm-2', gatewayId: 'gw-2', ani: '+15550000001', at: T0, answered: false }));
      assert.equal((await rm.queries.chargesForCalls(['c-na'])).size, 0);
      assert.equal((await rm.queries.getCall('c-na'))?.terminationCause, 'NO_ANSWER');
      const s = await rm.queries.billingSummary('m-2', '2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z', null);
      assert.deepEqual([s.calls, s.amountMinor, s.currency], [0, 0, 'XXX']);
      // Port 1 again: seized 10:59:30, released 11:01:36 (answered at 10:59:36, 120 s talk): split at 11:00.
      await applyAll(rm, fullCall(store, { callId: 'c-long', merchantId: 'm-2', gatewayId: 'gw-2', at: '2026-11-20T10:59:28.000Z', talkSeconds: 120 }));
      const use = await rm.queries.portUtilisation('gw-2', '2026-11-20T10:00:00Z', '2026-11-20T12:00:00Z');
      assert.deepEqual(
        use.map((u) => [u.hour, u.busySeconds]),
        [
          ['2026-11-20T10:00:00.000Z', 26 + 30], // c-na: 10:15:02 → 10:15:28 (rang, never answered)
          ['2026-11-20T11:00:00.000Z', 96],
        ],
      );
    });

    it('duplicates and redeliveries are never counted twice', async (t) => {
      const { lines, logger } = capture();
      const rm = await open(t, logger);
      if (!rm) return;
      const calls = Array.from({ length: 4 }, (_, i) =>
        fullCall(store, { callId: `c-dup-${i}`, merchantId: 'm-3', gatewayId: 'gw-3', port: i + 1, at: `2026-11-21T0${i}:00:00.000Z`, talkSeconds: 30 + i * 40 }),
      );
      const all = calls.flat();
      // Deliver every event twice in a row, then redeliver the whole history (a consumer-group reset).
      const outcomes: string[] = [];
      for (const e of all) for (let k = 0; k < 2; k++) for (const p of rm.projections) outcomes.push(await rm.apply(p.name, e));
      for (const e of all) for (const p of rm.projections) outcomes.push(await rm.apply(p.name, e));
      assert.equal(outcomes.filter((o) => o === 'applied').length, all.length * rm.projections.length);
      // A redelivered batch (one transaction) is all duplicates too.
      const again = await rm.applyBatch('billing', all);
      assert.equal(again.duplicates, all.length);
      assert.equal(again.applied.length, 0);
      // Concurrent deliveries of one new event to one projection: exactly one effect.
      const race = fullCall(store, { callId: 'c-dup-race', merchantId: 'm-3', gatewayId: 'gw-3', port: 9, at: '2026-11-21T07:00:00.000Z', talkSeconds: 30 });
      const raceEnd = race.findIndex((e) => e.type === 'CallTerminated');
      await applyAll(rm, race.slice(0, raceEnd));
      const racing = await Promise.all(Array.from({ length: 6 }, () => rm.apply('billing', race[raceEnd])));
      assert.deepEqual(racing.sort(), ['applied', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate']);
      await applyAll(rm, race.slice(raceEnd));

      const expected = calls.reduce((sum, _c, i) => {
        const billable = Math.max(60, Math.ceil((30 + i * 40) / 60) * 60);
        return sum + 10 + Math.ceil((billable * 12) / 60);
      }, 10 + 12); // + c-dup-race: 30 s billed as 60 s
      const s = await rm.queries.billingSummary('m-3', '2026-11-21T00:00:00Z', '2026-11-22T00:00:00Z', 'DAY');
      assert.equal(s.calls, 5);
      assert.equal(s.amountMinor, expected);
      assert.deepEqual(s.lines, [{ key: '2026-11-21', calls: 5, billableSeconds: s.billableSeconds, amountMinor: expected }]);
      for (const c of calls) assert.equal((await rm.queries.timeline(c[0].streamId.slice(5))).length, 5);
      const page = await rm.queries.listCalls({ merchantId: 'm-3' }, 10);
      assert.equal(page.rows.length, 5);
      assert.equal(lines.filter((l) => l.level === 'error').length, 0, JSON.stringify(lines));

      // A version gap (v1 then v3) blocks the stream: loud, and never applied over.
      const gapped = fullCall(store, { callId: 'c-gap', merchantId: 'm-3', gatewayId: 'gw-gap', at: T0 });
      const ringing = gapped.findIndex((e) => e.type === 'CallRinging');
      await rm.apply('call-history', gapped[0]);
      const blocked = await rm.applyBatch('call-history', gapped.slice(ringing)); // CallInitiated never came
      assert.equal(blocked.applied.length, 0, 'nothing of the stream is applied past the hole');
      assert.deepEqual(blocked.blocked.filter((b) => b.streamId.startsWith('call-')).map((b) => [b.streamId, b.expected, b.got]), [['call-c-gap', 2, gapped[ringing].streamVersion]]);
      assert.ok(lines.some((l) => l.level === 'error' && /blocked stream call-c-gap/.test(l.msg)));
      assert.ok((await rm.blocked('call-history')).some((b) => b.streamId === 'call-c-gap'));
      // Even the missing event, arriving late, does not unblock it: a rebuild refolds the stream.
      assert.equal((await rm.applyBatch('call-history', gapped.slice(1, ringing))).applied.length, 0);
      assert.equal((await rm.queries.getCall('c-gap'))!.state, 'DOWNLOADED');
    });

    it('rows, versions and watermark commit together: a failure in between leaves none of them', async (t) => {
      if (!config) return serviceMissing(t, backend.name, missing ?? 'not configured');
      await open(t); // migrated
      const db = await openDb(config);
      try {
        const { logger } = capture();
        const real = billingProjection();
        await migrate(db, [callHistoryProjection(), real, crmContextProjection(), gatewayPortsProjection()]);
        const events = fullCall(store, { callId: 'c-crash', merchantId: 'm-4', gatewayId: 'gw-crash', at: T0 });
        const live = tablesFor(db.sql, '');
        const key: ProjectionName = 'billing';
        await db.transaction(async (tx) => void (await applyBatchIn(tx, [{ view: real, key, tables: live }], events.slice(0, -2), logger)));
        // The database fails right after the charge row was written, before the versions are.
        const failing = (tx: Sql): Sql => ({
          ...tx,
          run: async (sql, params) => {
            if (/insert into .*projection_stream.* as s/s.test(sql)) throw new Error('connection lost after rows');
            return tx.run(sql, params);
          },
        });
        const terminated = events.slice(-2);
        await assert.rejects(db.transaction((tx) => applyBatchIn(failing(tx), [{ view: real, key, tables: live }], terminated, logger)), /connection lost after rows/);
        const rows = await db.sql.all(`select * from ${db.sql.table('bl_charges')} where call_id = ?`, ['c-crash']);
        assert.equal(rows.length, 0, 'no charge row without its versions');
        // Redelivery after the restart applies it exactly once.
        const first = await db.transaction((tx) => applyBatchIn(tx, [{ view: real, key, tables: live }], terminated, logger));
        assert.equal(first.get(key)!.applied.length, 2);
        const second = await db.transaction((tx) => applyBatchIn(tx, [{ view: real, key, tables: live }], terminated, logger));
        assert.equal(second.get(key)!.duplicates, 2);
        const after = await db.sql.all(`select amount_minor from ${db.sql.table('bl_charges')} where call_id = ?`, ['c-crash']);
        assert.equal(Number(after[0].amount_minor), EXPECTED_UK_95S);
        assert.equal(await readCheckpoint(db.sql, 'nobody'), null);
      } finally {
        await db.close();
      }
    });

    it('an event the view cannot apply is dead-lettered alone, listed, scoped to its merchant and replayable', async (t) => {
      if (!config) return serviceMissing(t, backend.name, missing ?? 'not configured');
      const { lines, logger } = capture();
      // Its own tables and store: the shared ones are compared with a rebuild further down.
      const own = { ...config, dataDir: mkdtempSync(join(tmpdir(), 'webdial-dl-')), schema: config.schema ? `${config.schema}_dl` : undefined };
      const rm = await openReadModels({ ...own, logger });
      opened.push(rm);
      t.after(() => backend.name === 'sqlite' ? rmSync(own.dataDir, { recursive: true, force: true }) : dropSchema(own.schema!));
      const events = fullCall(new FixtureStore(), { callId: 'c-poison', merchantId: 'm-dl', gatewayId: 'gw-dl', at: T0 });
      // A CallInitiated whose data the view cannot read (say, written by a buggy producer).
      const bad = events.findIndex((e) => e.type === 'CallInitiated');
      const poisoned = events.map((e, i) => (i === bad ? { ...e, data: null } : e));
      const outcome = await rm.applyBatch('call-history', poisoned);
      assert.equal(outcome.deadLettered.length, 1);
      assert.equal(outcome.applied.length, events.length - 1, 'the rest of the batch is applied');
      assert.ok(lines.some((l) => l.level === 'error' && /dead-lettered/.test(l.msg)));
      const listed = await rm.deadLetters({ merchantId: 'm-dl' });
      assert.equal(listed.length, 1);
      assert.equal(listed[0]!.eventId, events[bad]!.eventId);
      assert.equal(listed[0]!.consumer, 'call-history');
      assert.deepEqual(await rm.deadLetters({ merchantId: 'm-other' }), []);
      await assert.rejects(rm.replayDeadLetter(listed[0]!.id, 'm-other'), (e: { code?: string }) => e.code === 'NOT_FOUND');
      // Still unappliable: the replay says so and changes nothing.
      await assert.rejects(rm.replayDeadLetter(listed[0]!.id, 'm-dl'), (e: { code?: string }) => e.code === 'CONFLICT');
      assert.equal((await rm.deadLetters({ merchantId: 'm-dl' }))[0]!.replayedAt, null);
    });

    it('lists calls with stable cursors and filters', async (t) => {
      const rm = await open(t);
      if (!rm) return;
      // Two calls share a download instant: the id breaks the tie.
      const ats = ['2026-11-22T09:00:00.000Z', '2026-11-22T10:00:00.000Z', '2026-11-22T10:00:00.000Z', '2026-11-22T11:00:00.000Z', '2026-11-22T12:00:00.000Z'];
      for (const [i, at] of ats.entries())
        await applyAll(rm, fullCall(store, { callId: `c-list-${i}`, merchantId: 'm-5', linkId: i % 2 ? 'link-b' : 'link-a', at, answered: i !== 4 }));
      const seen: string[] = [];
      let after: string | null = null;
      for (let pages = 0; pages < 5; pages++) {
        const page: CallPage = await rm.queries.listCalls({ merchantId: 'm-5' }, 2, after);
        seen.push(...page.rows.map((r) => r.id));
        assert.equal(page.cursors.length, page.rows.length);
        if (!page.hasNextPage) break;
        after = page.endCursor;
      }
      assert.deepEqual(seen, ['c-list-4', 'c-list-3', 'c-list-1', 'c-list-2', 'c-list-0']);
      assert.deepEqual((await rm.queries.listCalls({ merchantId: 'm-5', linkId: 'link-b' }, 10)).rows.map((r) => r.id), ['c-list-3', 'c-list-1']);
      assert.deepEqual(
        (await rm.queries.listCalls({ merchantId: 'm-5', from: '2026-11-22T10:00:00Z', to: '2026-11-22T12:00:00Z' }, 10)).rows.map((r) => r.id),
        ['c-list-3', 'c-list-1', 'c-list-2'],
      );
      assert.equal((await rm.queries.listCalls({ merchantId: 'm-5', state: 'TERMINATED' }, 10)).rows.length, 5);
      assert.deepEqual((await rm.queries.getCalls(['c-list-2', 'nope', 'c-list-0'])).map((c) => c.id), ['c-list-2', 'c-list-0']);
      await assert.rejects(rm.queries.listCalls({}, 2, 'not-a-cursor'), /cursor/);
    });

    it('a browser (PC-to-PC) call: no port and no caller-ID interval; billed, credited and counted like any call', async (t) => {
      const rm = await open(t);
      if (!rm) return;
      await applyAll(rm, [ratePlanSet(store, 'm-pc', PLAN, T0)]);
      await applyAll(rm, fullCall(store, { callId: 'c-pc-0', merchantId: 'm-pc', callCenterId: 'cc-desk', at: T0, talkSeconds: 30, browserAgent: 'k-agent' }));
      await applyAll(rm, fullCall(store, { callId: 'c-pc-1', merchantId: 'm-pc', callCenterId: 'cc-desk', at: '2026-11-20T11:00:00.000Z', answered: false, browserAgent: 'k-agent' }));
      const q = rm.queries;
      const call = await q.getCall('c-pc-0');
      assert.deepEqual([call?.state, call?.callCenterId, call?.gatewayId, call?.port, call?.ani, call?.talkSeconds], ['TERMINATED', 'cc-desk', null, null, null, 30]);
      assert.equal((await q.contextsForCalls(['c-pc-0'])).get('c-pc-0')?.ani, null);
      const charge = (await q.chargesForCalls(['c-pc-0'])).get('c-pc-0');
      assert.equal(charge?.sourcePage, 'https://shop.example/product/42');
      assert.ok((charge?.amountMinor ?? 0) > 0, 'rated like a call to the center');
      assert.deepEqual(await q.callCenterStats('m-pc', '2026-11-01T00:00:00Z', '2026-12-01T00:00:00Z'), [{ callCenterId: 'cc-desk', calls: 2, answered: 1, talkSeconds: 30 }]);
      // The screen pop's earlier calls of the same customer, newest first, without the call itself.
      assert.deepEqual((await q.customerCalls('m-pc', 'cust-7', 'c-pc-1', 5)).map((c) => c.id), ['c-pc-0']);
      assert.deepEqual(await q.customerCalls('m-other', 'cust-7', 'c-pc-1', 5), [], "another merchant's customer is another customer");
      assert.deepEqual((await q.listCalls({ merchantId: 'm-pc', callCenterId: 'cc-desk' }, 10)).rows.map((c) => c.id), ['c-pc-1', 'c-pc-0']);
      assert.deepEqual((await q.listCalls({ merchantId: 'm-pc', callCenterId: 'cc-other' }, 10)).rows, []);
    });

    it('migration 8 (issue 22) adds its columns to billing tables created before it, once', async (t) => {
      const rm = await open(t);
      if (!rm || !config) return;
      const db = await openDb(config);
      try {
        // The tables as migration 2 created them before issue 22, and migration 8 not yet applied.
        await db.sql.run(`alter table ${db.sql.table('bl_charges')} drop column talk_ms`);
        await db.sql.run(`alter table ${db.sql.table('bl_calls')} drop column answered_at`);
        await db.sql.run(`delete from ${db.sql.table('schema_migrations')} where version = 8`);
        const views = [callHistoryProjection(), billingProjection(), crmContextProjection(), gatewayPortsProjection()];
        assert.deepEqual(await migrate(db, views), [8]);
        assert.deepEqual(await migrate(db, views), [], 'applied once');
        await db.sql.all(`select talk_ms from ${db.sql.table('bl_charges')} limit 1`);
        await db.sql.all(`select answered_at from ${db.sql.table('bl_calls')} limit 1`);
      } finally {
        await db.close();
      }
    });

    it('migration 8 (issue 22): charges rated in whole seconds are dated from call-history, and a dry run shows old against new', async (t) => {
      const rm = await open(t);
      if (!rm || !config) return;
      // 10 minor units a second (600/min), per second, fee 10: the old rating floored to whole seconds and rated 0 s as unanswered.
      const plan = { ...PLAN, ratePerMinuteMinor: 600, prefixRates: [], firstIncrementSeconds: 1, nextIncrementSeconds: 1 };
      await applyAll(rm, fullCall(store, { callId: 'c-22-short', merchantId: 'm-22', destination: '+33123456789', at: '2026-11-25T10:00:00.000Z', talkSeconds: 0.6, plan }));
      await applyAll(rm, fullCall(store, { callId: 'c-22-half', merchantId: 'm-22', destination: '+33123456789', at: '2026-11-25T11:00:00.000Z', talkSeconds: 9.5, plan }));
      const db = await openDb(config);
      try {
        // The rows as billing wrote them before issue 22 (no talk_ms; 0.6 s free, 9.5 s billed 9 s), then migration 8's data steps.
        const charges = db.sql.table('bl_charges');
        await db.sql.run(`update ${charges} set talk_ms = null, billable_seconds = 0, amount_minor = 0 where call_id = ?`, ['c-22-short']);
        await db.sql.run(`update ${charges} set talk_ms = null, billable_seconds = 9, amount_minor = 100 where call_id = ?`, ['c-22-half']);
        for (const step of MIGRATIONS.find((m) => m.version === 8)!.steps(db.sql, []).filter((st) => st.trimStart().startsWith('update'))) await db.sql.run(step);
        const dated = await db.sql.all(`select call_id, talk_ms from ${charges} where merchant_id = ? order by call_id`, ['m-22']);
        assert.deepEqual(dated.map((r) => [r.call_id, Number(r.talk_ms)]), [['c-22-half', 9_500], ['c-22-short', 600]]);
      } finally {
        await db.close();
      }
      const dry = await rm.rerate({ merchantId: 'm-22', from: '2026-11-25T00:00:00Z', to: '2026-11-26T00:00:00Z', dryRun: true });
      assert.deepEqual(
        dry.lines.map((l) => [l.callId, l.talkMs, l.oldBillableSeconds, l.newBillableSeconds, l.oldAmountMinor, l.newAmountMinor, l.diffMinor]),
        [
          ['c-22-short', 600, 0, 1, 0, 20, 20],
          ['c-22-half', 9_500, 9, 10, 100, 110, 10],
        ],
      );
      assert.equal(dry.applied, false);
    });

    it('rerate: dry-run changes nothing, apply changes totals, and a rebuild keeps it', async (t) => {
      const rm = await open(t);
      if (!rm) return;
      const period = { merchantId: 'm-6', from: '2026-11-23T00:00:00Z', to: '2026-11-24T00:00:00Z' };
      for (let i = 0; i < 4; i++)
        await applyAll(rm, fullCall(store, { callId: `c-rr-${i}`, merchantId: 'm-6', at: `2026-11-23T1${i}:00:00.000Z`, talkSeconds: 61 + i * 30 }));
      const before = await rm.queries.billingSummary('m-6', period.from, period.to, null);
      const cheaper = { ...PLAN, version: 2, connectionFeeMinor: 0, firstIncrementSeconds: 1, nextIncrementSeconds: 1 };
      const dry = await rm.rerate({ ...period, plan: cheaper, dryRun: true });
      assert.equal(dry.lines.length, 4);
      assert.ok(dry.totalDiffMinor < 0);
      assert.deepEqual(await rm.queries.billingSummary('m-6', period.from, period.to, null), before, 'dry run wrote nothing');
      // c-rr-0: 61 s at 12/min per second = ceil(61 × 12 / 60) = 13, was 10 + 24 = 34.
      assert.deepEqual(dry.lines[0], {
        callId: 'c-rr-0',
        startedAt: '2026-11-23T10:00:02.000Z',
        talkMs: 61_000,
        oldBillableSeconds: 120,
        newBillableSeconds: 61,
        oldAmountMinor: 34,
        newAmountMinor: 13,
        diffMinor: -21,
      });

      const records = await rm.queries.chargeRecords(period, 3);
      assert.deepEqual(records.rows.map((r) => [r.callId, r.amountMinor, r.rerated]), [['c-rr-0', 34, false], ['c-rr-1', 34, false], ['c-rr-2', 46, false]]);
      const rest = await rm.queries.chargeRecords(period, 3, records.endCursor);
      assert.deepEqual([rest.rows.map((r) => r.callId), rest.hasNextPage], [['c-rr-3'], false]);
      await assert.rejects(rm.queries.billingSummary('m-6', 'yesterday', period.to, null), { code: 'BAD_USER_INPUT' });

      const applied = await rm.rerate({ ...period, plan: cheaper, dryRun: false });
      assert.deepEqual(applied.lines, dry.lines);
      const afterRerate = await rm.queries.billingSummary('m-6', period.from, period.to, null);
      assert.equal(afterRerate.amountMinor, before.amountMinor + applied.totalDiffMinor);
      assert.equal((await rm.rerate({ ...period, plan: cheaper, dryRun: true })).totalDiffMinor, 0, 'idempotent');

      // A call terminated after the re-rating keeps its own plan, before and after a rebuild.
      await applyAll(rm, fullCall(store, { callId: 'c-rr-late', merchantId: 'm-6', at: '2026-11-23T20:00:00.000Z', talkSeconds: 95 }));
      const settled = await rm.queries.billingSummary('m-6', period.from, period.to, 'DAY');
      assert.equal(settled.amountMinor, afterRerate.amountMinor + EXPECTED_UK_95S);
      await rm.rebuild(['billing'], store.readAll, store.events.length, () => undefined);
      assert.deepEqual(await rm.queries.billingSummary('m-6', period.from, period.to, 'DAY'), settled);
      assert.ok((await rm.queries.chargeRecords(period, 10)).rows.filter((r) => r.rerated).length === 4);
    });

    it('rebuild gives equal results, and the old tables answer during it', async (t) => {
      const rm = await open(t);
      if (!rm) return;
      await applyAll(rm, [gatewayCreated(store, 'gw-7', 3, T0), ratePlanSet(store, 'm-7', PLAN, T0)]);
      for (let i = 0; i < 20; i++)
        await applyAll(
          rm,
          fullCall(store, {
            callId: `c-rb-${String(i).padStart(2, '0')}`,
            merchantId: 'm-7',
            gatewayId: 'gw-7',
            port: (i % 3) + 1,
            ani: `+1555000000${(i % 3) + 1}`,
            linkId: `link-${i % 4}`,
            pageUrl: `https://shop.example/p/${i % 5}`,
            at: new Date(Date.parse('2026-11-24T08:00:00Z') + i * 600_000).toISOString(),
            answered: i % 7 !== 0,
            talkSeconds: 20 + i * 13,
            dtmf: i % 2 ? ['*22'] : [],
          }),
        );
      const ids = Array.from({ length: 20 }, (_, i) => `c-rb-${String(i).padStart(2, '0')}`);
      const snapshot = async () => ({
        calls: await rm.queries.listCalls({ merchantId: 'm-7' }, 100),
        charges: [...(await rm.queries.chargesForCalls(ids)).entries()].sort(),
        contexts: [...(await rm.queries.contextsForCalls(ids)).entries()].sort(),
        timeline: await rm.queries.timeline('c-rb-13'),
        byLink: await rm.queries.billingSummary('m-7', '2026-11-24T00:00:00Z', '2026-11-25T00:00:00Z', 'LINK'),
        byCenter: await rm.queries.billingSummary('m-7', '2026-11-24T00:00:00Z', '2026-11-25T00:00:00Z', 'CALL_CENTER'),
        gateway: await rm.queries.gateway('gw-7'),
        use: await rm.queries.portUtilisation('gw-7', '2026-11-24T00:00:00Z', '2026-11-25T00:00:00Z'),
        ani: await rm.queries.contextByAni('+15550000002', new Date('2026-11-24T08:10:30Z'), 'm-7'),
      });
      const expected = await snapshot();
      // Deliver the whole store once more (earlier tests fed some projections only part of it):
      // what was applied is skipped, the rest applied. Only the call with a deliberate gap (test 3)
      // stays different: its skipped CallInitiated can never be applied live, but the rebuild has it.
      await applyAll(rm, store.events);
      const withoutGap = (d: Awaited<ReturnType<ReadModels['dump']>>) =>
        Object.fromEntries(Object.entries(d).map(([k, rows]) => [k, rows.filter((r) => r.id !== 'c-gap' && r.call_id !== 'c-gap')]));
      const dumped = withoutGap(await rm.dump());
      assert.ok(dumped.ch_calls.length >= 20 && dumped.gp_busy.length > 0);
      assert.equal(expected.calls.rows.length, 20);
      assert.ok(expected.byLink.amountMinor > 0);

      // The swap drops the old tables: equality afterwards comes from the replayed events alone.
      let during = 0;
      const result = await rm.rebuild('all', store.readAll, store.events.length, async (done, total) => {
        assert.ok(done <= total);
        // Queries keep answering, from the old tables, while the fresh ones fill.
        assert.deepEqual(await snapshot(), expected);
        during++;
      });
      assert.ok(during >= 1);
      assert.equal(result.events, store.events.length);
      assert.deepEqual(await snapshot(), expected);
      // Every row of every table equals what the live deliveries had built.
      assert.deepEqual(withoutGap(await rm.dump()), dumped);
      for (const p of rm.projections) assert.equal(await rm.checkpoint(p.name), store.events.at(-1)!.position);
      // After the swap, redelivered history is still recognised as applied.
      for (const e of store.events.slice(0, 20)) assert.equal(await rm.apply('billing', e), 'duplicate');

      // While a rebuild runs, one call is stored but not yet delivered, and another is stored AND
      // applied live to the old tables: after the swap both are there, each charged once.
      let appended = false;
      const daySummary = () => rm.queries.billingSummary('m-7', '2026-11-24T00:00:00Z', '2026-11-25T00:00:00Z', null);
      const beforeSecond = await daySummary();
      await rm.rebuild(['call-history', 'billing'], store.readAll, store.events.length, async () => {
        if (appended) return;
        appended = true;
        fullCall(store, { callId: 'c-rb-late', merchantId: 'm-7', gatewayId: 'gw-7', at: '2026-11-24T23:00:00.000Z' });
        await applyAll(rm, fullCall(store, { callId: 'c-rb-live', merchantId: 'm-7', gatewayId: 'gw-7', port: 2, at: '2026-11-24T23:30:00.000Z' }));
        assert.equal((await daySummary()).calls, beforeSecond.calls + 1, 'the live call is visible in the old tables');
      });
      for (const id of ['c-rb-late', 'c-rb-live']) {
        assert.equal((await rm.queries.getCall(id))?.state, 'TERMINATED');
        assert.equal((await rm.queries.chargesForCalls([id])).get(id)?.amountMinor, EXPECTED_UK_95S);
      }
      const afterSecond = await daySummary();
      assert.equal(afterSecond.calls, beforeSecond.calls + 2);
      assert.equal(afterSecond.amountMinor, beforeSecond.amountMinor + 2 * EXPECTED_UK_95S);
      assert.equal(await rm.checkpoint('billing'), store.events.at(-1)!.position);
    });

    it('live deliveries racing a rebuild (from another connection) lose nothing and count nothing twice', async (t) => {
      const rm = await open(t);
      if (!rm) return;
      const call = (i: number) =>
        fullCall(store, { callId: `c-race-${i}`, merchantId: 'm-8', gatewayId: 'gw-8', port: i, at: new Date(Date.parse('2026-11-25T10:00:00Z') + i * 60_000).toISOString() });
      for (let i = 0; i < 10; i++) await applyAll(rm, call(i));
      let stop = false;
      const writer = (async () => {
        let i = 10;
        // Keeps storing and delivering calls until the rebuild has swapped (and a little after).
        while ((!stop || i < 14) && i < 80) {
          await applyAll(rm, call(i++));
          await new Promise((r) => setImmediate(r));
        }
        return i;
      })();
      // The rebuild runs on its own connection, as `webdial projections rebuild` does in its own process.
      const cli = (await open(t))!;
      const rebuilt = cli.rebuild('all', store.readAll, store.events.length, () => undefined).finally(() => (stop = true));
      const [written] = await Promise.all([writer, rebuilt]);
      const s = await rm.queries.billingSummary('m-8', '2026-11-25T00:00:00Z', '2026-11-26T00:00:00Z', null);
      assert.equal(s.calls, written);
      assert.equal(s.amountMinor, written * EXPECTED_UK_95S);
      const page = await rm.queries.listCalls({ merchantId: 'm-8' }, 500);
      assert.equal(page.rows.length, written);
      for (const c of page.rows) assert.equal((await rm.queries.timeline(c.id)).length, 5, c.id);
      for (const p of rm.projections) assert.equal(await rm.checkpoint(p.name), store.events.at(-1)!.position);
      const ports = (await rm.queries.portUtilisation('gw-8', '2026-11-25T00:00:00Z', '2026-11-26T00:00:00Z')).length;
      assert.equal(ports, written, 'one busy interval per call and port, none doubled or lost');
    });

    it('a second rebuild of the same projection takes over; the first stops without swapping', async (t) => {
      const rm = await open(t);
      if (!rm) return;
      await applyAll(rm, store.events);
      const before = await rm.dump(['billing']);
      let second: Promise<unknown> | null = null;
      await assert.rejects(
        rm.rebuild(['billing'], store.readAll, store.events.length, async () => {
          second ??= rm.rebuild(['billing'], store.readAll, store.events.length, () => undefined);
          await second;
        }),
        /taken over/,
      );
      assert.deepEqual(await rm.dump(['billing']), before);
      assert.equal(await rm.checkpoint('billing'), store.events.at(-1)!.position);
    });
  });
}
