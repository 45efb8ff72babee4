import { types } from '../../adapters/sql/db';
import type { RowProjection } from '../engine/rows';
import type { TableDef } from '../engine/tables';
import { projectionOf, viewTable } from '../engine/projection-of';
import { billedCallView, chargeOf, planView, type BillingEvent } from './view';
import { loggedRerates, rerateIn } from './rerate';

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
      // Migration 16 (issue 25): the hand-overs (answer, completed transfers), JSON: the call's legs.
      `legs ${t.json}`,
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
      // Migration 16 (issue 25): the rated legs, JSON (center, agent, talk ms, billable seconds, amount); amount_minor is their sum.
      `legs ${t.json}`,
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

/** The call a billing event is about (a plan set is about no call). */
const callKey = (e: BillingEvent) => (e.type === 'RatePlanSet' ? null : [e.data.callId]);

/**
 * billing: rates a call when it terminates, with the plan its CallInitiated carried (the plan in
 * force at initiation, whatever the merchant set since), and credits it to the page the call was
 * downloaded from (CallDownloaded.pageUrl, with its referrer). An INBOUND call (issue 23) is rated
 * with the plan its InboundCallReceived carried, at the plan's inbound rate, on the number dialled;
 * it has no source page. Issue 25: a transferred call is split into legs at each completed transfer
 * (TransferCompleted, from the call's `transfer-` stream), each rated by the call's plan; its charge is
 * their sum, still credited to the call's source page.
 *
 * A combination of Views (./view.ts): the billed call's row, and its charge rated from that row when
 * the call ends (`chargeOf`); and the plans each merchant set.
 */
export const billingProjection = (): RowProjection =>
  projectionOf<BillingEvent>(
    'billing',
    [
      viewTable({ view: billedCallView, table: BILL_CALLS, key: callKey, records: { table: CHARGES, of: chargeOf } }),
      viewTable({ view: planView, table: PLANS, key: (e) => (e.type === 'RatePlanSet' ? [e.data.merchantId, e.data.plan.version] : null) }),
    ],
    // Re-ratings (./rerate.ts) change charges outside the stream: a rebuild replays them where they came.
    { logged: async (sql, afterSeq) => (await loggedRerates(sql, afterSeq)).map((r) => ({ seq: r.seq, atPosition: r.atPosition, apply: (tx, t) => rerateIn(tx, t, r.request) })) },
  );
