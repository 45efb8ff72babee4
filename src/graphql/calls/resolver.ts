import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, UseMiddleware } from 'type-graphql';
import { centerScope, merchantScope } from '../../app/auth';
import { badInput, DomainError } from '../../domain/shared/errors';
import { isSessionNumber, SESSION_NUMBER_MAX_DIGITS } from '../../domain/call/identity';
import type { GraphQLContext } from '../context';
import { MapErrors } from '../middleware';
import { agentOf } from '../console/resolver';
import { DateTimeScalar } from '../scalars';
import { CallCenterKind, READERS, TerminationCause, type CallCenterKindT, type TerminationCauseT } from '../enums';
import { Charge } from '../billing/types';
import { Call, CallConnection, CallContext, CallEvent, CallFilter } from './types';

const MAX_FIRST = 500;

/** Browser call: routed to a center, no port; PSTN: a port; null before routing. */
const mediaOf = (callCenterId: string | null, line: string | null): CallCenterKindT | null =>
  callCenterId === null ? null : line === null ? 'BROWSER' : 'PSTN';

/** Another merchant's (or, for an AGENT key, another center's) call is indistinguishable from a missing one. */
const visible = (ctx: GraphQLContext, call: { merchantId: string; callCenterId: string | null }): boolean => {
  const scope = merchantScope(ctx.principal);
  const center = centerScope(ctx.principal);
  return (scope === null || scope === call.merchantId) && (center === null || center === call.callCenterId);
};

/** The gateway's reports, the call queries, and the Call's fields from other read models. */
@Resolver(() => Call)
@UseMiddleware(MapErrors)
export class CallResolver {
  // ---- gateway --------------------------------------------------------------------------------
  @Mutation(() => Call)
  @Authorized('GATEWAY')
  reportRinging(@Arg('callId', () => ID) callId: string, @Arg('gatewayEventId', () => String) gatewayEventId: string, @Ctx() ctx: GraphQLContext): Promise<Call> {
    return ctx.services.calls.reports.ringing(callId, gatewayEventId, ctx.correlationId);
  }

  @Mutation(() => Call)
  @Authorized('GATEWAY')
  reportAnswered(@Arg('callId', () => ID) callId: string, @Arg('gatewayEventId', () => String) gatewayEventId: string, @Ctx() ctx: GraphQLContext): Promise<Call> {
    return ctx.services.calls.reports.answered(callId, gatewayEventId, ctx.correlationId);
  }

  @Mutation(() => Call)
  @Authorized('GATEWAY')
  reportDtmf(
    @Arg('callId', () => ID) callId: string,
    @Arg('digits', () => String) digits: string,
    @Arg('gatewayEventId', () => String) gatewayEventId: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Call> {
    return ctx.services.calls.reports.dtmf(callId, digits, gatewayEventId, ctx.correlationId);
  }

  @Mutation(() => Call)
  @Authorized('GATEWAY')
  reportTerminated(
    @Arg('callId', () => ID) callId: string,
    @Arg('cause', () => TerminationCause) cause: TerminationCauseT,
    @Arg('sipStatus', () => Int, { nullable: true }) sipStatus: number | null,
    @Arg('gatewayEventId', () => String) gatewayEventId: string,
    @Arg('reason', () => String, { nullable: true, description: 'Why a FAILED call failed, a stable code such as TRUNK_NO_RESPONSE or TRUNK_ERROR (1-64 of A-Z a-z 0-9 _ . : -).' })
    reason: string | null | undefined,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Call> {
    return ctx.services.calls.reports.terminated(callId, cause, sipStatus ?? null, gatewayEventId, ctx.correlationId, reason ?? null);
  }

  // ---- queries ---------------------------------------------------------------------------------
  @Query(() => Call, { nullable: true })
  @Authorized(...READERS)
  async call(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<Call | null> {
    const row = await ctx.services.reads.getCall(id);
    return row && visible(ctx, row) ? row : null;
  }

  // Cost: the page size times what each node asks for, so aliased big pages add up and are refused.
  // A new argument that changes a cost must be listed in limits.ts COST_ARGUMENTS (cached costs).
  @Query(() => CallConnection, { complexity: ({ args, childComplexity }) => 1 + Math.min(Number(args.first ?? 50), MAX_FIRST) * Math.max(1, childComplexity) })
  @Authorized(...READERS)
  async calls(
    @Arg('filter', () => CallFilter, { nullable: true }) filter: CallFilter | null,
    @Arg('first', () => Int, { nullable: true }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CallConnection> {
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
  }

  @Query(() => [CallEvent], { complexity: ({ childComplexity }) => 20 * Math.max(1, childComplexity) })
  @Authorized(...READERS)
  async callTimeline(@Arg('callId', () => ID) callId: string, @Ctx() ctx: GraphQLContext): Promise<CallEvent[]> {
    const rows = await ctx.services.reads.timeline(callId);
    if (rows.length === 0) return rows;
    const call = centerScope(ctx.principal) ? await ctx.services.reads.getCall(callId) : { merchantId: rows[0].merchantId, callCenterId: null };
    if (call && visible(ctx, call)) return rows;
    // Issue 25: an AGENT key of a center a transfer brought onto the call sees it too (the chat so far follows the call).
    return call && centerScope(ctx.principal) && (await ctx.services.people.agents.onCall(callId, agentOf(ctx.principal))) ? rows : [];
  }

  @Query(() => CallContext, { nullable: true })
  @Authorized(...READERS)
  async callContextByAni(
    @Arg('ani', () => String) ani: string,
    @Arg('at', () => DateTimeScalar, { nullable: true }) at: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CallContext | null> {
    const found = await ctx.services.reads.contextByAni(ani, at ? new Date(at) : null, merchantScope(ctx.principal));
    return found && visible(ctx, found) ? found : null;
  }

  @Query(() => CallContext, {
    nullable: true,
    description:
      "The call whose session number is `number` (the numeric sessionId, else customerId, up to 16 digits): what a center that opted in hears as DTMF after it answers, before the #. A live call first, then the newest. BAD_USER_INPUT when `number` is not 1-16 digits.",
  })
  @Authorized(...READERS)
  async callContextBySessionNumber(@Arg('number', () => String) number: string, @Ctx() ctx: GraphQLContext): Promise<CallContext | null> {
    if (!isSessionNumber(number)) throw badInput(`number must be 1 to ${SESSION_NUMBER_MAX_DIGITS} digits (0-9), as keyed before the #`, { field: 'number' });
    const found = await ctx.services.reads.contextBySessionNumber(number, merchantScope(ctx.principal));
    return found && visible(ctx, found) ? found : null;
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

  @FieldResolver(() => CallCenterKind, { nullable: true, description: 'PSTN (dialled through a port) or BROWSER (PC-to-PC, answered in the console); a CALLBACK call: BROWSER when its try rang in a browser center\'s consoles, PSTN when a PSTN center\'s number was dialled; null before routing.' })
  media(@Root() call: Call): CallCenterKindT | null {
    // A CALLBACK call holds a port whatever its center: a browser center's try rings in the consoles (answered
    // there), a PSTN center's is dialled (migration 18's column; null for tries recorded before: BROWSER).
    return call.direction === 'CALLBACK' ? (call.callbackMedia ?? 'BROWSER') : mediaOf(call.callCenterId, call.gatewayId);
  }
}

/** The CallContext's fields beyond its read model (a screen pop, a context by ANI, a Call's context). */
@Resolver(() => CallContext)
@UseMiddleware(MapErrors)
export class CallContextFieldsResolver {
  @FieldResolver(() => CallCenterKind, { nullable: true, description: 'PSTN or BROWSER (a browser call has no caller ID; an INBOUND call rings in the browser, its ani is the caller; a CALLBACK try is PSTN when a PSTN center was dialled: answered on its phone, not in the console); null before routing.' })
  media(@Root() c: CallContext): CallCenterKindT | null {
    // A PSTN center's callback try is answered on the phone: its pop must not offer the console's Answer.
    if (c.direction === 'CALLBACK') return c.callbackMedia ?? 'BROWSER';
    return c.direction !== 'OUTBOUND' ? 'BROWSER' : mediaOf(c.callCenterId, c.ani);
  }

  @FieldResolver(() => [Call], {
    description:
      "The same customer's other calls with this merchant, newest first (AGENT keys: those of its center). Empty without a customerId. For an INBOUND call: the earlier calls from the caller's number, so that a caller who phones again is recognised.",
    complexity: ({ args, childComplexity }) => 1 + Math.min(Number(args.first ?? 5), 20) * Math.max(1, childComplexity),
  })
  async earlierCalls(@Root() c: CallContext, @Arg('first', () => Int, { defaultValue: 5 }) first: number, @Ctx() ctx: GraphQLContext): Promise<Call[]> {
    if (first < 1 || first > 20) throw new DomainError('BAD_USER_INPUT', 'first must be from 1 to 20', { field: 'first' });
    if (c.direction === 'INBOUND') return c.ani ? ctx.services.reads.callerCalls(c.merchantId, c.ani, c.callId, first, centerScope(ctx.principal)) : [];
    if (!c.customerId) return [];
    return ctx.services.reads.customerCalls(c.merchantId, c.customerId, c.callId, first, centerScope(ctx.principal));
  }
}
