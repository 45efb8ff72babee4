import { Arg, Ctx, Field, ID, Int, Mutation, ObjectType, Query, Resolver } from 'type-graphql';
import { authorize, merchantScope } from '../../app/auth';
import { badInput } from '../../domain/shared/errors';
import { mapped } from '../errors';
import type { GraphQLContext } from '../context';
import { DateTimeScalar } from '../scalars';

@ObjectType({
  description:
    'An event a projection could never apply (its view refused it), or a bus message no one could decode, set aside so that everything after it was applied. Listed by `webdial events dead-letters` too.',
})
export class DeadLetter {
  @Field(() => ID) id!: string;
  @Field(() => String, { description: 'The projection (or consumer group) that set it aside.' }) consumer!: string;
  @Field(() => String, { nullable: true, description: 'null for a message that could not be decoded.' }) eventId!: string | null;
  @Field(() => String, { nullable: true }) type!: string | null;
  @Field(() => String, { nullable: true }) streamId!: string | null;
  @Field(() => Int, { nullable: true }) streamVersion!: number | null;
  @Field(() => String, { nullable: true }) position!: string | null;
  @Field(() => ID, { nullable: true }) merchantId!: string | null;
  @Field(() => String, { nullable: true, description: 'Where an undecodable message was: topic/partition@offset.' }) origin!: string | null;
  @Field(() => String) error!: string;
  @Field(() => DateTimeScalar) at!: string;
  @Field(() => DateTimeScalar, { nullable: true, description: 'When it was replayed successfully; null while it waits.' }) replayedAt!: string | null;
}

const toApi = (d: Omit<DeadLetter, 'id'> & { id: number }): DeadLetter => ({ ...d, id: String(d.id) });

/** Operations on the read side: its dead letters (ADMIN: every one; MERCHANT: its own merchant's). */
@Resolver()
export class OperationsResolver {
  @Query(() => [DeadLetter], { description: "Dead letters, newest first (ADMIN: all; a MERCHANT key: its merchant's only). A healthy system has none." })
  deadLetters(@Arg('first', () => Int, { defaultValue: 100, description: '1 to 500.' }) first: number, @Ctx() ctx: GraphQLContext): Promise<DeadLetter[]> {
    return mapped(async () => {
      authorize(ctx.principal, ['MERCHANT']);
      return (await ctx.services.deadLetters.list({ merchantId: merchantScope(ctx.principal), first })).map(toApi);
    });
  }

  @Mutation(() => DeadLetter, {
    description:
      "Applies a dead-lettered event again through its projection (after the fix that lets the view apply it) and marks it replayed. CONFLICT when the view still refuses it; another merchant's is NOT_FOUND for a MERCHANT key; a message that could not be decoded cannot be replayed (BAD_USER_INPUT).",
  })
  replayDeadLetter(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<DeadLetter> {
    return mapped(async () => {
      authorize(ctx.principal, ['MERCHANT']);
      if (!/^\d{1,15}$/.test(id)) throw badInput(`"${id.slice(0, 40)}" is not a dead letter id`, { field: 'id' });
      return toApi(await ctx.services.deadLetters.replay(Number(id), merchantScope(ctx.principal)));
    });
  }
}
