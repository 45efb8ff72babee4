import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { authorize, centerScope, merchantScope } from '../../app/auth';
import { agentOf } from './people';
import { DomainError } from '../../domain/shared/errors';
import { mapped } from '../errors';
import type { GraphQLContext } from '../context';
import { DateTimeScalar } from '../scalars';
import {
  BillingGroupBy,
  BillingSummary,
  Call,
  CallConnection,
  CallContext,
  CallEvent,
  CallFilter,
  Charge,
  Download,
  DownloadInput,
  Gateway,
  MediaJoin,
  TerminationCause,
  type BillingGroupByT,
  type TerminationCauseT,
} from '../types';

/** Keys that read their merchant's calls; an AGENT key reads only its own call center's. */
const READERS = ['MERCHANT', 'CRM', 'ANALYST', 'AGENT'] as const;

/**
 * Public widget operations after the download (initiate, hang up, chat) share one budget per client
 * address: a few per call, so five times the download budget.
 */
const publicLimit = (ctx: GraphQLContext) => ctx.services.limiter.hit('widget-per-client', ctx.clientAddress);
const MAX_FIRST = 500;

@Resolver(() => Call)
export class CallResolver {
  // ---- widget (public; call token after download) -------------------------------------------
  @Mutation(() => Download)
  recordDownload(@Arg('input', () => DownloadInput) input: DownloadInput, @Ctx() ctx: GraphQLContext): Promise<Download> {
    return mapped(async () => {
      await ctx.services.limiter.hit('download-per-client', ctx.clientAddress);
      await ctx.services.limiter.hit('download-per-merchant', input.merchantId);
      return ctx.services.calls.downloads.record(
        {
          merchantId: input.merchantId,
          linkId: input.linkId,
          customerId: input.customerId ?? null,
          sessionId: input.sessionId ?? null,
          pageUrl: input.pageUrl,
          referrer: input.referrer ?? null,
          context: input.context ?? null,
          callerRegion: input.callerRegion ?? null,
        },
        ctx.correlationId,
        ctx.origin ?? null,
      );
    });
  }

  @Mutation(() => MediaJoin, {
    description:
      "The caller's join of the call's media room (LiveKit: url, room and a microphone-only token; the simulator: nulls). Once per call: a second join with the same call token is refused with CONFLICT.",
  })
  joinMedia(@Arg('callToken', () => String) callToken: string, @Ctx() ctx: GraphQLContext): Promise<MediaJoin> {
    return mapped(async () => {
      publicLimit(ctx);
      return ctx.services.calls.downloads.joinMedia(callToken, ctx.correlationId);
    });
  }

  @Mutation(() => Call)
  initiateCall(@Arg('callToken', () => String) callToken: string, @Ctx() ctx: GraphQLContext): Promise<Call> {
    return mapped(async () => {
      await publicLimit(ctx);
      return ctx.services.calls.initiation.initiate(callToken, ctx.correlationId);
    });
  }

  @Mutation(() => Call)
  hangUp(@Arg('callToken', () => String) callToken: string, @Ctx() ctx: GraphQLContext): Promise<Call> {
    return mapped(async () => {
      await publicLimit(ctx);
      return ctx.services.calls.caller.hangUp(callToken, ctx.correlationId);
    });
  }

  @Mutation(() => Boolean, {
    description:
      'Chat on a channel the agent opened with DTMF #NN#. The caller passes its callToken (no key); the agent side passes callId with a GATEWAY key or a MERCHANT/CRM key of that merchant. The other side receives it (customerSession CHAT_MESSAGE / callEvents ChannelMessageSent).',
  })
  sendChannelMessage(
    @Arg('channelId', () => String) channelId: string,
    @Arg('text', () => String) text: string,
    @Arg('callToken', () => String, { nullable: true }) callToken: string | null,
    @Arg('callId', () => ID, { nullable: true }) callId: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<boolean> {
    return mapped(async () => {
      // An empty token is a (malformed) caller token, not the agent form.
      if (callToken !== null && callToken !== undefined) {
        await publicLimit(ctx);
        await ctx.services.calls.caller.sendChannelMessage({ caller: callToken }, channelId, text, ctx.correlationId);
        return true;
      }
      if (!callId) throw new DomainError('BAD_USER_INPUT', 'give callToken (caller) or callId (agent)', { field: 'callId' });
      authorize(ctx.principal, ['GATEWAY', 'MERCHANT', 'CRM', 'AGENT']);
      if (ctx.principal.kind === 'key' && ctx.principal.role === 'MERCHANT')
        authorize(ctx.principal, ['MERCHANT'], await ctx.services.calls.reader.merchantOf(callId));
      // The console (CRM of the merchant, AGENT of the call's center): the same scope as its buttons.
      else if (ctx.principal.kind === 'key' && ctx.principal.role !== 'GATEWAY') await ctx.services.people.agents.callFor(callId, agentOf(ctx.principal));
      await ctx.services.calls.caller.sendChannelMessage({ agentCallId: callId }, channelId, text, ctx.correlationId);
      return true;
    });
  }

  // ---- gateway --------------------------------------------------------------------------------
  @Mutation(() => Call)
  reportRinging(@Arg('callId', () => ID) callId: string, @Arg('gatewayEventId', () => String) gatewayEventId: string, @Ctx() ctx: GraphQLContext): Promise<Call> {
    return mapped(async () => {
      authorize(ctx.principal, ['GATEWAY']);
      return ctx.services.calls.reports.ringing(callId, gatewayEventId, ctx.correlationId);
    });
  }

  @Mutation(() => Call)
  reportAnswered(@Arg('callId', () => ID) callId: string, @Arg('gatewayEventId', () => String) gatewayEventId: string, @Ctx() ctx: GraphQLContext): Promise<Call> {
    return mapped(async () => {
      authorize(ctx.principal, ['GATEWAY']);
      return ctx.services.calls.reports.answered(callId, gatewayEventId, ctx.correlationId);
    });
  }

  @Mutation(() => Call)
  reportDtmf(
    @Arg('callId', () => ID) callId: string,
    @Arg('digits', () => String) digits: string,
    @Arg('gatewayEventId', () => String) gatewayEventId: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Call> {
    return mapped(async () => {
      authorize(ctx.principal, ['GATEWAY']);
      return ctx.services.calls.reports.dtmf(callId, digits, gatewayEventId, ctx.correlationId);
    });
  }

  @Mutation(() => Call)
  reportTerminated(
    @Arg('callId', () => ID) callId: string,
    @Arg('cause', () => TerminationCause) cause: TerminationCauseT,
    @Arg('sipStatus', () => Int, { nullable: true }) sipStatus: number | null,
    @Arg('gatewayEventId', () => String) gatewayEventId: string,
    @Arg('reason', () => String, { nullable: true, description: 'Why a FAILED call failed, a stable code such as TRUNK_NO_RESPONSE or TRUNK_ERROR (1-64 of A-Z a-z 0-9 _ . : -).' })
    reason: string | null | undefined,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Call> {
    return mapped(async () => {
      authorize(ctx.principal, ['GATEWAY']);
      return ctx.services.calls.reports.terminated(callId, cause, sipStatus ?? null, gatewayEventId, ctx.correlationId, reason ?? null);
    });
  }

  // ---- queries ---------------------------------------------------------------------------------
  @Query(() => Call, { nullable: true })
  call(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<Call | null> {
    return mapped(async () => {
      authorize(ctx.principal, READERS);
      const row = await ctx.services.reads.getCall(id);
      // Another merchant's (or, for an AGENT key, another center's) call is indistinguishable from a missing one.
      if (!row || !this.visible(ctx, row)) return null;
      return row;
    });
  }

  // Cost: the page size times what each node asks for, so aliased big pages add up and are refused.
  // A new argument that changes a cost must be listed in limits.ts COST_ARGUMENTS (cached costs).
  @Query(() => CallConnection, { complexity: ({ args, childComplexity }) => 1 + Math.min(Number(args.first ?? 50), MAX_FIRST) * Math.max(1, childComplexity) })
  calls(
    @Arg('filter', () => CallFilter, { nullable: true }) filter: CallFilter | null,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CallConnection> {
    return mapped(async () => {
      authorize(ctx.principal, READERS);
      const scope = merchantScope(ctx.principal);
      if (scope && filter?.merchantId && filter.merchantId !== scope) throw new DomainError('FORBIDDEN', 'this key is bound to another merchant');
      const center = centerScope(ctx.principal);
      if (center && filter?.callCenterId && filter.callCenterId !== center) throw new DomainError('FORBIDDEN', 'this key is bound to another call center');
      const n = first ?? 50;
      if (!Number.isInteger(n) || n < 1 || n > MAX_FIRST) throw new DomainError('BAD_USER_INPUT', `first must be from 1 to ${MAX_FIRST}`, { field: 'first' });
      const page = await ctx.services.reads.listCalls(
        { ...(filter ?? {}), merchantId: scope ?? filter?.merchantId ?? null, callCenterId: center ?? filter?.callCenterId ?? null },
        n,
        after ?? null,
      );
      return {
        edges: page.rows.map((node, i) => ({ node, cursor: page.cursors?.[i] ?? page.endCursor ?? node.id })),
        pageInfo: { endCursor: page.endCursor, hasNextPage: page.hasNextPage },
      };
    });
  }

  @Query(() => [CallEvent], { complexity: ({ childComplexity }) => 20 * Math.max(1, childComplexity) })
  callTimeline(@Arg('callId', () => ID) callId: string, @Ctx() ctx: GraphQLContext): Promise<CallEvent[]> {
    return mapped(async () => {
      authorize(ctx.principal, READERS);
      const rows = await ctx.services.reads.timeline(callId);
      if (rows.length === 0) return rows;
      const call = centerScope(ctx.principal) ? await ctx.services.reads.getCall(callId) : { merchantId: rows[0]!.merchantId, callCenterId: null };
      return call && this.visible(ctx, call) ? rows : [];
    });
  }

  @Query(() => CallContext, { nullable: true })
  callContextByAni(
    @Arg('ani', () => String) ani: string,
    @Arg('at', () => DateTimeScalar, { nullable: true }) at: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CallContext | null> {
    return mapped(async () => {
      authorize(ctx.principal, READERS);
      const found = await ctx.services.reads.contextByAni(ani, at ? new Date(at) : null, merchantScope(ctx.principal));
      return found && this.visible(ctx, found) ? found : null;
    });
  }

  @Query(() => BillingSummary)
  billingSummary(
    @Arg('merchantId', () => ID) merchantId: string,
    @Arg('from', () => DateTimeScalar) from: string,
    @Arg('to', () => DateTimeScalar) to: string,
    @Arg('groupBy', () => BillingGroupBy, { nullable: true }) groupBy: BillingGroupByT | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<BillingSummary> {
    return mapped(async () => {
      authorize(ctx.principal, ['MERCHANT', 'ANALYST'], merchantId);
      if (from > to) throw new DomainError('BAD_USER_INPUT', 'from must not be after to', { field: 'from' });
      return ctx.services.reads.billingSummary(merchantId, from, to, groupBy ?? null);
    });
  }

  @Query(() => Gateway, { nullable: true })
  gateway(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<Gateway | null> {
    return mapped(async () => {
      authorize(ctx.principal, []);
      return ctx.services.reads.gateway(id);
    });
  }

  // ---- Call fields from other read models, batched per request ---------------------------------
  @FieldResolver(() => Charge, { nullable: true })
  charge(@Root() call: Call, @Ctx() ctx: GraphQLContext): Promise<Charge | null> {
    return ctx.loaders.charge.load(call.id);
  }

  @FieldResolver(() => CallContext, { nullable: true })
  context(@Root() call: Call, @Ctx() ctx: GraphQLContext): Promise<CallContext | null> {
    return ctx.loaders.context.load(call.id);
  }

  private visible(ctx: GraphQLContext, call: { merchantId: string; callCenterId: string | null }): boolean {
    const scope = merchantScope(ctx.principal);
    const center = centerScope(ctx.principal);
    return (scope === null || scope === call.merchantId) && (center === null || center === call.callCenterId);
  }
}
