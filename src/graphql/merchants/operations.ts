import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver, UseMiddleware } from 'type-graphql';
import { merchantScope } from '../../app/auth';
import { badInput } from '../../domain/shared/errors';
import type { GraphQLContext } from '../context';
import { MapErrors } from '../middleware';
import { DeadLetter } from './types';

const toApi = (d: Omit<DeadLetter, 'id'> & { id: number }): DeadLetter => ({ ...d, id: String(d.id) });

/** Operations on the read side: its dead letters (ADMIN: every one; MERCHANT: its own merchant's). */
@Resolver()
@UseMiddleware(MapErrors)
export class OperationsResolver {
  @Query(() => [DeadLetter], { description: "Dead letters, newest first (ADMIN: all; a MERCHANT key: its merchant's only). A healthy system has none." })
  @Authorized('MERCHANT')
  async deadLetters(@Arg('first', () => Int, { defaultValue: 100, description: '1 to 500.' }) first: number, @Ctx() ctx: GraphQLContext): Promise<DeadLetter[]> {
    return (await ctx.services.deadLetters.list({ merchantId: merchantScope(ctx.principal), first })).map(toApi);
  }

  @Mutation(() => DeadLetter, {
    description:
      "Applies a dead-lettered event again through its projection (after the fix that lets the view apply it) and marks it replayed. CONFLICT when the view still refuses it; another merchant's is NOT_FOUND for a MERCHANT key; a message that could not be decoded cannot be replayed (BAD_USER_INPUT).",
  })
  @Authorized('MERCHANT')
  async replayDeadLetter(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<DeadLetter> {
    if (!/^\d{1,15}$/.test(id)) throw badInput(`"${id.slice(0, 40)}" is not a dead letter id`, { field: 'id' });
    return toApi(await ctx.services.deadLetters.replay(Number(id), merchantScope(ctx.principal)));
  }
}
