import { directionOf } from '../../domain/call/events';
import type { RatePlan } from '../../domain/rating/rate-plan';
import { rateCall } from '../../domain/rating/rating';
import type { RatedLeg } from '../../domain/rating/legs';
import { badInput } from '../../domain/shared/errors';
import { iso, isoInput, jsonOrNull, num, strOrNull, type Sql } from '../../adapters/sql/db';
import type { Tables } from '../engine/tables';

export interface RerateRequest {
  merchantId: string;
  /** Calls initiated at or after this instant... */
  from: string;
  /** ...and strictly before this one. */
  to: string;
  /** The plan to rate with; absent: each call's own plan again (e.g. after a rating fix). */
  plan?: RatePlan | null;
  dryRun: boolean;
}

export interface RerateLine {
  callId: string;
  /** When the call was initiated (what the period selects on). */
  startedAt: string;
  /** Milliseconds from answer to end, what the new amount is rated on. */
  talkMs: number;
  /** Billable seconds of the stored charge, and under this re-rating. */
  oldBillableSeconds: number;
  newBillableSeconds: number;
  oldAmountMinor: number;
  newAmountMinor: number;
  diffMinor: number;
}

export interface RerateResult {
  lines: RerateLine[];
  totalDiffMinor: number;
  applied: boolean;
}

/**
 * The log of applied re-ratings (`bl_rerates`, created by the engine's migration 1). It is NOT a
 * rebuilt table: re-rating is a decision taken on the read side, not an event, so a rebuild replays
 * it (at the position where it was applied, `billingProjection`'s `logged`) instead of losing it.
 */
export interface LoggedRerate {
  seq: number;
  request: RerateRequest;
  atPosition: string | null;
}

/** Re-rates the charges of a period in `tx` against the table set `t`; writes only when !dryRun. */
export const rerateIn = async (tx: Sql, t: Tables, req: RerateRequest): Promise<RerateResult> => {
  const [from, to] = [isoInput(req.from, 'from'), isoInput(req.to, 'to')];
  if (!(from < to)) throw badInput('from must be before to', { field: 'from' });
  const lock = tx.dialect === 'postgres' ? ' for update of c' : '';
  const rows = await tx.all(
    `select c.call_id, c.started_at, c.destination, c.direction, c.talk_seconds, c.talk_ms, c.billable_seconds, c.amount_minor, c.legs, b.rate_plan
     from ${t('bl_charges')} c left join ${t('bl_calls')} b on b.call_id = c.call_id
     where c.merchant_id = ? and c.started_at >= ? and c.started_at < ? order by c.started_at, c.call_id${lock}`,
    [req.merchantId, from, to],
  );
  const lines: RerateLine[] = [];
  for (const r of rows) {
    const plan = req.plan ?? jsonOrNull<RatePlan>(r.rate_plan);
    if (!plan) continue;
    // Every charge row is an answered call: talk_ms is what it is rated on (whole seconds on rows migration 8 could not date).
    const talkMs = r.talk_ms === null || r.talk_ms === undefined ? num(r.talk_seconds) * 1000 : num(r.talk_ms);
    const direction = directionOf(r.direction);
    // Issue 25: a transferred call is re-rated leg by leg (each its own connection), its charge their sum.
    const legs = (jsonOrNull<RatedLeg[]>(r.legs) ?? []).map((l) => ({ ...l, ...pickLeg(rateCall(plan, String(r.destination), l.talkMs, direction)) }));
    const whole = rateCall(plan, String(r.destination), talkMs, direction);
    const rated = legs.length > 1 ? { ...whole, billableSeconds: legs.reduce((n, l) => n + l.billableSeconds, 0), amountMinor: legs.reduce((n, l) => n + l.amountMinor, 0) } : whole;
    const oldAmountMinor = num(r.amount_minor);
    lines.push({
      callId: String(r.call_id),
      startedAt: String(r.started_at),
      talkMs,
      oldBillableSeconds: num(r.billable_seconds),
      newBillableSeconds: rated.billableSeconds,
      oldAmountMinor,
      newAmountMinor: rated.amountMinor,
      diffMinor: rated.amountMinor - oldAmountMinor,
    });
    if (!req.dryRun)
      await tx.run(
        `update ${t('bl_charges')} set amount_minor = ?, billable_seconds = ?, rate_per_minute_minor = ?, rounding = ?,
           currency = ?, plan_version = ?, talk_ms = ?, legs = ?, rerated = 1 where call_id = ?`,
        [rated.amountMinor, rated.billableSeconds, rated.ratePerMinuteMinor, String(rated.rounding), plan.currency, plan.version, talkMs, legs.length > 0 ? JSON.stringify(legs) : null, String(r.call_id)],
      );
  }
  return { lines, totalDiffMinor: lines.reduce((s, l) => s + l.diffMinor, 0), applied: !req.dryRun };
};

/** A leg's rating fields. */
const pickLeg = (r: { billableSeconds: number; amountMinor: number }) => ({ billableSeconds: r.billableSeconds, amountMinor: r.amountMinor });

export const logRerate = async (tx: Sql, req: RerateRequest, atPosition: string | null): Promise<void> => {
  const log = tx.table('bl_rerates');
  const next = await tx.all(`select coalesce(max(seq), 0) + 1 as seq from ${log}`);
  await tx.run(`insert into ${log} (seq, merchant_id, from_at, to_at, plan, at_position) values (?, ?, ?, ?, ?, ?)`, [
    num(next[0].seq),
    req.merchantId,
    iso(req.from),
    iso(req.to),
    req.plan ? JSON.stringify(req.plan) : null,
    atPosition,
  ]);
};

export const loggedRerates = async (sql: Sql, afterSeq = 0): Promise<LoggedRerate[]> => {
  const rows = await sql.all(`select * from ${sql.table('bl_rerates')} where seq > ? order by seq`, [afterSeq]);
  return rows.map((r) => ({
    seq: num(r.seq),
    atPosition: strOrNull(r.at_position),
    request: {
      merchantId: String(r.merchant_id),
      from: String(r.from_at),
      to: String(r.to_at),
      plan: jsonOrNull<RatePlan>(r.plan),
      dryRun: false,
    },
  }));
};
