import { directionOf, type CallDirection } from '../../domain/call/events';
import { badInput } from '../../domain/shared/errors';
import { isoInput, jsonOrNull, num, strOrNull, type Sql } from '../../adapters/sql/db';

export interface ChargeView {
  amountMinor: number;
  currency: string;
  billableSeconds: number;
  sourcePage: string | null;
  /** OUTBOUND (a click), INBOUND (a phone called the merchant's number, issue 23) or CALLBACK (issue 25). */
  direction: CallDirection;
  /** Not in the contract's Charge; for analysts and the CLI. */
  referrer: string | null;
  planVersion: number;
  ratePerMinuteMinor: number;
  rounding: string;
  rerated: boolean;
  /** Issue 25: one leg per holder of the call (one for a call never transferred); the amount is their sum. */
  legs: Array<{ callCenterId: string | null; agent: string | null; talkMs: number; billableSeconds: number; amountMinor: number }>;
}

export type BillingGroupBy = 'DAY' | 'LINK' | 'SOURCE_PAGE' | 'CALL_CENTER' | 'DIRECTION';

export interface BillingSummary {
  merchantId: string;
  currency: string;
  from: string;
  to: string;
  calls: number;
  billableSeconds: number;
  amountMinor: number;
  lines: Array<{ key: string; calls: number; billableSeconds: number; amountMinor: number }>;
}

const GROUP_COLUMN: Record<BillingGroupBy, string> = {
  DAY: 'day',
  LINK: 'link_id',
  SOURCE_PAGE: 'source_page',
  CALL_CENTER: 'call_center_id',
  DIRECTION: 'direction',
};

/** Currency for a summary without charges: the merchant's latest plan's, else ISO 4217 "XXX" (no currency). */
const merchantCurrency = async (sql: Sql, merchantId: string): Promise<string> => {
  const rows = await sql.all<{ currency: string }>(
    `select currency from ${sql.table('bl_plans')} where merchant_id = ? order by version desc limit 1`,
    [merchantId],
  );
  return rows.length ? String(rows[0].currency) : 'XXX';
};

/** A charge record as analysts and invoices list it. */
export interface ChargeRecord extends ChargeView {
  callId: string;
  merchantId: string;
  linkId: string | null;
  callCenterId: string | null;
  destination: string;
  startedAt: string;
  day: string;
  terminatedAt: string;
  talkSeconds: number;
}

const toChargeView = (r: Record<string, unknown>): ChargeView => ({
  amountMinor: num(r.amount_minor),
  currency: String(r.currency),
  billableSeconds: num(r.billable_seconds),
  sourcePage: strOrNull(r.source_page),
  // Rows written before migration 12 have no direction: every call was OUTBOUND then.
  direction: directionOf(r.direction),
  referrer: strOrNull(r.referrer),
  planVersion: num(r.plan_version),
  ratePerMinuteMinor: num(r.rate_per_minute_minor),
  rounding: String(r.rounding),
  // Rows from before migration 16 (or never transferred and rated before it): one leg, the whole call.
  legs: jsonOrNull<ChargeView['legs']>(r.legs) ?? [{ callCenterId: strOrNull(r.call_center_id), agent: null, talkMs: num(r.talk_ms ?? num(r.talk_seconds) * 1000), billableSeconds: num(r.billable_seconds), amountMinor: num(r.amount_minor) }],
  rerated: num(r.rerated) === 1,
});

const toChargeRecord = (r: Record<string, unknown>): ChargeRecord => ({
  ...toChargeView(r),
  callId: String(r.call_id),
  merchantId: String(r.merchant_id),
  linkId: strOrNull(r.link_id),
  callCenterId: strOrNull(r.call_center_id),
  destination: String(r.destination),
  startedAt: String(r.started_at),
  day: String(r.day),
  terminatedAt: String(r.terminated_at),
  talkSeconds: num(r.talk_seconds),
});


export const billingQueries = (db: () => Sql) => ({
  /** Charge per call in ONE query; calls without a record (unanswered, unrated) are absent. */
  async chargesForCalls(callIds: readonly string[], merchantId?: string | null): Promise<Map<string, ChargeView>> {
    const out = new Map<string, ChargeView>();
    if (callIds.length === 0) return out;
    const sql = db();
    const rows = await sql.all(
      `select * from ${sql.table('bl_charges')} where call_id in (${callIds.map(() => '?').join(', ')})${merchantId ? ' and merchant_id = ?' : ''}`,
      [...callIds, ...(merchantId ? [merchantId] : [])],
    );
    for (const r of rows) out.set(String(r.call_id), toChargeView(r));
    return out;
  },

  /** The merchant's charge records for calls initiated in [from, to), by start then call id, paged. */
  async chargeRecords(
    filter: { merchantId: string; from: string; to: string },
    first: number,
    after?: string | null,
  ): Promise<{ rows: ChargeRecord[]; endCursor: string | null; hasNextPage: boolean }> {
    if (!Number.isInteger(first) || first < 0 || first > 500) throw badInput('first must be an integer from 0 to 500', { field: 'first' });
    const sql = db();
    const params: unknown[] = [filter.merchantId, isoInput(filter.from, 'from'), isoInput(filter.to, 'to')];
    let keyset = '';
    if (after) {
      let k: unknown;
      try {
        k = JSON.parse(Buffer.from(after, 'base64url').toString('utf8'));
      } catch {
        k = null;
      }
      if (!Array.isArray(k) || k.length !== 2 || typeof k[0] !== 'string' || typeof k[1] !== 'string')
        throw badInput('after is not a cursor this API returned', { field: 'after' });
      keyset = ' and (started_at > ? or (started_at = ? and call_id > ?))';
      params.push(k[0], k[0], k[1]);
    }
    const rows = await sql.all(
      `select * from ${sql.table('bl_charges')} where merchant_id = ? and started_at >= ? and started_at < ?${keyset}
       order by started_at, call_id limit ?`,
      [...params, first + 1],
    );
    const page = rows.slice(0, first).map(toChargeRecord);
    const last = page.at(-1);
    return {
      rows: page,
      endCursor: last ? Buffer.from(JSON.stringify([last.startedAt, last.callId])).toString('base64url') : null,
      hasNextPage: rows.length > first,
    };
  },

  /**
   * Totals of the merchant's charges for calls initiated in [from, to), optionally one line per
   * UTC day, link, source page or call center (lines sorted by key; a missing key is "").
   * Mixed currencies in one period are refused rather than added up.
   */
  async billingSummary(merchantId: string, from: string, to: string, groupBy: string | null): Promise<BillingSummary> {
    if (groupBy !== null && !(groupBy in GROUP_COLUMN)) throw badInput(`unknown groupBy ${groupBy}`, { field: 'groupBy' });
    const [f, t] = [isoInput(from, 'from'), isoInput(to, 'to')];
    if (!(f < t)) throw badInput('from must be before to', { field: 'from' });
    const sql = db();
    const charges = sql.table('bl_charges');
    const where = `where merchant_id = ? and started_at >= ? and started_at < ?`;
    const params = [merchantId, f, t];
    const currencies = await sql.all<{ currency: string }>(`select distinct currency from ${charges} ${where}`, params);
    if (currencies.length > 1)
      throw badInput(`charges in more than one currency in this period: ${currencies.map((c) => c.currency).join(', ')}`, {
        field: 'from',
      });
    const totals = await sql.all(
      `select count(*) as calls, coalesce(sum(billable_seconds), 0) as secs, coalesce(sum(amount_minor), 0) as amount from ${charges} ${where}`,
      params,
    );
    let lines: BillingSummary['lines'] = [];
    if (groupBy !== null) {
      const col = GROUP_COLUMN[groupBy as BillingGroupBy];
      const rows = await sql.all(
        `select coalesce(${col}, '') as k, count(*) as calls, sum(billable_seconds) as secs, sum(amount_minor) as amount
         from ${charges} ${where} group by coalesce(${col}, '') order by k`,
        params,
      );
      lines = rows.map((r) => ({ key: String(r.k), calls: num(r.calls), billableSeconds: num(r.secs), amountMinor: num(r.amount) }));
    }
    return {
      merchantId,
      currency: currencies.length ? String(currencies[0].currency) : await merchantCurrency(sql, merchantId),
      from: f,
      to: t,
      calls: num(totals[0].calls),
      billableSeconds: num(totals[0].secs),
      amountMinor: num(totals[0].amount),
      lines,
    };
  },
});
