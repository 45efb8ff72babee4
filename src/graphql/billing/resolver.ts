import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver, UseMiddleware } from 'type-graphql';
import { authorize } from '../../app/auth';
import { MAX_EXPORT_DAYS } from '../../app/export-tickets';
import { assertRatePlan } from '../../domain/merchant/merchant';
import { DomainError } from '../../domain/shared/errors';
import type { GraphQLContext } from '../context';
import { MapErrors } from '../middleware';
import { DateTimeScalar } from '../scalars';
import { BillingGroupBy, type BillingGroupByT } from '../enums';
import { RatePlanInput } from '../merchants/types';
import { BillingSummary, CallCenterStats, ChargesExport, RerateWhatIf } from './types';

/** Who reads a merchant's money and traffic: its MERCHANT and ANALYST keys (and ADMIN). */
const BILLING = ['MERCHANT', 'ANALYST'] as const;

const period = (from: string, to: string) => {
  if (!(Date.parse(from) < Date.parse(to))) throw new DomainError('BAD_USER_INPUT', 'from must be before to', { field: 'from' });
};

/** The merchant dashboard's reads: the billing summary, per-center stats, the re-rate what-if and the charges export. */
@Resolver()
@UseMiddleware(MapErrors)
export class BillingResolver {
  @Query(() => BillingSummary)
  @Authorized(...BILLING)
  billingSummary(
    @Arg('merchantId', () => ID) merchantId: string,
    @Arg('from', () => DateTimeScalar) from: string,
    @Arg('to', () => DateTimeScalar) to: string,
    @Arg('groupBy', () => BillingGroupBy, { nullable: true }) groupBy: BillingGroupByT | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<BillingSummary> {
    if (from > to) throw new DomainError('BAD_USER_INPUT', 'from must not be after to', { field: 'from' });
    return ctx.services.reads.billingSummary(merchantId, from, to, groupBy ?? null);
  }

  @Query(() => [CallCenterStats], { description: 'Calls, answer rate and talk time per call center for calls downloaded in [from, to). MERCHANT or ANALYST key.' })
  @Authorized(...BILLING)
  async callCenterStats(
    @Arg('merchantId', () => ID) merchantId: string,
    @Arg('from', () => DateTimeScalar) from: string,
    @Arg('to', () => DateTimeScalar) to: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CallCenterStats[]> {
    period(from, to);
    const [rows, m] = await Promise.all([ctx.services.reads.callCenterStats(merchantId, from, to), ctx.services.admin.merchant(merchantId)]);
    return rows.map((r) => {
      const c = m.callCenters[r.callCenterId];
      return {
        ...r,
        name: c?.name ?? null,
        kind: c?.kind ?? null,
        answerRate: r.calls === 0 ? 0 : r.answered / r.calls,
        averageTalkSeconds: r.answered === 0 ? 0 : r.talkSeconds / r.answered,
      };
    });
  }

  @Query(() => RerateWhatIf, {
    description:
      "A re-rate what-if: the merchant's charges of calls initiated in [from, to) rated again with the plan given, against what they are today, per UTC day. A dry run: nothing is written. MERCHANT or ANALYST key.",
  })
  @Authorized(...BILLING)
  async rerateDryRun(
    @Arg('plan', () => RatePlanInput) plan: RatePlanInput,
    @Arg('from', () => DateTimeScalar) from: string,
    @Arg('to', () => DateTimeScalar) to: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<RerateWhatIf> {
    // The merchant is named inside `plan`, where the auth checker does not look: bind the key to it here.
    authorize(ctx.principal, BILLING, plan.merchantId);
    period(from, to);
    const { merchantId, ...rest } = plan;
    const candidate = { ...rest, minimumChargeMinor: rest.minimumChargeMinor ?? 0, prefixRates: (rest.prefixRates ?? []).map((p) => ({ prefix: p.prefix, ratePerMinuteMinor: p.ratePerMinuteMinor })) };
    assertRatePlan(candidate);
    const current = (await ctx.services.admin.merchant(merchantId)).ratePlan;
    const result = await ctx.services.people.rerateDryRun({ merchantId, from, to, plan: { ...candidate, version: (current?.version ?? 0) + 1 } });
    const days = new Map<string, { day: string; calls: number; currentMinor: number; whatIfMinor: number }>();
    for (const l of result.lines) {
      const day = l.startedAt.slice(0, 10);
      const d = days.get(day) ?? { day, calls: 0, currentMinor: 0, whatIfMinor: 0 };
      d.calls += 1;
      d.currentMinor += l.oldAmountMinor;
      d.whatIfMinor += l.newAmountMinor;
      days.set(day, d);
    }
    const currentMinor = result.lines.reduce((s, l) => s + l.oldAmountMinor, 0);
    return {
      merchantId,
      from,
      to,
      currency: candidate.currency,
      calls: result.lines.length,
      currentMinor,
      whatIfMinor: currentMinor + result.totalDiffMinor,
      diffMinor: result.totalDiffMinor,
      days: [...days.values()].sort((a, b) => (a.day < b.day ? -1 : 1)),
    };
  }

  @Mutation(() => ChargesExport, {
    description: `A one-time URL to download the charges of calls initiated in [from, to) as CSV, streamed (periods of at most ${MAX_EXPORT_DAYS} days; longer ones are refused with BAD_USER_INPUT). MERCHANT or ANALYST key.`,
  })
  @Authorized(...BILLING)
  createChargesExport(
    @Arg('merchantId', () => ID) merchantId: string,
    @Arg('from', () => DateTimeScalar) from: string,
    @Arg('to', () => DateTimeScalar) to: string,
    @Ctx() ctx: GraphQLContext,
  ): ChargesExport {
    const { ticket, expiresAt } = ctx.services.people.exports.issue(merchantId, from, to, ctx.services.clock.now());
    return { url: `/exports/charges.csv?ticket=${encodeURIComponent(ticket)}`, expiresAt: expiresAt.toISOString(), maxDays: MAX_EXPORT_DAYS };
  }
}
