import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, UseMiddleware } from 'type-graphql';
import { authorize } from '../../app/auth';
import type { GraphQLContext } from '../context';
import { MapErrors } from '../middleware';
import { DomainError } from '../../domain/shared/errors';
import { effectiveCallbackPrefixes } from '../../domain/callback/callback-number';
import { CallCenterKind, DtmfAction, READERS, type CallCenterKindT, type DtmfActionT } from '../enums';
import { CallCenter, CallCenterInput, DtmfCommand, Link, LinkInput, Merchant, MerchantInput, OpeningHours, RatePlan, RatePlanInput } from './types';

/** The merchant that owns a call center, once the key (already a MERCHANT or ADMIN one) is bound to it. */
const ownerOf = async (ctx: GraphQLContext, callCenterId: string): Promise<string> => {
  const merchantId = await ctx.services.admin.callCenterOwner(callCenterId);
  authorize(ctx.principal, ['MERCHANT'], merchantId);
  return merchantId;
};

/**
 * A merchant's configuration: written by its mutations (thin: the rules live in the domain), read
 * back from the merchants projection (eventually consistent: send a mutation's extensions.position
 * back to read it at once). Another merchant's is FORBIDDEN.
 */
@Resolver(() => Merchant)
@UseMiddleware(MapErrors)
export class MerchantResolver {
  @Query(() => Merchant, { nullable: true, description: "A merchant with its call centers, links, rate plan and DTMF table (ADMIN, or a key of that merchant: another merchant's is FORBIDDEN); null when absent." })
  @Authorized(...READERS)
  merchant(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<Merchant | null> {
    // The merchant is named `id` here, which the auth checker does not read: bind the key to it.
    authorize(ctx.principal, READERS, id);
    return ctx.services.reads.merchant(id);
  }

  @Mutation(() => Merchant)
  @Authorized('ADMIN')
  createMerchant(@Arg('input', () => MerchantInput) input: MerchantInput, @Ctx() ctx: GraphQLContext): Promise<Merchant> {
    return ctx.services.admin.createMerchant(
      { name: input.name, maxConcurrentCalls: input.maxConcurrentCalls ?? null, allowedOrigins: input.allowedOrigins ?? null },
      ctx.correlationId,
    );
  }

  @Mutation(() => CallCenter)
  @Authorized('MERCHANT')
  addCallCenter(@Arg('input', () => CallCenterInput) input: CallCenterInput, @Ctx() ctx: GraphQLContext): Promise<CallCenter> {
    return ctx.services.admin.addCallCenter(
      { ...input, weeklyHours: input.weeklyHours ? input.weeklyHours.map((h) => ({ day: h.day, open: h.open, close: h.close })) : null, kind: input.kind ?? 'PSTN' },
      ctx.correlationId,
    );
  }

  @Mutation(() => CallCenter)
  @Authorized('MERCHANT')
  async redirectCallCenter(
    @Arg('callCenterId', () => ID) callCenterId: string,
    @Arg('toCallCenterId', () => ID, { nullable: true }) toCallCenterId: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CallCenter> {
    const merchantId = await ownerOf(ctx, callCenterId);
    return ctx.services.admin.redirectCallCenter(merchantId, callCenterId, toCallCenterId ?? null, ctx.correlationId);
  }

  @Mutation(() => CallCenter, {
    description: 'Marks a call center as a BROWSER center (its calls ring in the agent console, PC-to-PC) or back to PSTN. ADMIN or that MERCHANT.',
  })
  @Authorized('MERCHANT')
  async setCallCenterKind(
    @Arg('callCenterId', () => ID) callCenterId: string,
    @Arg('kind', () => CallCenterKind) kind: CallCenterKindT,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CallCenter> {
    const merchantId = await ownerOf(ctx, callCenterId);
    return ctx.services.admin.setCallCenterKind(merchantId, callCenterId, kind, ctx.correlationId);
  }

  @Mutation(() => CallCenter, {
    description:
      "Opts a call center in (or out) of hearing the caller's session number (a numeric sessionId, else customerId, up to 16 digits) as RFC 4733 DTMF right after it answers, followed by #. The X-Webdial-* SIP headers are sent on every INVITE regardless. ADMIN or that MERCHANT.",
  })
  @Authorized('MERCHANT')
  async setCallCenterIdentityDtmf(
    @Arg('callCenterId', () => ID) callCenterId: string,
    @Arg('enabled', () => Boolean) enabled: boolean,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CallCenter> {
    const merchantId = await ownerOf(ctx, callCenterId);
    return ctx.services.admin.setCallCenterIdentityDtmf(merchantId, callCenterId, enabled, ctx.correlationId);
  }

  @Mutation(() => Link)
  @Authorized('MERCHANT')
  createLink(@Arg('input', () => LinkInput) input: LinkInput, @Ctx() ctx: GraphQLContext): Promise<Link> {
    return ctx.services.admin.createLink(input, ctx.correlationId);
  }

  @Mutation(() => Link, {
    description:
      "Issue 25: lets a link's calls wait in the queue of its call center when every center is busy: at most maxWaitSeconds (1 to 3600), at most maxLength waiting at once (1 to 1000). Both null: its calls no longer wait (those waiting stay). Out of bounds, or one null: BAD_USER_INPUT (reason QUEUE_POLICY_INVALID). ADMIN or that MERCHANT.",
  })
  @Authorized('MERCHANT')
  setLinkQueuePolicy(
    @Arg('merchantId', () => ID) merchantId: string,
    @Arg('linkId', () => ID) linkId: string,
    @Arg('maxWaitSeconds', () => Int, { nullable: true }) maxWaitSeconds: number | null,
    @Arg('maxLength', () => Int, { nullable: true }) maxLength: number | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<Link> {
    const none = (maxWaitSeconds ?? null) === null && (maxLength ?? null) === null;
    if (!none && ((maxWaitSeconds ?? null) === null || (maxLength ?? null) === null))
      throw new DomainError('BAD_USER_INPUT', 'give both maxWaitSeconds and maxLength, or neither (no queue)', { field: maxWaitSeconds == null ? 'maxWaitSeconds' : 'maxLength', reason: 'QUEUE_POLICY_INVALID' });
    return ctx.services.admin.setLinkQueuePolicy(merchantId, linkId, none ? null : { maxWaitSeconds: maxWaitSeconds!, maxLength: maxLength! }, ctx.correlationId);
  }

  @Mutation(() => Boolean)
  @Authorized('MERCHANT')
  async setRatePlan(@Arg('input', () => RatePlanInput) input: RatePlanInput, @Ctx() ctx: GraphQLContext): Promise<boolean> {
    const { merchantId, ...plan } = input;
    await ctx.services.admin.setRatePlan(
      merchantId,
      { ...plan, minimumChargeMinor: plan.minimumChargeMinor ?? 0, prefixRates: (plan.prefixRates ?? []).map((p) => ({ prefix: p.prefix, ratePerMinuteMinor: p.ratePerMinuteMinor })) },
      ctx.correlationId,
    );
    return true;
  }

  @Mutation(() => Boolean)
  @Authorized('MERCHANT')
  async setDtmfCommand(
    @Arg('merchantId', () => ID) merchantId: string,
    @Arg('sequence', () => String) sequence: string,
    @Arg('action', () => DtmfAction) action: DtmfActionT,
    @Arg('argument', () => String, { nullable: true }) argument: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<boolean> {
    await ctx.services.admin.setDtmfCommand(merchantId, sequence, action, argument ?? null, ctx.correlationId);
    return true;
  }

  // ---- the merchant's configuration, read back ----------------------------------------------------
  @FieldResolver(() => [CallCenter])
  callCenters(@Root() m: Merchant, @Ctx() ctx: GraphQLContext): Promise<CallCenter[]> {
    return ctx.services.reads.callCenters(m.id);
  }

  @FieldResolver(() => [Link])
  links(@Root() m: Merchant, @Ctx() ctx: GraphQLContext): Promise<Link[]> {
    return ctx.services.reads.links(m.id);
  }

  @FieldResolver(() => RatePlan, { nullable: true })
  async ratePlan(@Root() m: Merchant & { ratePlan?: RatePlan | null }, @Ctx() ctx: GraphQLContext): Promise<RatePlan | null> {
    const plan = m.ratePlan !== undefined ? m.ratePlan : ((await ctx.services.reads.merchant(m.id))?.ratePlan ?? null);
    // Plans set before issue 23 have no inbound rate.
    return plan === null ? null : { ...plan, inboundRatePerMinuteMinor: plan.inboundRatePerMinuteMinor ?? null, callbackRatePerMinuteMinor: plan.callbackRatePerMinuteMinor ?? null };
  }

  @FieldResolver(() => [String], { description: 'The prefixes a callback number must start with now: callbackPrefixes, or (unset) the calling codes of its call centers\' numbers.' })
  async effectiveCallbackPrefixes(@Root() m: Merchant, @Ctx() ctx: GraphQLContext): Promise<string[]> {
    return effectiveCallbackPrefixes(m.callbackPrefixes ?? null, (await ctx.services.reads.callCenters(m.id)).map((c) => c.phoneNumber));
  }

  @Mutation(() => Merchant, {
    description:
      "The prefixes the merchant's shoppers may be called back on (issue 25): at most 50, each '+' and 1 to 6 digits ('+33', '+1416'); null: unset (its call centers' calling codes). Refused: BAD_USER_INPUT, reason CALLBACK_PREFIXES_INVALID.",
  })
  @Authorized('MERCHANT')
  setCallbackPrefixes(@Arg('merchantId', () => ID) merchantId: string, @Arg('prefixes', () => [String], { nullable: true }) prefixes: string[] | null, @Ctx() ctx: GraphQLContext): Promise<Merchant> {
    return ctx.services.admin.setCallbackPrefixes(merchantId, prefixes ?? null, ctx.correlationId);
  }

  @FieldResolver(() => [DtmfCommand])
  dtmfCommands(@Root() m: Merchant, @Ctx() ctx: GraphQLContext): Promise<DtmfCommand[]> {
    return ctx.services.reads.dtmfCommands(m.id);
  }
}

@Resolver(() => CallCenter)
@UseMiddleware(MapErrors)
export class CallCenterFieldsResolver {
  @FieldResolver(() => [OpeningHours], { nullable: true, description: 'null: always open; []: never open.' })
  weeklyHours(@Root() c: CallCenter & { weeklyHours?: OpeningHours[] | null }): OpeningHours[] | null {
    return c.weeklyHours ?? null;
  }
}
