import { talkMsBetween } from '../../domain/call/call';
import type { CallDirection, CallEvent } from '../../domain/call/events';
import type { RatePlanSet } from '../../domain/merchant/events';
import type { RatePlan } from '../../domain/rating/rate-plan';
import { rateLegs, type HandOver } from '../../domain/rating/legs';
import { RATING_ROUNDING, rateOf } from '../../domain/rating/rating';
import type { TransferCompleted } from '../../domain/transfer/transfer';
import { unreachable } from '../../domain/shared/decider';
import { iso, jsonOrNull } from '../../adapters/sql/values';
import type { View } from '../engine/projection-of';

/** What billing reads: the calls, the merchants' rate plans, and the hand-overs of transfers (issue 25: legs). */
export type BillingEvent = CallEvent | RatePlanSet | TransferCompleted;
type Type = BillingEvent['type'];

/** What billing remembers of a call until it is rated (bl_calls). */
export type BilledCallRow = {
  call_id: string;
  merchant_id: string;
  link_id: string | null;
  /** The source page the call is credited to (null for INBOUND). */
  page_url: string | null;
  referrer: string | null;
  /** Rated with the plan's rate of that direction (issue 23). */
  direction: CallDirection;
  call_center_id: string | null;
  /** What is rated: the number dialled (OUTBOUND: the center's; INBOUND: the merchant's DID). */
  destination: string | null;
  /** JSON RatePlan the call's initiation (or arrival) carried: the plan in force then. */
  rate_plan: string | null;
  initiated_at: string | null;
  answered: 0 | 1;
  /** CallAnswered.at: the rating bills the milliseconds from here to CallTerminated.at (issue 22); null in rows older than migration 8. */
  answered_at: string | null;
  /** Issue 25 (migration 16): JSON HandOver[], the answer then each completed transfer: the call's legs. Null before the answer (and in older rows). */
  legs: string | null;
};

/** One charge record per rated call (bl_charges). */
export type ChargeRow = {
  call_id: string;
  merchant_id: string;
  link_id: string | null;
  call_center_id: string | null;
  direction: CallDirection;
  source_page: string | null;
  referrer: string | null;
  destination: string;
  currency: string;
  plan_version: number;
  started_at: string;
  day: string;
  terminated_at: string;
  talk_seconds: number;
  talk_ms: number;
  billable_seconds: number;
  rate_per_minute_minor: number;
  amount_minor: number;
  rounding: string;
  rerated: 0 | 1;
  /** Issue 25 (migration 16): JSON RatedLeg[] (center, agent, talk ms, billable seconds, amount), one per holder; amount_minor is their sum. */
  legs: string | null;
};

/** A plan a merchant set (bl_plans): the currency of a summary with no charges in it. */
export type PlanRow = { merchant_id: string; version: number; currency: string; plan: string };

const planText = (plan: RatePlan | null) => (plan ? JSON.stringify(plan) : null);

/** A call as billing needs it: where it is credited, what it dials, with which plan, and when it was answered. */
export const billedCallView: View<BilledCallRow, BillingEvent> = {
  name: 'billed-call@1',
  initialState: null,
  handles: new Set<Type>(['CallDownloaded', 'InboundCallReceived', 'CallbackCallPlaced', 'CallInitiated', 'CallAnswered', 'CallTerminated', 'TransferCompleted']),
  creates: new Set<Type>(['CallDownloaded', 'InboundCallReceived', 'CallbackCallPlaced']),
  evolve: (row, event) => {
    switch (event.type) {
      case 'CallDownloaded': {
        const d = event.data;
        return {
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
          legs: null,
        };
      }
      case 'InboundCallReceived': {
        const d = event.data;
        return {
          call_id: d.callId,
          merchant_id: d.merchantId,
          link_id: d.linkId,
          page_url: null,
          referrer: null,
          direction: 'INBOUND',
          call_center_id: d.callCenterId,
          destination: d.did,
          rate_plan: planText(d.ratePlan),
          initiated_at: iso(d.at),
          answered: 0,
          answered_at: null,
          legs: null,
        };
      }
      case 'CallbackCallPlaced': {
        const d = event.data;
        // Issue 25: a callback's try, rated as CALLBACK on the shopper's number, credited to the origin click's page.
        return {
          call_id: d.callId,
          merchant_id: d.merchantId,
          link_id: d.linkId,
          page_url: d.pageUrl,
          referrer: d.referrer,
          direction: 'CALLBACK',
          call_center_id: d.callCenterId,
          // A callback to the shopper's browser has no number: its charge's destination says BROWSER
          // (a CALLBACK is rated at the plan's callback rate whatever the destination: no prefix rates).
          destination: d.number ?? 'BROWSER',
          rate_plan: planText(d.ratePlan),
          initiated_at: iso(d.at),
          answered: 0,
          answered_at: null,
          legs: null,
        };
      }
      case 'CallInitiated': {
        const d = event.data;
        return row === null ? null : { ...row, call_center_id: d.callCenterId, destination: d.destination, rate_plan: planText(d.ratePlan), initiated_at: iso(d.at) };
      }
      case 'CallAnswered': {
        const first: HandOver = { at: iso(event.data.at), callCenterId: row?.call_center_id ?? null, agent: event.data.answeredBy };
        return row === null ? null : { ...row, answered: 1, answered_at: iso(event.data.at), legs: JSON.stringify([first]) };
      }
      case 'TransferCompleted': {
        // A hand-over of an answered call: a new leg from now on (issue 25).
        if (row === null || row.legs === null) return row;
        const d = event.data;
        return { ...row, legs: JSON.stringify([...legsOf(row), { at: iso(d.at), callCenterId: d.to.callCenterId, agent: d.to.agent }]) };
      }
      case 'CallTerminated':
      case 'CallRinging':
      case 'DtmfReceived':
      case 'DtmfCommandRecognized':
      case 'ChannelMessageSent':
      case 'CallerJoinedMedia':
      case 'CallerMediaSettingsApplied':
      case 'RatePlanSet':
        return row;
      default:
        return unreachable(event);
    }
  },
};

/** The plans each merchant set. */
export const planView: View<PlanRow, BillingEvent> = {
  name: 'billing-plan@1',
  initialState: null,
  handles: new Set<Type>(['RatePlanSet']),
  creates: new Set<Type>(['RatePlanSet']),
  evolve: (row, event) => {
    switch (event.type) {
      case 'RatePlanSet': {
        const d = event.data;
        return { merchant_id: d.merchantId, version: d.plan.version, currency: d.plan.currency, plan: JSON.stringify(d.plan) };
      }
      case 'CallDownloaded':
      case 'InboundCallReceived':
      case 'CallbackCallPlaced':
      case 'CallInitiated':
      case 'CallRinging':
      case 'CallAnswered':
      case 'DtmfReceived':
      case 'DtmfCommandRecognized':
      case 'ChannelMessageSent':
      case 'CallerJoinedMedia':
      case 'CallerMediaSettingsApplied':
      case 'CallTerminated':
      case 'TransferCompleted':
        return row;
      default:
        return unreachable(event);
    }
  },
};

/**
 * The charge of a call when it ends: the billed call's row (as it was before its CallTerminated) rated
 * with the plan its initiation carried, on the milliseconds from its answer to its end, however short
 * (issue 22). None for a call never answered (not billable, no record); a string says why an answered
 * call has none (no plan, or a plan the rating refuses: retrying cannot fix it).
 */
export const chargeOf = (call: BilledCallRow | null, event: BillingEvent): ChargeRow | string | null => {
  if (event.type !== 'CallTerminated' || call === null || call.answered !== 1) return null;
  const d = event.data;
  const plan = jsonOrNull<RatePlan>(call.rate_plan);
  const { destination, initiated_at: startedAt } = call;
  if (plan === null || destination === null || startedAt === null) return `billing: answered call ${d.callId} of ${call.merchant_id} without a rate plan: not billable`;
  // Rows from before migration 8 of a call still live then have no answered_at: its whole seconds.
  const talkMs = talkMsBetween(call.answered_at, d.at) ?? d.talkSeconds * 1000;
  // Issue 25: one leg per holder (the answer, then each completed transfer), each rated by the plan; the charge is their sum.
  const handOvers = call.legs === null || call.answered_at === null ? [{ at: new Date(Date.parse(iso(d.at)) - talkMs).toISOString(), callCenterId: call.call_center_id, agent: null }] : legsOf(call);
  let legs: ReturnType<typeof rateLegs>;
  let rate: number;
  try {
    legs = rateLegs(plan, destination, call.direction, handOvers, iso(d.at));
    rate = rateOf(plan, destination, call.direction);
  } catch (e) {
    return `billing: rating call ${d.callId} failed (${(e as Error).message}); no charge record`;
  }
  const r = { billableSeconds: legs.reduce((n, l) => n + l.billableSeconds, 0), amountMinor: legs.reduce((n, l) => n + l.amountMinor, 0), ratePerMinuteMinor: rate, rounding: RATING_ROUNDING };
  return {
    call_id: d.callId,
    merchant_id: call.merchant_id,
    link_id: call.link_id,
    call_center_id: call.call_center_id,
    direction: call.direction,
    source_page: call.page_url,
    referrer: call.referrer,
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
    legs: JSON.stringify(legs),
  };
};

/** A billed call's hand-overs (its `legs` column). */
const legsOf = (row: BilledCallRow): HandOver[] => jsonOrNull<HandOver[]>(row.legs) ?? [];
