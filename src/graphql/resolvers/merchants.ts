import { Arg, Ctx, FieldResolver, ID, Query, Resolver, Root } from 'type-graphql';
import { authorize } from '../../app/auth';
import { mapped } from '../errors';
import type { GraphQLContext } from '../context';
import {
  ApiKeyInfo,
  CallCenter,
  DtmfCommand,
  Link,
  Merchant,
  OpeningHours,
  RatePlan,
} from '../merchants/types';

const READERS = ['MERCHANT', 'CRM', 'ANALYST', 'AGENT'] as const;

/**
 * A merchant's configuration read back from the merchants projection (eventually consistent: send
 * a mutation's extensions.position back to read it at once). Another merchant's is FORBIDDEN.
 */
@Resolver(() => Merchant)
export class MerchantResolver {
  @Query(() => Merchant, { nullable: true, description: "A merchant with its call centers, links, rate plan and DTMF table (ADMIN, or a key of that merchant: another merchant's is FORBIDDEN); null when absent." })
  merchant(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<Merchant | null> {
    return mapped(async () => {
      authorize(ctx.principal, READERS, id);
      return ctx.services.reads.merchant(id);
    });
  }

  @Query(() => [ApiKeyInfo], { description: 'API keys of a merchant (MERCHANT of it, or ADMIN); without merchantId, ADMIN lists the ADMIN and GATEWAY keys. Never the secrets.' })
  apiKeys(@Arg('merchantId', () => ID, { nullable: true }) merchantId: string | null, @Ctx() ctx: GraphQLContext): Promise<ApiKeyInfo[]> {
    return mapped(async () => {
      if (merchantId) authorize(ctx.principal, ['MERCHANT'], merchantId);
      else authorize(ctx.principal, []);
      return ctx.services.reads.apiKeys(merchantId ?? null);
    });
  }

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
    if (m.ratePlan !== undefined) return m.ratePlan;
    return (await ctx.services.reads.merchant(m.id))?.ratePlan ?? null;
  }

  @FieldResolver(() => [DtmfCommand])
  dtmfCommands(@Root() m: Merchant, @Ctx() ctx: GraphQLContext): Promise<DtmfCommand[]> {
    return ctx.services.reads.dtmfCommands(m.id);
  }
}

@Resolver(() => CallCenter)
export class CallCenterFieldsResolver {
  @FieldResolver(() => [OpeningHours], { nullable: true, description: 'null: always open; []: never open.' })
  weeklyHours(@Root() c: CallCenter & { weeklyHours?: OpeningHours[] | null }): OpeningHours[] | null {
    return c.weeklyHours ?? null;
  }
}
