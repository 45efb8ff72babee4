import type { CallEvent } from '../../domain/call/events';
import type { RatePlanSet } from '../../domain/merchant/events';
import type { RatePlan } from '../../domain/rating/rate-plan';
import { rateCall } from '../../domain/rating/rating';
import { talkMsBetween } from '../../domain/call/call';
import type { StoredEvent } from '../../ports/event-store';
import { iso, jsonOrNull, num, strOrNull, types } from '../db';
import type { RowStore, RowProjection } from '../rows';
import type { TableDef } from '../tables';

/** What billing remembers of a live call until it is rated. */
export const BILL_CALLS: TableDef = {
  name: 'bl_calls',
  columns: (d) => {
    const t = types(d);
    return [
      `call_id ${t.key} not null`,
      `merchant_id ${t.key} not null`,
      `link_id ${t.key}`,
      `page_url ${t.text}`,
      // Migration 12 (issue 23): OUTBOUND or INBOUND, rated with the plan's rate of that direction.
      `direction ${t.key} not null default 'OUTBOUND'`,
      `referrer ${t.text}`,
      `call_center_id ${t.key}`,
      `destination ${t.text}`,
      `rate_plan ${t.json}`,
      `initiated_at ${t.key}`,
      `answered ${t.int} not null default 0`,
      // CallAnswered.at: rating bills the milliseconds from here to CallTerminated.at (issue 22).
      `answered_at ${t.key}`,
    ];
  },
  primaryKey: ['call_id'],
};

/**
 * One charge record per rated call. Totals (by day, link, source page, call center) are sums over
 * these rows, so a total can never disagree with the records it is made of.
 * `started_at` (the call's initiation) places a charge in a period and `day` (UTC) in a day.
 */
export const CHARGES: TableDef = {
  name: 'bl_charges',
  columns: (d) => {
    const t = types(d);
    return [
      `call_id ${t.key} not null`,
      `merchant_id ${t.key} not null`,
      `link_id ${t.key}`,
      `call_center_id ${t.key}`,
      // Migration 12 (issue 23): an INBOUND charge has no source page; its destination is the number dialled.
      `direction ${t.key} not null default 'OUTBOUND'`,
      `source_page ${t.key}`,
      `referrer ${t.text}`,
      `destination ${t.text} not null`,
      `currency ${t.text} not null`,
      `plan_version ${t.int} not null`,
      `started_at ${t.key} not null`,
      `day ${t.key} not null`,
      `terminated_at ${t.key} not null`,
      `talk_seconds ${t.int} not null`,
      // What was rated: milliseconds from answer to end (issue 22). Null only on rows written before
      // migration 8 that it could not date (re-rating then reads talk_seconds × 1000).
      `talk_ms ${t.big}`,
      `billable_seconds ${t.int} not null`,
      `rate_per_minute_minor ${t.int} not null`,
      `amount_minor ${t.big} not null`,
      `rounding ${t.text} not null`,
      `rerated ${t.int} not null default 0`,
    ];
  },
  primaryKey: ['call_id'],
  indexes: [{ name: 'merchant_start', columns: ['merchant_id', 'started_at'] }],
};

/** Plans seen per merchant: the currency of a summary with no charges in it. */
export const PLANS: TableDef = {
  name: 'bl_plans',
  columns: (d) => {
    const t = types(d);
    return [`merchant_id ${t.key} not null`, `version ${t.int} not null`, `currency ${t.text} not null`, `plan ${t.json} not null`];
  },
  primaryKey: ['merchant_id', 'version'],
};

/**
 * billing: rates a call when it terminates, with the plan its CallInitiated carried (the plan in
 * force at initiation, whatever the merchant set since), and credits it to the page the call was
 * downloaded from (CallDownloaded.pageUrl, with its referrer). An INBOUND call (issue 23) is rated
 * with the plan its InboundCallReceived carried, at the plan's inbound rate, on the number dialled;
 * it has no source page.
 *
 * A call that was never answered gets NO charge record (Call.charge is null): it is not billable,
 * and billing totals count billed calls only. An answered call is rated on the milliseconds from
 * its CallAnswered to its CallTerminated, however short (issue 22). An answered call whose merchant had no plan is not
 * billable either; that is logged.
 */
export const billingProjection = (): RowProjection => ({
  name: 'billing',
  tables: [BILL_CALLS, CHARGES, PLANS],
  prefetch: (stored) => {
    switch (stored.type) {
      case 'CallInitiated':
      case 'CallAnswered':
      case 'CallTerminated':
        return [{ table: 'bl_calls', key: [(stored.data as { callId: string }).callId] }];
      default:
        return [];
    }
  },
  apply: (rows, stored, warn) => {
    if (stored.type === 'RatePlanSet') {
      const d = (stored as StoredEvent<RatePlanSet['data']>).data;
      rows.insertOnce('bl_plans', { merchant_id: d.merchantId, version: d.plan.version, currency: d.plan.currency, plan: JSON.stringify(d.plan) });
      return;
    }
    const event = stored as unknown as CallEvent;
    switch (event.type) {
      case 'CallDownloaded': {
        const d = event.data;
        rows.put('bl_calls', {
          call_id: d.callId,
          merchant_id: d.merchantId,
          link_id: d.linkId,
          page_url: d.pageUrl,
          referrer: d.referrer,
          direction: 'OUTBOUND',
          call_center_id: null,
          destination: null,
          rate_plan: null,
          initiated_at: null,
          answered: 0,
          answered_at: null,
        });
        return;
      }
      case 'InboundCallReceived': {
        const d = event.data;
        rows.put('bl_calls', {
          call_id: d.callId,
          merchant_id: d.merchantId,
          link_id: d.linkId,
          page_url: null,
          referrer: null,
          direction: 'INBOUND',
          call_center_id: d.callCenterId,
          destination: d.did,
          rate_plan: d.ratePlan ? JSON.stringify(d.ratePlan) : null,
          initiated_at: iso(d.at),
          answered: 0,
          answered_at: null,
        });
        return;
      }
      case 'CallInitiated': {
        const d = event.data;
        const c = rows.get('bl_calls', [d.callId]);
        if (!c) return warn({ callId: d.callId }, 'billing: CallInitiated for an unknown call');
        rows.put('bl_calls', { ...c, call_center_id: d.callCenterId, destination: d.destination, rate_plan: d.ratePlan ? JSON.stringify(d.ratePlan) : null, initiated_at: iso(d.at) });
        return;
      }
      case 'CallAnswered': {
        const c = rows.get('bl_calls', [event.data.callId]);
        if (c) rows.put('bl_calls', { ...c, answered: 1, answered_at: iso(event.data.at) });
        return;
      }
      case 'CallTerminated':
        return rateTerminated(rows, event.data, warn);
      default:
        return;
    }
  },
});

type Terminated = Extract<CallEvent, { type: 'CallTerminated' }>['data'];

const rateTerminated = (rows: RowStore, d: Terminated, warn: (fields: object, msg: string) => void) => {
  const c = rows.get('bl_calls', [d.callId]);
  if (!c) return warn({ callId: d.callId }, 'billing: CallTerminated for an unknown call');
  if (num(c.answered) !== 1) return; // never answered: not billable, no record
  const plan = jsonOrNull<RatePlan>(c.rate_plan);
  const destination = strOrNull(c.destination);
  const startedAt = strOrNull(c.initiated_at);
  if (!plan || !destination || !startedAt) return warn({ callId: d.callId, merchantId: c.merchant_id }, 'billing: answered call without a rate plan: not billable');
  // Rows from before migration 8 of a call still live then have no answered_at: its whole seconds.
  const answeredAt = strOrNull(c.answered_at);
  const talkMs = answeredAt === null ? d.talkSeconds * 1000 : talkMsBetween(answeredAt, d.at)!;
  const direction = c.direction === 'INBOUND' ? 'INBOUND' : 'OUTBOUND';
  let r: ReturnType<typeof rateCall>;
  try {
    r = rateCall(plan, destination, talkMs, direction);
  } catch (e) {
    // A plan the rating refuses cannot be fixed by retrying this event: no charge record.
    return warn({ callId: d.callId, err: (e as Error).message }, 'billing: rating failed; no charge record');
  }
  rows.insertOnce('bl_charges', {
    call_id: d.callId,
    merchant_id: c.merchant_id,
    link_id: c.link_id,
    call_center_id: c.call_center_id,
    direction,
    source_page: c.page_url,
    referrer: c.referrer,
    destination,
    currency: plan.currency,
    plan_version: plan.version,
    started_at: startedAt,
    day: startedAt.slice(0, 10),
    terminated_at: iso(d.at),
    talk_seconds: d.talkSeconds,
    talk_ms: talkMs,
    billable_seconds: r.billableSeconds,
    rate_per_minute_minor: r.ratePerMinuteMinor,
    amount_minor: r.amountMinor,
    rounding: String(r.rounding),
    rerated: 0,
  });
};
