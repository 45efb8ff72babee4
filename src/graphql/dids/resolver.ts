import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver, UseMiddleware } from 'type-graphql';
import type { DidDestination, DirectDestination } from '../../domain/did/did';
import { badInput } from '../../domain/shared/errors';
import type { GraphQLContext } from '../context';
import { MapErrors } from '../middleware';
import { READERS } from '../enums';
import { Did, DidInput } from './types';

/** The direct destination named by exactly one of the ids. */
const directOf = (input: { callCenterId?: string | null; agentKeyId?: string | null; linkId?: string | null }, menu = false): DirectDestination => {
  const named = [
    input.callCenterId ? ({ kind: 'CALL_CENTER', callCenterId: input.callCenterId } as const) : null,
    input.agentKeyId ? ({ kind: 'AGENT', keyId: input.agentKeyId } as const) : null,
    input.linkId ? ({ kind: 'LINK', linkId: input.linkId } as const) : null,
  ].filter((d) => d !== null);
  if (named.length !== 1)
    throw badInput(`name exactly one destination: callCenterId, agentKeyId or linkId${menu ? ' (a menu entry)' : ', or a menu'}`, { field: 'destination', reason: 'DID_DESTINATION' });
  return named[0];
};

/** The destination the input names: a menu, or exactly one of the ids. */
const destinationOf = (input: DidInput): DidDestination => {
  if (input.menu === null || input.menu === undefined) return directOf(input);
  if (input.callCenterId || input.agentKeyId || input.linkId) throw badInput('a main number has a menu and no other destination', { field: 'destination', reason: 'DID_DESTINATION' });
  return { kind: 'MENU', entries: input.menu.map((e) => ({ id: e.id, destination: directOf(e, true) })) };
};

type Stored = Record<string, unknown>;
const direct = (d: Stored) => ({
  destination: d.kind as Did['destination'],
  callCenterId: typeof d.callCenterId === 'string' ? d.callCenterId : null,
  agentKeyId: typeof d.keyId === 'string' ? d.keyId : null,
  linkId: typeof d.linkId === 'string' ? d.linkId : null,
});

const toDid = (v: { number: string; merchantId: string; destination: DidDestination | Stored; assignedAt: string }): Did => {
  const d = v.destination as Stored;
  const entries = d.kind === 'MENU' && Array.isArray(d.entries) ? (d.entries as Array<{ id: string; destination: Stored }>) : [];
  return {
    number: v.number,
    merchantId: v.merchantId,
    ...direct(d),
    menu: entries.map((e) => ({ id: e.id, ...direct(e.destination) })),
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
  @Mutation(() => Did, {
    description:
      "Assigns a virtual number (E.164, unique across merchants) to one of the merchant's call centers, AGENT keys or links, or makes it the merchant's main number (menu: the caller keys an ID, then #); assigning it again moves it. ADMIN or that MERCHANT.",
  })
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
