import type { CallEvent } from '../../domain/call/events';
import type { RatePlanSet } from '../../domain/merchant/events';
import type { RatePlan } from '../../domain/rating/rate-plan';
import { rateCall } from '../../domain/rating/rating';
import type { StoredEvent } from '../../ports/event-store';
import { iso, jsonOrNull, num, strOrNull, types, type Sql } from '../db';
import type { TableDef, Tables } from '../tables';
import type { Logger, View } from '../view';

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
      `referrer ${t.text}`,
      `call_center_id ${t.key}`,
      `destination ${t.text}`,
      `rate_plan ${t.json}`,
      `initiated_at ${t.key}`,
      `answered ${t.int} not null default 0`,
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
      `source_page ${t.key}`,
      `referrer ${t.text}`,
      `destination ${t.text} not null`,
      `currency ${t.text} not null`,
      `plan_version ${t.int} not null`,
      `started_at ${t.key} not null`,
      `day ${t.key} not null`,
      `terminated_at ${t.key} not null`,
      `talk_seconds ${t.int} not null`,
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

const TYPES = new Set(['CallDownloaded', 'CallInitiated', 'CallAnswered', 'CallTerminated', 'RatePlanSet']);

/**
 * billing: rates a call when it terminates, with the plan its CallInitiated carried (the plan in
 * force at initiation, whatever the merchant set since), and credits it to the page the call was
 * downloaded from (CallDownloaded.pageUrl, with its referrer).
 *
 * A call that was never answered gets NO charge record (Call.charge is null): it is not billable,
 * and billing totals count billed calls only. An answered call whose merchant had no plan is not
 * billable either; that is logged.
 */
export const billingView = (log: Logger): View => ({
  name: 'billing',
  topics: ['webdial.calls', 'webdial.merchants'],
  tables: [BILL_CALLS, CHARGES, PLANS],
  handles: (type) => TYPES.has(type),
  apply: async (tx, t, stored) => {
    if (stored.type === 'RatePlanSet') return recordPlan(tx, t, (stored as StoredEvent<RatePlanSet['data']>).data);
    const event = stored as unknown as CallEvent;
    switch (event.type) {
      case 'CallDownloaded': {
        const d = event.data;
        await tx.run(
          `insert into ${t('bl_calls')} (call_id, merchant_id, link_id, page_url, referrer) values (?, ?, ?, ?, ?)
           on conflict (call_id) do nothing`,
          [d.callId, d.merchantId, d.linkId, d.pageUrl, d.referrer],
        );
        return;
      }
      case 'CallInitiated': {
        const d = event.data;
        await tx.run(
          `update ${t('bl_calls')} set call_center_id = ?, destination = ?, rate_plan = ?, initiated_at = ? where call_id = ?`,
          [d.callCenterId, d.destination, d.ratePlan ? JSON.stringify(d.ratePlan) : null, iso(d.at), d.callId],
        );
        return;
      }
      case 'CallAnswered':
        await tx.run(`update ${t('bl_calls')} set answered = 1 where call_id = ?`, [event.data.callId]);
        return;
      case 'CallTerminated':
        return rateTerminated(tx, t, event.data, log);
      default:
        return;
    }
  },
});

const recordPlan = async (tx: Sql, t: Tables, d: RatePlanSet['data']) => {
  await tx.run(
    `insert into ${t('bl_plans')} (merchant_id, version, currency, plan) values (?, ?, ?, ?)
     on conflict (merchant_id, version) do nothing`,
    [d.merchantId, d.plan.version, d.plan.currency, JSON.stringify(d.plan)],
  );
};

type Terminated = Extract<CallEvent, { type: 'CallTerminated' }>['data'];

const rateTerminated = async (tx: Sql, t: Tables, d: Terminated, log: Logger) => {
  const rows = await tx.all(`select * from ${t('bl_calls')} where call_id = ?`, [d.callId]);
  if (rows.length === 0) {
    log.error({ callId: d.callId }, 'billing: CallTerminated for an unknown call');
    return;
  }
  const c = rows[0];
  if (num(c.answered) !== 1) return; // never answered: not billable, no record
  const plan = jsonOrNull<RatePlan>(c.rate_plan);
  const destination = strOrNull(c.destination);
  const startedAt = strOrNull(c.initiated_at);
  if (!plan || !destination || !startedAt) {
    log.warn({ callId: d.callId, merchantId: c.merchant_id }, 'billing: answered call without a rate plan: not billable');
    return;
  }
  let r: ReturnType<typeof rateCall>;
  try {
    r = rateCall(plan, destination, d.talkSeconds);
  } catch (e) {
    // A plan the rating refuses cannot be fixed by retrying this event: log it and go on
    // (a re-rating with a good plan can bill the call later only if it has a record, so say so).
    log.error({ callId: d.callId, err: (e as Error).message }, 'billing: rating failed; no charge record');
    return;
  }
  await tx.run(
    `insert into ${t('bl_charges')} (call_id, merchant_id, link_id, call_center_id, source_page, referrer, destination, currency,
       plan_version, started_at, day, terminated_at, talk_seconds, billable_seconds, rate_per_minute_minor, amount_minor, rounding)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict (call_id) do nothing`,
    [
      d.callId,
      c.merchant_id,
      c.link_id,
      c.call_center_id,
      c.page_url,
      c.referrer,
      destination,
      plan.currency,
      plan.version,
      startedAt,
      startedAt.slice(0, 10),
      iso(d.at),
      d.talkSeconds,
      r.billableSeconds,
      r.ratePerMinuteMinor,
      r.amountMinor,
      String(r.rounding),
    ],
  );
};
