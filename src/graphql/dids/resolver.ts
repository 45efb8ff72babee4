import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver, UseMiddleware } from 'type-graphql';
import type { DidDestination } from '../../domain/did/did';
import { badInput } from '../../domain/shared/errors';
import type { GraphQLContext } from '../context';
import { MapErrors } from '../middleware';
import { READERS } from '../enums';
import { Did, DidInput } from './types';

/** The destination named by exactly one of the input's ids. */
const destinationOf = (input: DidInput): DidDestination => {
  const named = [
    input.callCenterId ? ({ kind: 'CALL_CENTER', callCenterId: input.callCenterId } as const) : null,
    input.agentKeyId ? ({ kind: 'AGENT', keyId: input.agentKeyId } as const) : null,
    input.linkId ? ({ kind: 'LINK', linkId: input.linkId } as const) : null,
  ].filter((d) => d !== null);
  if (named.length !== 1) throw badInput('name exactly one destination: callCenterId, agentKeyId or linkId', { field: 'destination', reason: 'DID_DESTINATION' });
  return named[0];
};

const toDid = (v: { number: string; merchantId: string; destination: DidDestination | Record<string, string>; assignedAt: string }): Did => {
  const d = v.destination as Record<string, string>;
  return {
    number: v.number,
    merchantId: v.merchantId,
    destination: d.kind as Did['destination'],
    callCenterId: d.callCenterId ?? null,
    agentKeyId: d.keyId ?? null,
    linkId: d.linkId ?? null,
    assignedAt: v.assignedAt,
  };
};

/**
 * Virtual numbers (issue 23): assigned and released by an ADMIN or the owning MERCHANT (the key is
 * bound to `input.merchantId` / `merchantId` by @Authorized), listed from the merchants read model.
 * Errors: BAD_USER_INPUT with extensions.reason DID_MALFORMED or DID_NOT_OURS, CONFLICT DID_TAKEN,
 * NOT_FOUND for a destination the merchant does not have or (DID_NOT_ASSIGNED) a release of a
 * number it does not hold. A refused command stores nothing.
 */
@Resolver(() => Did)
@UseMiddleware(MapErrors)
export class DidResolver {
  @Mutation(() => Did, { description: "Assigns a virtual number (E.164, unique across merchants) to one of the merchant's call centers, AGENT keys or links; assigning it again moves it. ADMIN or that MERCHANT." })
  @Authorized('MERCHANT')
  async assignDid(@Arg('input', () => DidInput) input: DidInput, @Ctx() ctx: GraphQLContext): Promise<Did> {
    return toDid(await ctx.services.dids.assign(input.merchantId, input.number, destinationOf(input), ctx.correlationId));
  }

  @Mutation(() => String, { description: 'Releases a virtual number the merchant holds; returns the number. ADMIN or that MERCHANT.' })
  @Authorized('MERCHANT')
  releaseDid(@Arg('merchantId', () => ID) merchantId: string, @Arg('number', () => String) number: string, @Ctx() ctx: GraphQLContext): Promise<string> {
    return ctx.services.dids.release(merchantId, number, ctx.correlationId);
  }

  @Query(() => [Did], { description: "The merchant's virtual numbers, in number order (read model: eventually consistent)." })
  @Authorized(...READERS)
  async dids(@Arg('merchantId', () => ID) merchantId: string, @Ctx() ctx: GraphQLContext): Promise<Did[]> {
    return (await ctx.services.reads.dids(merchantId)).map(toDid);
  }
}
