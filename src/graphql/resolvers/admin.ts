import { Arg, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import { authorize } from '../../app/auth';
import { DomainError } from '../../domain/shared/errors';
import { mapped } from '../errors';
import type { GraphQLContext } from '../context';
import {
  CallCenterKind,
  type CallCenterKindT,
  DtmfAction,
  Role,
  type DtmfActionT,
  type RoleT,
} from '../enums';
import { Gateway, GatewayInput } from '../gateways/types';
import {
  ApiKey,
  CallCenter,
  CallCenterInput,
  Link,
  LinkInput,
  Merchant,
  MerchantInput,
  RatePlanInput,
} from '../merchants/types';

/** The merchant that owns a call center, once the key may configure it (ADMIN or that MERCHANT). */
const ownerOf = async (ctx: GraphQLContext, callCenterId: string): Promise<string> => {
  authorize(ctx.principal, ['MERCHANT']);
  const merchantId = await ctx.services.admin.callCenterOwner(callCenterId);
  authorize(ctx.principal, ['MERCHANT'], merchantId);
  return merchantId;
};

/** Configuration: merchants, centers, links, plans, DTMF table, gateways and keys. Thin: rules live in the domain. */
@Resolver()
export class AdminResolver {
  @Mutation(() => Merchant)
  createMerchant(@Arg('input', () => MerchantInput) input: MerchantInput, @Ctx() ctx: GraphQLContext): Promise<Merchant> {
    return mapped(async () => {
      authorize(ctx.principal, []);
      return ctx.services.admin.createMerchant(
        { name: input.name, maxConcurrentCalls: input.maxConcurrentCalls ?? null, allowedOrigins: input.allowedOrigins ?? null },
        ctx.correlationId,
      );
    });
  }

  @Mutation(() => ApiKey)
  createApiKey(
    @Arg('role', () => Role) role: RoleT,
    @Arg('merchantId', () => ID, { nullable: true }) merchantId: string | null,
    @Arg('callCenterId', () => ID, { nullable: true, description: 'Required for an AGENT key (one of the merchant\'s call centers); refused for every other role.' })
    callCenterId: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ApiKey> {
    return mapped(async () => {
      authorize(ctx.principal, []);
      const bound = role === 'ADMIN' || role === 'GATEWAY' ? null : merchantId ?? null;
      if (role !== 'ADMIN' && role !== 'GATEWAY' && !bound) throw new DomainError('BAD_USER_INPUT', `merchantId is required for a ${role} key`, { field: 'merchantId' });
      if ((role === 'ADMIN' || role === 'GATEWAY') && merchantId) throw new DomainError('BAD_USER_INPUT', `a ${role} key is not bound to a merchant`, { field: 'merchantId' });
      return ctx.services.admin.createApiKey(role, bound, ctx.correlationId, callCenterId ?? null);
    });
  }

  @Mutation(() => Boolean, { description: 'Revokes an API key (ADMIN). Takes the key itself or its id (the middle part of wd.<id>.<secret>).' })
  revokeApiKey(@Arg('key', () => String) key: string, @Ctx() ctx: GraphQLContext): Promise<boolean> {
    return mapped(async () => {
      authorize(ctx.principal, []);
      const keyId = key.startsWith('wd.') ? key.split('.')[1] ?? '' : key;
      if (!/^[A-Za-z0-9_-]{4,64}$/.test(keyId)) throw new DomainError('BAD_USER_INPUT', 'not an API key or key id', { field: 'key' });
      await ctx.services.admin.revokeApiKey(keyId, ctx.correlationId);
      ctx.services.auth.invalidate();
      return true;
    });
  }

  @Mutation(() => Gateway)
  createGateway(@Arg('input', () => GatewayInput) input: GatewayInput, @Ctx() ctx: GraphQLContext): Promise<Gateway> {
    return mapped(async () => {
      authorize(ctx.principal, []);
      const g = await ctx.services.admin.createGateway({ name: input.name, region: input.region, ports: input.ports.map((p) => ({ number: p.number, ani: p.ani })) }, ctx.correlationId);
      return { ...g, ports: g.ports.map((p) => ({ gatewayId: g.id, number: p.number, ani: p.ani, busy: false, callId: null })) };
    });
  }

  @Mutation(() => CallCenter)
  addCallCenter(@Arg('input', () => CallCenterInput) input: CallCenterInput, @Ctx() ctx: GraphQLContext): Promise<CallCenter> {
    return mapped(async () => {
      authorize(ctx.principal, ['MERCHANT'], input.merchantId);
      return ctx.services.admin.addCallCenter(
        { ...input, weeklyHours: input.weeklyHours ? input.weeklyHours.map((h) => ({ day: h.day, open: h.open, close: h.close })) : null, kind: input.kind ?? 'PSTN' },
        ctx.correlationId,
      );
    });
  }

  @Mutation(() => CallCenter)
  redirectCallCenter(
    @Arg('callCenterId', () => ID) callCenterId: string,
    @Arg('toCallCenterId', () => ID, { nullable: true }) toCallCenterId: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CallCenter> {
    return mapped(async () => {
      const merchantId = await ownerOf(ctx, callCenterId);
      return ctx.services.admin.redirectCallCenter(merchantId, callCenterId, toCallCenterId ?? null, ctx.correlationId);
    });
  }

  @Mutation(() => CallCenter, {
    description: 'Marks a call center as a BROWSER center (its calls ring in the agent console, PC-to-PC) or back to PSTN. ADMIN or that MERCHANT.',
  })
  setCallCenterKind(
    @Arg('callCenterId', () => ID) callCenterId: string,
    @Arg('kind', () => CallCenterKind) kind: CallCenterKindT,
    @Ctx() ctx: GraphQLContext,
  ): Promise<CallCenter> {
    return mapped(async () => {
      const merchantId = await ownerOf(ctx, callCenterId);
      return ctx.services.admin.setCallCenterKind(merchantId, callCenterId, kind, ctx.correlationId);
    });
  }

  @Mutation(() => Link)
  createLink(@Arg('input', () => LinkInput) input: LinkInput, @Ctx() ctx: GraphQLContext): Promise<Link> {
    return mapped(async () => {
      authorize(ctx.principal, ['MERCHANT'], input.merchantId);
      return ctx.services.admin.createLink(input, ctx.correlationId);
    });
  }

  @Mutation(() => Boolean)
  setRatePlan(@Arg('input', () => RatePlanInput) input: RatePlanInput, @Ctx() ctx: GraphQLContext): Promise<boolean> {
    return mapped(async () => {
      authorize(ctx.principal, ['MERCHANT'], input.merchantId);
      const { merchantId, ...plan } = input;
      await ctx.services.admin.setRatePlan(
        merchantId,
        { ...plan, minimumChargeMinor: plan.minimumChargeMinor ?? 0, prefixRates: (plan.prefixRates ?? []).map((p) => ({ prefix: p.prefix, ratePerMinuteMinor: p.ratePerMinuteMinor })) },
        ctx.correlationId,
      );
      return true;
    });
  }

  @Mutation(() => Boolean)
  setDtmfCommand(
    @Arg('merchantId', () => ID) merchantId: string,
    @Arg('sequence', () => String) sequence: string,
    @Arg('action', () => DtmfAction) action: DtmfActionT,
    @Arg('argument', () => String, { nullable: true }) argument: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<boolean> {
    return mapped(async () => {
      authorize(ctx.principal, ['MERCHANT'], merchantId);
      await ctx.services.admin.setDtmfCommand(merchantId, sequence, action, argument ?? null, ctx.correlationId);
      return true;
    });
  }
}
