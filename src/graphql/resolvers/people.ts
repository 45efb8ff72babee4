import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { authorize, centerScope, merchantScope, type Principal } from '../../app/auth';
import type { Agent } from '../../app/agent-service';
import { MAX_EXPORT_DAYS } from '../../app/export-tickets';
import { assertRatePlan, type ActiveMerchant } from '../../domain/merchant/merchant';
import { DomainError } from '../../domain/shared/errors';
import { mapped } from '../errors';
import type { GraphQLContext } from '../context';
import { DateTimeScalar } from '../scalars';
import { Call, CallContext, MediaJoin } from '../calls/types';
import { CallCenterKind, DtmfAction, type CallCenterKindT, type DtmfActionT } from '../enums';
import { CallCenterStats, ChargesExport, RerateWhatIf } from '../billing/types';
import { AgentCommand } from '../console/types';
import { RatePlanInput, Viewer } from '../merchants/types';

/** The console's roles: a CRM key (every center of its merchant) or an AGENT key (one center); ADMIN too. */
const CONSOLE = ['CRM', 'AGENT'] as const;
const BILLING = ['MERCHANT', 'ANALYST'] as const;

/** The console user behind a key: its id is what events record as the agent. */
export const agentOf = (principal: Principal): Agent => {
  authorize(principal, CONSOLE);
  if (principal.kind !== 'key') throw new DomainError('UNAUTHENTICATED', 'an API key is required');
  return { id: principal.keyId, merchantId: merchantScope(principal), callCenterId: centerScope(principal) };
};

/** Browser call: routed to a center, no port; PSTN: a port; null before routing. */
const mediaOf = (callCenterId: string | null, line: string | null): CallCenterKindT | null =>
  callCenterId === null ? null : line === null ? 'BROWSER' : 'PSTN';

const period = (from: string, to: string) => {
  if (!(Date.parse(from) < Date.parse(to))) throw new DomainError('BAD_USER_INPUT', 'from must be before to', { field: 'from' });
};

const merchantOf = async (ctx: GraphQLContext, merchantId: string): Promise<ActiveMerchant> => ctx.services.admin.merchant(merchantId);

/** The agent console's operations. */
@Resolver()
export class AgentResolver {
  @Mutation(() => Call, {
    description:
      'The agent answers a call that rings in the console (a BROWSER call center: PC-to-PC). CRM key of the merchant, or AGENT key of the call\'s center. The first agent takes the call; another gets CONFLICT; a PSTN call (answered on the phone) or an ended call is a CONFLICT too.',
  })
  answerCall(@Arg('callId', () => ID) callId: string, @Ctx() ctx: GraphQLContext): Promise<Call> {
    return mapped(() => ctx.services.people.agents.answer(callId, agentOf(ctx.principal), ctx.correlationId));
  }

  @Mutation(() => Call, { description: 'The agent ends the call from the console (terminatedBy CALLEE, cause HANGUP). Idempotent.' })
  agentHangUp(@Arg('callId', () => ID) callId: string, @Ctx() ctx: GraphQLContext): Promise<Call> {
    return mapped(() => ctx.services.people.agents.hangUp(callId, agentOf(ctx.principal), ctx.correlationId));
  }

  @Mutation(() => AgentCommand, {
    description:
      'A console button: the command DTMF would give (PUSH_PAGE with a URL, VOLUME with "+20"/"-20", OPEN_CHANNEL with a two-digit channel), recorded as DtmfCommandRecognized (source AGENT) and pushed to the caller like DTMF. A page outside the merchant\'s allowedOrigins is recorded as refused (accepted false). Only while the call is ANSWERED: CONFLICT otherwise.',
  })
  agentCommand(
    @Arg('callId', () => ID) callId: string,
    @Arg('action', () => DtmfAction) action: DtmfActionT,
    @Arg('argument', () => String, { nullable: true }) argument: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<AgentCommand> {
    return mapped(async () => {
      const r = await ctx.services.people.agents.command(callId, agentOf(ctx.principal), action, argument ?? null, ctx.correlationId);
      return { callId: r.callId, action: r.action, argument: r.argument, sequence: r.sequence, accepted: r.accepted, reason: r.reason, at: r.at };
    });
  }

  @Query(() => MediaJoin, {
    description: "What the console needs to join a live call's media room (LiveKit: url, room and an agent token). In simulator or external mode there is no room: provider names the mode, the rest is null.",
  })
  agentMediaJoin(@Arg('callId', () => ID) callId: string, @Ctx() ctx: GraphQLContext): Promise<MediaJoin> {
    return mapped(() => ctx.services.people.agents.mediaJoin(callId, agentOf(ctx.principal)));
  }
}

/** The merchant dashboard's reads and the billing what-if. */
@Resolver()
export class DashboardResolver {
  @Query(() => Viewer, { description: 'Who the Authorization key is: role, merchant and (AGENT) call center. UNAUTHENTICATED without a valid key.' })
  viewer(@Ctx() ctx: GraphQLContext): Promise<Viewer> {
    return mapped(async () => {
      const p = ctx.principal;
      if (p.kind !== 'key') throw new DomainError('UNAUTHENTICATED', 'an API key is required (Authorization: Bearer <key>)');
      const merchant = p.merchantId === null ? null : await merchantOf(ctx, p.merchantId).catch(() => null);
      return { role: p.role, merchantId: p.merchantId, merchantName: merchant?.name ?? null, callCenterId: centerScope(p) };
    });
  }

  @Query(() => [CallCenterStats], { description: 'Calls, answer rate and talk time per call center for calls downloaded in [from, to). MERCHANT or ANALYST key.' })
  callCenterStats(
    @Arg('merchantId', () => ID) merchantId: string,
    @Arg('from', () => DateTimeScalar) from: string,
    @Arg('to', () => DateTimeScalar) to: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CallCenterStats[]> {
    return mapped(async () => {
      authorize(ctx.principal, BILLING, merchantId);
      period(from, to);
      const [rows, m] = await Promise.all([ctx.services.reads.callCenterStats(merchantId, from, to), merchantOf(ctx, merchantId)]);
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
    });
  }

  @Query(() => RerateWhatIf, {
    description:
      "A re-rate what-if: the merchant's charges of calls initiated in [from, to) rated again with the plan given, against what they are today, per UTC day. A dry run: nothing is written. MERCHANT or ANALYST key.",
  })
  rerateDryRun(
    @Arg('plan', () => RatePlanInput) plan: RatePlanInput,
    @Arg('from', () => DateTimeScalar) from: string,
    @Arg('to', () => DateTimeScalar) to: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<RerateWhatIf> {
    return mapped(async () => {
      authorize(ctx.principal, BILLING, plan.merchantId);
      period(from, to);
      const { merchantId, ...rest } = plan;
      const candidate = { ...rest, minimumChargeMinor: rest.minimumChargeMinor ?? 0, prefixRates: (rest.prefixRates ?? []).map((p) => ({ prefix: p.prefix, ratePerMinuteMinor: p.ratePerMinuteMinor })) };
      assertRatePlan(candidate);
      const current = (await merchantOf(ctx, merchantId)).ratePlan;
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
    });
  }

  @Mutation(() => ChargesExport, {
    description: `A one-time URL to download the charges of calls initiated in [from, to) as CSV, streamed (periods of at most ${MAX_EXPORT_DAYS} days; longer ones are refused with BAD_USER_INPUT). MERCHANT or ANALYST key.`,
  })
  createChargesExport(
    @Arg('merchantId', () => ID) merchantId: string,
    @Arg('from', () => DateTimeScalar) from: string,
    @Arg('to', () => DateTimeScalar) to: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ChargesExport> {
    return mapped(async () => {
      authorize(ctx.principal, BILLING, merchantId);
      const { ticket, expiresAt } = ctx.services.people.exports.issue(merchantId, from, to, ctx.services.clock.now());
      return { url: `/exports/charges.csv?ticket=${encodeURIComponent(ticket)}`, expiresAt: expiresAt.toISOString(), maxDays: MAX_EXPORT_DAYS };
    });
  }
}

@Resolver(() => Call)
export class CallMediaResolver {
  @FieldResolver(() => CallCenterKind, { nullable: true, description: 'PSTN (dialled through a port) or BROWSER (PC-to-PC, answered in the console); null before routing.' })
  media(@Root() call: Call): CallCenterKindT | null {
    return mediaOf(call.callCenterId, call.gatewayId);
  }
}

@Resolver(() => CallContext)
export class CallContextFieldsResolver {
  @FieldResolver(() => CallCenterKind, { nullable: true, description: 'PSTN or BROWSER (a browser call has no caller ID); null before routing.' })
  media(@Root() c: CallContext): CallCenterKindT | null {
    return mediaOf(c.callCenterId, c.ani);
  }

  @FieldResolver(() => [Call], {
    description: "The same customer's other calls with this merchant, newest first (AGENT keys: those of its center). Empty without a customerId.",
    complexity: ({ args, childComplexity }) => 1 + Math.min(Number(args.first ?? 5), 20) * Math.max(1, childComplexity),
  })
  async earlierCalls(@Root() c: CallContext, @Arg('first', () => Int, { defaultValue: 5 }) first: number, @Ctx() ctx: GraphQLContext): Promise<Call[]> {
    return mapped(async () => {
      if (first < 1 || first > 20) throw new DomainError('BAD_USER_INPUT', 'first must be from 1 to 20', { field: 'first' });
      if (!c.customerId) return [];
      return ctx.services.reads.customerCalls(c.merchantId, c.customerId, c.callId, first, centerScope(ctx.principal));
    });
  }
}
