import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { merchantStreamId, queueStreamId } from '../domain/shared/streams';
import { billingProjection } from './billing/projection';
import { callHistoryProjection } from './call-history/projection';
import { crmContextProjection } from './crm-context/projection';
import { gatewayPortsProjection } from './gateway-ports/projection';
import { merchantsProjection } from './merchants/projection';
import { FixtureStore, fullCall, gatewayCreated, PLAN } from './testing/fixtures';
import { projectionSpecFor } from './testing/view-spec';

/**
 * Every read model given events, then its rows: the projections' `apply` over an in-memory row store
 * (what a batch runs before it writes), with no database. read-models.int.ts runs the same views
 * through SQLite and PostgreSQL batches.
 */
describe('read models: given events, then rows', () => {
  it('call-history: the call row is the View’s, with its newest position; a timeline row per event', () => {
    const store = new FixtureStore();
    const events = fullCall(store, { callId: 'c1', merchantId: 'm1', at: '2026-11-20T10:00:00.000Z', dtmf: ['*7'] });
    const rows = projectionSpecFor(callHistoryProjection())(events.filter((e) => e.streamId === 'call-c1'));
    rows.then('ch_calls', ([c]) => {
      assert.equal(c!.state, 'TERMINATED');
      assert.equal(c!.last_position, events.filter((e) => e.streamId === 'call-c1').at(-1)!.position);
      assert.equal(c!.dtmf, '[{"digits":"*7","at":"2026-11-20T10:00:09.000Z"}]');
    });
    rows.then('ch_events', (timeline) => assert.deepEqual(timeline.map((e) => e.type), ['CallDownloaded', 'CallInitiated', 'CallRinging', 'CallAnswered', 'DtmfReceived', 'CallTerminated']));
    rows.then('ch_events', (timeline) => assert.ok(timeline.every((e) => e.merchant_id === 'm1' && e.call_id === 'c1')));
  });

  it('call-history (issue 25): the call’s queue events are timeline rows too (ch_feed), under the call and the merchant, other calls’ apart', () => {
    const store = new FixtureStore();
    const at = '2026-11-20T10:00:00.000Z';
    const joined = (callId: string, ticket: number) =>
      store.append(queueStreamId('cc-1'), { type: 'QueueCallJoined', data: { callCenterId: 'cc-1', merchantId: 'm1', callId, linkId: 'l1', ticket, position: ticket, timesOutAt: at, at } }, 'm1');
    const events = [joined('c1', 1), joined('c2', 2), store.append(queueStreamId('cc-1'), { type: 'QueueCallDispatched', data: { callCenterId: 'cc-1', callId: 'c1', ticket: 1, waitedMs: 5, at } }, 'm1')];
    const rows = projectionSpecFor(callHistoryProjection())(events);
    rows.then('ch_feed', (feed) =>
      assert.deepEqual(
        feed.map((r) => [r.call_id, r.type, r.stream_id, r.stream_version, r.merchant_id]).sort(),
        [
          ['c1', 'QueueCallDispatched', 'queue-cc-1', 3, 'm1'],
          ['c1', 'QueueCallJoined', 'queue-cc-1', 1, 'm1'],
          ['c2', 'QueueCallJoined', 'queue-cc-1', 2, 'm1'],
        ],
      ),
    );
    assert.deepEqual(rows.warnings, []);
  });

  it('billing: an answered call is charged with the plan its initiation carried; an unanswered one is not', () => {
    const store = new FixtureStore();
    const events = [
      ...fullCall(store, { callId: 'c1', merchantId: 'm1', at: '2026-11-20T10:00:00.000Z', talkSeconds: 95 }),
      ...fullCall(store, { callId: 'c2', merchantId: 'm1', at: '2026-11-20T11:00:00.000Z', answered: false }),
    ];
    const rows = projectionSpecFor(billingProjection())(events);
    // +44 is rated 12/min in PLAN: 95 s → two 60 s increments → 24, plus the connection fee of 10.
    rows.then('bl_charges', (charges) =>
      assert.deepEqual(charges.map((c) => [c.call_id, c.billable_seconds, c.amount_minor, c.currency, c.source_page, c.day]), [['c1', 120, 34, 'EUR', 'https://shop.example/product/42', '2026-11-20']]),
    );
  });

  it('billing (issue 22): an answered call is rated on its milliseconds from the answer, rounded up to the increments', () => {
    const store = new FixtureStore();
    const perSecond = { ...PLAN, firstIncrementSeconds: 1, nextIncrementSeconds: 1, minimumChargeMinor: 11 };
    const events = [
      ...fullCall(store, { callId: 'c-short', merchantId: 'm1', at: '2026-11-20T10:00:00.000Z', talkSeconds: 0.6, plan: perSecond }),
      ...fullCall(store, { callId: 'c-half', merchantId: 'm1', at: '2026-11-20T11:00:00.000Z', talkSeconds: 9.5, plan: perSecond }),
      ...fullCall(store, { callId: 'c-zero', merchantId: 'm1', at: '2026-11-20T12:00:00.000Z', talkSeconds: 0, plan: perSecond }),
    ];
    const rows = projectionSpecFor(billingProjection())(events);
    // +44 at 12/min, per second, fee 10, minimum 11. 0.6 s: 1 s → 10 + 1 = 11 (was free); 9.5 s: 10 s → 10 + 2 = 12 (was 9 s);
    // answered and hung up in the same millisecond: still the first second, the fee and the minimum.
    rows.then('bl_charges', (charges) =>
      assert.deepEqual(
        charges.map((c) => [c.call_id, c.talk_seconds, c.talk_ms, c.billable_seconds, c.amount_minor]),
        [
          ['c-half', 9, 9_500, 10, 12],
          ['c-short', 0, 600, 1, 11],
          ['c-zero', 0, 0, 1, 11],
        ],
      ),
    );
  });

  it('crm-context: the context row and the ANI interval of a PSTN call; none for a browser call', () => {
    const store = new FixtureStore();
    const events = [...fullCall(store, { callId: 'c1', merchantId: 'm1', at: '2026-11-20T10:00:00.000Z' }), ...fullCall(store, { callId: 'c2', merchantId: 'm1', at: '2026-11-20T10:05:00.000Z', browserAgent: 'k1' })];
    const rows = projectionSpecFor(crmContextProjection())(events);
    rows.then('crm_contexts', (c) => assert.deepEqual(c.map((r) => [r.call_id, r.state, r.ani]), [['c1', 'TERMINATED', '+15550000001'], ['c2', 'TERMINATED', null]]));
    rows.then('crm_ani', (a) => assert.deepEqual(a.map((r) => [r.call_id, r.from_at, r.to_at]), [['c1', '2026-11-20T10:00:02.000Z', '2026-11-20T10:01:43.000Z']]));
    assert.deepEqual(rows.warnings, [], 'the end of a browser call, which holds no caller ID, is no surprise');
  });

  it('gateway-ports: a seizure makes the port busy, its release frees it and adds the busy time to its hours', () => {
    const store = new FixtureStore();
    const events = [gatewayCreated(store, 'gw-1', 2, '2026-11-20T09:00:00.000Z'), ...fullCall(store, { callId: 'c1', merchantId: 'm1', at: '2026-11-20T10:59:00.000Z', talkSeconds: 95 })];
    const seized = events.findIndex((e) => e.type === 'PortSeized');
    projectionSpecFor(gatewayPortsProjection())(events.slice(0, seized + 1)).then('gp_ports', (p) => assert.deepEqual(p.map((r) => [r.number, r.busy, r.call_id]), [[1, 1, 'c1'], [2, 0, null]]));
    const rows = projectionSpecFor(gatewayPortsProjection())(events);
    rows.then('gp_ports', (p) => assert.deepEqual(p.map((r) => [r.number, r.busy, r.call_id]), [[1, 0, null], [2, 0, null]]));
    rows.then('gp_busy', (h) => assert.deepEqual(h.map((r) => [r.hour, r.busy_ms]), [['2026-11-20T10:00:00.000Z', 58_000], ['2026-11-20T11:00:00.000Z', 43_000]]));
  });

  it('merchants: a center, redirected; a rate plan only ever replaced by a newer one', () => {
    const store = new FixtureStore();
    const at = '2026-11-20T09:00:00.000Z';
    const m = merchantStreamId('m1');
    const events = [
      store.append(m, { type: 'MerchantCreated', data: { merchantId: 'm1', name: 'Shop', maxConcurrentCalls: null, allowedOrigins: null, at } } as never, 'm1'),
      store.append(m, { type: 'CallCenterAdded', data: { merchantId: 'm1', callCenterId: 'cc1', name: 'A', phoneNumber: '+14155550100', timeZone: 'UTC', weeklyHours: null, capacity: 2, region: 'eu', kind: 'PSTN', at } } as never, 'm1'),
      store.append(m, { type: 'CallCenterRedirected', data: { merchantId: 'm1', callCenterId: 'cc1', toCallCenterId: 'cc2', at } } as never, 'm1'),
      store.append(m, { type: 'RatePlanSet', data: { merchantId: 'm1', plan: { ...PLAN, version: 2 }, at } }, 'm1'),
      store.append(m, { type: 'RatePlanSet', data: { merchantId: 'm1', plan: PLAN, at } }, 'm1'),
    ];
    const rows = projectionSpecFor(merchantsProjection())(events);
    rows.then('mc_call_centers', (c) => assert.deepEqual(c.map((r) => [r.id, r.merchant_id, r.redirected_to]), [['cc1', 'm1', 'cc2']]));
    rows.then('mc_merchants', ([r]) => assert.equal(JSON.parse(String(r!.rate_plan)).version, 2));
  });
});
