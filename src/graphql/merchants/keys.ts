import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver, UseMiddleware } from 'type-graphql';
import { authorize, centerScope } from '../../app/auth';
import { DomainError } from '../../domain/shared/errors';
import type { GraphQLContext } from '../context';
import { MapErrors } from '../middleware';
import { Role, type RoleT } from '../enums';
import { ApiKey, ApiKeyInfo, Viewer } from './types';

/** Every role: `@Authorized(...ANY_KEY)` lets in any valid key, and refuses an anonymous caller (UNAUTHENTICATED). */
const ANY_KEY = Object.values(Role);

/** API keys: who the caller's key is, a merchant's keys, and issuing and revoking them (ADMIN). */
@Resolver()
@UseMiddleware(MapErrors)
export class ApiKeyResolver {
  @Query(() => Viewer, { description: 'Who the Authorization key is: role, merchant and (AGENT) call center. UNAUTHENTICATED without a valid key.' })
  @Authorized(...ANY_KEY)
  async viewer(@Ctx() ctx: GraphQLContext): Promise<Viewer> {
    const p = ctx.principal;
    if (p.kind !== 'key') throw new DomainError('UNAUTHENTICATED', 'an API key is required (Authorization: Bearer <key>)');
    const merchant = p.merchantId === null ? null : await ctx.services.admin.merchant(p.merchantId).catch(() => null);
    return { role: p.role, merchantId: p.merchantId, merchantName: merchant?.name ?? null, callCenterId: centerScope(p) };
  }

  @Query(() => [ApiKeyInfo], { description: 'API keys of a merchant (MERCHANT of it, or ADMIN); without merchantId, ADMIN lists the ADMIN and GATEWAY keys. Never the secrets.' })
  @Authorized('MERCHANT')
  apiKeys(@Arg('merchantId', () => ID, { nullable: true }) merchantId: string | null, @Ctx() ctx: GraphQLContext): Promise<ApiKeyInfo[]> {
    // Without a merchant, the keys listed are the ADMIN and GATEWAY ones: ADMIN only.
    if (!merchantId) authorize(ctx.principal, ['ADMIN']);
    return ctx.services.reads.apiKeys(merchantId ?? null);
  }

  @Mutation(() => ApiKey)
  @Authorized('ADMIN')
  createApiKey(
    @Arg('role', () => Role) role: RoleT,
    @Arg('merchantId', () => ID, { nullable: true }) merchantId: string | null,
    @Arg('callCenterId', () => ID, { nullable: true, description: 'Required for an AGENT key (one of the merchant\'s call centers); refused for every other role.' })
    callCenterId: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<ApiKey> {
    const bound = role === 'ADMIN' || role === 'GATEWAY' ? null : merchantId ?? null;
    if (role !== 'ADMIN' && role !== 'GATEWAY' && !bound) throw new DomainError('BAD_USER_INPUT', `merchantId is required for a ${role} key`, { field: 'merchantId' });
    if ((role === 'ADMIN' || role === 'GATEWAY') && merchantId) throw new DomainError('BAD_USER_INPUT', `a ${role} key is not bound to a merchant`, { field: 'merchantId' });
    return ctx.services.admin.createApiKey(role, bound, ctx.correlationId, callCenterId ?? null);
  }

  @Mutation(() => Boolean, { description: 'Revokes an API key (ADMIN). Takes the key itself or its id (the middle part of wd.<id>.<secret>).' })
  @Authorized('ADMIN')
  async revokeApiKey(@Arg('key', () => String) key: string, @Ctx() ctx: GraphQLContext): Promise<boolean> {
    const keyId = key.startsWith('wd.') ? key.split('.')[1] ?? '' : key;
    if (!/^[A-Za-z0-9_-]{4,64}$/.test(keyId)) throw new DomainError('BAD_USER_INPUT', 'not an API key or key id', { field: 'key' });
    await ctx.services.admin.revokeApiKey(keyId, ctx.correlationId);
    ctx.services.auth.invalidate();
    return true;
  }
}
