import type { CallDirection } from '../call/events';
import type { RatePlan } from './rate-plan';
import { rateCall } from './rating';

/** Who had the call from an instant on: its answer, then each completed transfer (issue 25). */
export interface HandOver {
  at: string;
  callCenterId: string | null;
  /** The agent (AGENT key id) who took it; null on a phone. */
  agent: string | null;
}

/** One leg of a rated call: a center and agent, the milliseconds they had it, rated by the call's plan. */
export interface RatedLeg {
  callCenterId: string | null;
  agent: string | null;
  talkMs: number;
  billableSeconds: number;
  amountMinor: number;
}

/**
 * Splits a call's talk time into legs at its hand-overs and rates each leg by the call's plan (issue 25).
 * `handOvers` starts with the answer; the next ones are completed transfers, in time order (a hand-over
 * outside answer…end is clamped into it, so that the legs always add up to the whole talk time).
 * Each leg is a connection of its own: the plan's connection fee, minimum and increments apply per
 * leg (a later leg of no time costs nothing); the call's charge is the sum. One hand-over (no transfer): one leg, rated as the call always was.
 */
export const rateLegs = (plan: RatePlan, destination: string, direction: CallDirection, handOvers: readonly HandOver[], endedAt: string): RatedLeg[] => {
  if (handOvers.length === 0) return [];
  const end = Date.parse(endedAt);
  const start = Math.min(Date.parse(handOvers[0].at), end);
  const times = handOvers.map((h, i) => (i === 0 ? start : Math.min(end, Math.max(start, Date.parse(h.at)))));
  return handOvers.map((h, i) => {
    const talkMs = Math.max(0, (i + 1 < times.length ? times[i + 1] : end) - times[i]);
    // A hand-over at (or clamped to) the end: that holder never talked, the leg costs nothing.
    const r = i > 0 && talkMs === 0 ? { billableSeconds: 0, amountMinor: 0 } : rateCall(plan, destination, talkMs, direction);
    return { callCenterId: h.callCenterId, agent: h.agent, talkMs, billableSeconds: r.billableSeconds, amountMinor: r.amountMinor };
  });
};
