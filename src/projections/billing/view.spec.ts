import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { answered, downloaded, initiated, ringing, t } from '../../domain/call/fixtures';
import { PLAN } from '../testing/fixtures';
import { viewSpecFor } from '../testing/view-spec';
import { rowOf } from '../engine/projection-of';
import { billedCallView, chargeOf, planView, type BilledCallRow, type BillingEvent } from './view';

const withPlan = (): BillingEvent => {
  const e = initiated();
  return e.type === 'CallInitiated' ? { ...e, data: { ...e.data, ratePlan: PLAN } } : e;
};
const handedOver = (at: string): BillingEvent => ({ type: 'TransferCompleted', data: { callId: 'c1', transferId: 'tr-1', mode: 'BLIND', to: { callCenterId: 'cc2', agent: 'ag-3' }, at } });
const end = (at = t(75)): BillingEvent => ({
  type: 'CallTerminated',
  data: { callId: 'c1', cause: 'HANGUP', by: 'CALLER', sipStatus: null, gatewayEventId: null, reason: null, talkSeconds: 65, gatewayId: 'gw1', port: 3, at },
});

const downloadedRow: BilledCallRow = {
  call_id: 'c1',
  merchant_id: 'm1',
  link_id: 'l1',
  page_url: 'https://shop.example/p/42',
  referrer: null,
  direction: 'OUTBOUND',
  call_center_id: null,
  destination: null,
  rate_plan: null,
  initiated_at: null,
  answered: 0,
  answered_at: null,
  legs: null,
};
const initiatedRow: BilledCallRow = { ...downloadedRow, call_center_id: 'cc1', destination: '+14155550100', rate_plan: JSON.stringify(PLAN), initiated_at: t(5) };

describe('billed call view (bl_calls): given events, when one more, then the row', () => {
  const call = viewSpecFor(billedCallView);
  it('a download records the page the call is credited to', () => call([]).when(downloaded()).then(downloadedRow));
  it('the initiation adds what is rated: the number dialled and the plan in force then', () => call([downloaded()]).when(withPlan()).then(initiatedRow));
  it('the answer records when the billed time starts, and its first leg', () =>
    call([downloaded(), withPlan()]).when(answered()).then({ ...initiatedRow, answered: 1, answered_at: t(10), legs: JSON.stringify([{ at: t(10), callCenterId: 'cc1', agent: null }]) }));
  it('a completed transfer (issue 25) adds a leg from its instant, to its center and agent', () =>
    call([downloaded(), withPlan(), answered()])
      .when(handedOver(t(40)))
      .then({ ...initiatedRow, answered: 1, answered_at: t(10), legs: JSON.stringify([{ at: t(10), callCenterId: 'cc1', agent: null }, { at: t(40), callCenterId: 'cc2', agent: 'ag-3' }]) }));
  it('a transfer of a call billing never saw answered changes nothing', () => call([downloaded(), withPlan()]).when(handedOver(t(40))).then(initiatedRow));
  it('ringing and the end leave it as it is', () => {
    call([downloaded(), withPlan()]).when(ringing()).then(initiatedRow);
    call([downloaded(), withPlan()]).when(end()).then(initiatedRow);
  });
  it('an event of a call never downloaded creates nothing', () => call([]).when(withPlan()).then(null));
});

describe('plan view (bl_plans)', () => {
  it('a plan set is recorded by merchant and version', () =>
    viewSpecFor(planView)([]).when({ type: 'RatePlanSet', data: { merchantId: 'm1', plan: PLAN, at: t(0) } }).then({ merchant_id: 'm1', version: 1, currency: 'EUR', plan: JSON.stringify(PLAN) }));
});

describe('the charge (bl_charges): the billed call rated when it ends', () => {
  const callBefore = (history: BillingEvent[]) => rowOf(billedCallView, history);
  it('an answered call: its milliseconds from the answer to the end, rounded up to the increments, with the plan its initiation carried', () => {
    // 65 s at 6/min in 60 s increments: 120 s → 12, plus the connection fee of 10.
    const charge = chargeOf(callBefore([downloaded(), withPlan(), answered()]), end());
    assert.deepEqual(charge, {
      call_id: 'c1',
      merchant_id: 'm1',
      link_id: 'l1',
      call_center_id: 'cc1',
      direction: 'OUTBOUND',
      source_page: 'https://shop.example/p/42',
      referrer: null,
      destination: '+14155550100',
      currency: 'EUR',
      plan_version: 1,
      started_at: t(5),
      day: t(5).slice(0, 10),
      terminated_at: t(75),
      talk_seconds: 65,
      talk_ms: 65_000,
      billable_seconds: 120,
      rate_per_minute_minor: 6,
      amount_minor: 22,
      rounding: 'CEIL_TO_MINOR_UNIT_ONCE_PER_CALL',
      rerated: 0,
      legs: JSON.stringify([{ callCenterId: 'cc1', agent: null, talkMs: 65_000, billableSeconds: 120, amountMinor: 22 }]),
    });
  });
  it('a transferred call (issue 25): one leg per holder, each rated by the plan; the charge is their sum, on the same source page', () => {
    // 30 s at cc1 → 60 s billed, 6 + 10; 35 s at cc2 → 60 s billed, 6 + 10.
    const charge = chargeOf(callBefore([downloaded(), withPlan(), answered(), handedOver(t(40))]), end()) as Record<string, unknown>;
    assert.deepEqual(JSON.parse(String(charge.legs)), [
      { callCenterId: 'cc1', agent: null, talkMs: 30_000, billableSeconds: 60, amountMinor: 16 },
      { callCenterId: 'cc2', agent: 'ag-3', talkMs: 35_000, billableSeconds: 60, amountMinor: 16 },
    ]);
    assert.deepEqual([charge.amount_minor, charge.billable_seconds, charge.talk_ms, charge.source_page], [32, 120, 65_000, 'https://shop.example/p/42']);
  });
  it("a callback to the shopper's browser (issue 25): no number, rated CALLBACK at the plan's callback rate, destination BROWSER, on the origin's page", () => {
    const placedB: BillingEvent = {
      type: 'CallbackCallPlaced',
      data: {
        callId: 'c1', merchantId: 'm1', callbackId: 'cb1', attempt: 1, callCenterId: 'cc1', number: null, gatewayId: null, port: null, ani: null, media: 'BROWSER', originCallId: 'c0', linkId: 'l1',
        customerId: null, sessionId: null, pageUrl: 'https://shop.example/p/42', referrer: null, context: null, ratePlan: { ...PLAN, prefixRates: [{ prefix: '+1', ratePerMinuteMinor: 99 }], callbackRatePerMinuteMinor: 12 }, at: t(5),
      },
    };
    const charge = chargeOf(callBefore([placedB, answered()]), end()) as Record<string, unknown>;
    // 65 s at 12/min in 60 s increments: 120 s → 24, plus the connection fee of 10.
    assert.deepEqual([charge.direction, charge.destination, charge.rate_per_minute_minor, charge.amount_minor, charge.source_page], ['CALLBACK', 'BROWSER', 12, 34, 'https://shop.example/p/42']);
  });
  it('a call never answered: no charge record', () => assert.equal(chargeOf(callBefore([downloaded(), withPlan()]), end()), null));
  it('an answered call without a plan: none, and why', () => assert.match(String(chargeOf(callBefore([downloaded(), initiated(), answered()]), end())), /without a rate plan/));
  it('any other event: none', () => assert.equal(chargeOf(callBefore([downloaded(), withPlan(), answered()]), ringing()), null));
});
