import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver, Root, Subscription, UseMiddleware } from 'type-graphql';
import type { StoredEvent } from '../../ports/event-store';
import type { GraphQLContext } from '../context';
import { MapErrors } from '../middleware';
import { Gateway, GatewayInput, GatewayPort } from './types';

/** Gateways and their ports: ADMIN only. */
@Resolver()
@UseMiddleware(MapErrors)
export class GatewayResolver {
  @Query(() => Gateway, { nullable: true })
  @Authorized('ADMIN')
  gateway(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<Gateway | null> {
    return ctx.services.reads.gateway(id);
  }

  @Mutation(() => Gateway)
  @Authorized('ADMIN')
  async createGateway(@Arg('input', () => GatewayInput) input: GatewayInput, @Ctx() ctx: GraphQLContext): Promise<Gateway> {
    const g = await ctx.services.admin.createGateway({ name: input.name, region: input.region, ports: input.ports.map((p) => ({ number: p.number, ani: p.ani })) }, ctx.correlationId);
    return { ...g, ports: g.ports.map((p) => ({ gatewayId: g.id, number: p.number, ani: p.ani, busy: false, callId: null })) };
  }

  @Subscription(() => GatewayPort, {
    subscribe: ({ args, context }) => {
      const { gatewayId } = args as { gatewayId: string };
      return (context as GraphQLContext).services.hub.iterate(
        (e) => (e.type === 'PortSeized' || e.type === 'PortReleased') && (e.data as { gatewayId: string }).gatewayId === gatewayId,
        (e) => e,
        null,
      );
    },
  })
  @Authorized('ADMIN')
  gatewayPortChanges(@Root() event: StoredEvent, @Arg('gatewayId', () => ID) _gatewayId: string): GatewayPort {
    const d = event.data as { gatewayId: string; port: number; ani: string; callId: string };
    const busy = event.type === 'PortSeized';
    return { gatewayId: d.gatewayId, number: d.port, ani: d.ani, busy, callId: busy ? d.callId : null };
  }
}
