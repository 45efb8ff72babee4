/**
 * Routing: which of the merchant's call centers takes a call, as pure functions of the configuration,
 * the instant and the live load (active calls per center, supplied by the caller).
 *
 * routeCall, step by step:
 *   1. the link's centers, in the link's order, each replaced by the end of its redirect chain
 *      (a center redirected elsewhere is never chosen itself; duplicates keep their first place);
 *   2. drop those closed at `at` in their own time zone, and those full (activeCalls >= capacity);
 *   3. with a caller-region hint, keep the nearest region among what is left (gateway-choice.ts);
 *   4. among those, the least utilised (activeCalls / capacity, compared exactly with integers;
 *      ties by link order).
 * The rule recorded for audit: REDIRECT when the chosen center was reached through a redirect, else
 * NEAREST_REGION when the hint removed a candidate, else LEAST_LOADED when several candidates were
 * compared, else FIRST_OPEN.
 * PSTN and BROWSER centers mix freely on a link: the kind never changes which center is chosen, it
 * only says how the chosen one takes the call (`media`).
 */
import type { RoutingRule } from '../call/events';
import type { ActiveMerchant, CallCenterState } from '../merchant/merchant';
import { minutesOf } from '../merchant/merchant';
import type { CallCenterKind, OpeningHours } from '../merchant/events';
import { conflict, notFound } from '../shared/errors';
import { regionDistance } from './gateway-choice';

// ---------------------------------------------------------------- opening hours

const formatters = new Map<string, Intl.DateTimeFormat>();
/** Intl's time-zone data is data, not I/O; formatters are cached because building one is slow. */
const formatterFor = (timeZone: string): Intl.DateTimeFormat => {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timeZone, f);
  }
  return f;
};

const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

/** Day of week (1=Mon..7=Sun) and minutes since midnight on the wall clock of `timeZone` at `at`. */
export const localTime = (timeZone: string, at: Date): { day: number; minutes: number } => {
  const parts = formatterFor(timeZone).formatToParts(at);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  const hour = Number(get('hour')) % 24; // some ICU versions print midnight as "24"
  return { day: WEEKDAYS[get('weekday')], minutes: hour * 60 + Number(get('minute')) };
};

const nextDay = (day: number): number => (day % 7) + 1;

/**
 * Is the center open at `at`? Evaluated on the center's local wall clock, so DST needs no special case:
 * on a spring-forward day the skipped hour simply never occurs locally, and on a fall-back day the
 * repeated hour is open (or closed) both times. A span whose close is before its open runs overnight:
 * 22:00–06:00 on day d is open from d 22:00 to d+1 06:00 (Sunday wraps to Monday). Close "24:00" is
 * the end of the day. weeklyHours null: always open; []: never.
 */
export const isOpenAt = (center: { timeZone: string; weeklyHours: OpeningHours[] | null }, at: Date): boolean => {
  if (center.weeklyHours === null) return true;
  if (center.weeklyHours.length === 0) return false;
  const { day, minutes } = localTime(center.timeZone, at);
  return center.weeklyHours.some((h) => {
    const open = minutesOf(h.open);
    const close = minutesOf(h.close);
    if (close > open) return h.day === day && minutes >= open && minutes < close;
    return (h.day === day && minutes >= open) || (nextDay(h.day) === day && minutes < close);
  });
};

// ---------------------------------------------------------------- redirects

/**
 * Follows redirects from `callCenterId` to the center that really takes the calls. `chain` lists every
 * center visited, the first and the last included ([id] when not redirected). NOT_FOUND for an unknown
 * center; CONFLICT for a cycle (refused when set, so only hand-made data has one).
 */
export const resolveRedirect = (
  merchant: Pick<ActiveMerchant, 'callCenters'>,
  callCenterId: string,
): { callCenterId: string; chain: string[] } => {
  const chain: string[] = [];
  let at: string | null = callCenterId;
  while (at !== null) {
    const c: CallCenterState | undefined = merchant.callCenters[at];
    if (!c) throw notFound('call center', at);
    if (chain.includes(at)) throw conflict(`redirect cycle: ${[...chain, at].join(' → ')}`, { chain: [...chain, at] });
    chain.push(at);
    at = c.redirectedTo;
  }
  return { callCenterId: chain[chain.length - 1], chain };
};

// ---------------------------------------------------------------- routeCall

export type RouteDecision =
  | {
      ok: true;
      callCenterId: string;
      /** The center's configured E.164 number: never a number the browser sent. */
      destination: string;
      /** How the chosen center takes the call: dial PSTN through a port, or ring its BROWSER consoles. */
      media: CallCenterKind;
      rule: RoutingRule;
      /** The link's center this call was meant for (differs from callCenterId after a redirect). */
      requestedCallCenterId: string;
      reason: string;
    }
  | { ok: false; reason: string };

export interface RouteInput {
  merchant: ActiveMerchant;
  linkId: string;
  at: Date;
  callerRegion: string | null;
  /** Active calls per call center id (missing: 0), from a consistent count. */
  activeCalls: Readonly<Record<string, number>>;
}

interface Candidate {
  requested: string;
  center: CallCenterState;
  chain: string[];
  active: number;
  order: number;
}

const via = (chain: string[]) => (chain.length > 1 ? ` (redirected: ${chain.join(' → ')})` : '');

/** a/ca < b/cb, exactly: cross-multiplied integers. */
const lessUtilised = (a: Candidate, b: Candidate): boolean => a.active * b.center.capacity < b.active * a.center.capacity;

export const routeCall = (input: RouteInput): RouteDecision => {
  const { merchant, linkId, at, callerRegion, activeCalls } = input;
  const link = merchant.links[linkId];
  if (!link) return { ok: false, reason: `link ${linkId} unknown` };

  const refusals: string[] = [];
  const candidates: Candidate[] = [];
  const taken = new Set<string>();
  for (const requested of link.callCenterIds) {
    let resolved: { callCenterId: string; chain: string[] };
    try {
      resolved = resolveRedirect(merchant, requested);
    } catch (e) {
      refusals.push(`${requested}: ${(e as Error).message}`);
      continue;
    }
    const center = merchant.callCenters[resolved.callCenterId];
    const active = activeCalls[center.callCenterId] ?? 0;
    const label = `${requested}${via(resolved.chain)}`;
    if (taken.has(center.callCenterId)) continue; // already a candidate through an earlier entry
    if (!isOpenAt(center, at)) refusals.push(`${label}: closed`);
    else if (active >= center.capacity) refusals.push(`${label}: full (${active}/${center.capacity})`);
    else {
      taken.add(center.callCenterId);
      candidates.push({ requested, center, chain: resolved.chain, active, order: candidates.length });
    }
  }
  if (candidates.length === 0)
    return { ok: false, reason: link.callCenterIds.length === 0 ? `link ${linkId} has no call centers` : `no open call center with capacity: ${refusals.join('; ')}` };

  let pool = candidates;
  let regionNarrowed = false;
  if (callerRegion !== null && callerRegion.trim() !== '') {
    const best = Math.min(...candidates.map((c) => regionDistance(c.center.region, callerRegion)));
    pool = candidates.filter((c) => regionDistance(c.center.region, callerRegion) === best);
    regionNarrowed = pool.length < candidates.length;
  }
  let chosen = pool[0];
  for (const c of pool.slice(1)) if (lessUtilised(c, chosen)) chosen = c;

  const redirected = chosen.chain.length > 1;
  const rule: RoutingRule = redirected ? 'REDIRECT' : regionNarrowed ? 'NEAREST_REGION' : candidates.length > 1 ? 'LEAST_LOADED' : 'FIRST_OPEN';
  const load = `${chosen.active}/${chosen.center.capacity} busy`;
  const parts = [
    `${chosen.center.callCenterId} open, ${load}`,
    redirected ? `redirected: ${chosen.chain.join(' → ')}` : null,
    regionNarrowed ? `nearest to caller region ${callerRegion}` : null,
    pool.length > 1 ? `least utilised of ${pool.length}` : null,
    refusals.length > 0 ? `skipped ${refusals.join('; ')}` : null,
  ].filter((p): p is string => p !== null);
  return {
    ok: true,
    callCenterId: chosen.center.callCenterId,
    destination: chosen.center.phoneNumber,
    media: chosen.center.kind,
    rule,
    requestedCallCenterId: chosen.requested,
    reason: parts.join('; '),
  };
};

/**
 * Where a call of the link waits when routing refused it (issue 25): the center routeCall would choose
 * if no center were busy (open now, nearest the caller's region, then the first in the link's order;
 * redirects followed). Null when no center of the link is open (closed, or no route at all): a call
 * then never waits. So "every open candidate is full" is exactly: routeCall refused and this is not null.
 */
export const queueCenterOf = (input: Omit<RouteInput, 'activeCalls'>): string | null => {
  const idle = routeCall({ ...input, activeCalls: {} });
  return idle.ok ? idle.callCenterId : null;
};
