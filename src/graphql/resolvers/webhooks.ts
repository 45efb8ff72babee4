import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { authorize } from '../../app/auth';
import { WEBHOOK_EVENT_TYPES } from '../../domain/webhook/events';
import type { Delivery } from '../../webhooks/deliveries';
import { mapped } from '../errors';
import type { GraphQLContext } from '../context';
import {
  WebhookDelivery,
  WebhookDeliveryStatus,
  WebhookEndpoint,
  WebhookEndpointInput,
  WebhookEndpointWithSecret,
  type WebhookDeliveryStatusT,
} from '../webhooks/types';

const toDelivery = (d: Delivery): WebhookDelivery => ({
  id: d.id,
  endpointId: d.endpointId,
  callId: d.streamId.replace(/^call-/, ''),
  eventId: d.eventId,
  eventType: d.eventType,
  position: d.position,
  status: d.status,
  attempts: d.attempts,
  nextAttemptAt: d.nextAttemptAt,
  lastAttemptAt: d.lastAttemptAt,
  lastStatusCode: d.lastStatus,
  lastError: d.lastError,
  deliveredAt: d.deliveredAt,
  enqueuedAt: d.enqueuedAt,
  cursor: `${d.position}|${d.seq}`,
  payload: JSON.parse(d.body),
});

/**
 * Webhooks for CRMs (MERCHANT keys, and ADMIN): endpoints, their secrets, deliveries and replays.
 * Every operation on an endpoint or a delivery is authorized against its owner, so another
 * merchant's endpoint or delivery is refused (FORBIDDEN) and nothing changes.
 */
@Resolver()
export class WebhookResolver {
  /** Finds the endpoint's owner and checks the key is bound to it. */
  private owned(ctx: GraphQLContext, endpointId: string): void {
    authorize(ctx.principal, ['MERCHANT']);
    authorize(ctx.principal, ['MERCHANT'], ctx.services.webhooks.ownerOf(endpointId));
  }

  @Query(() => [String], { description: 'The event types an endpoint can subscribe to' })
  webhookEventTypes(@Ctx() ctx: GraphQLContext): Promise<string[]> {
    return mapped(async () => {
      authorize(ctx.principal, ['MERCHANT']);
      return [...WEBHOOK_EVENT_TYPES];
    });
  }

  @Query(() => [WebhookEndpoint])
  webhookEndpoints(@Arg('merchantId', () => ID) merchantId: string, @Ctx() ctx: GraphQLContext): Promise<WebhookEndpoint[]> {
    return mapped(async () => {
      authorize(ctx.principal, ['MERCHANT'], merchantId);
      return ctx.services.webhooks.endpoints(merchantId);
    });
  }

  @Query(() => [WebhookDelivery], { description: "An endpoint's deliveries in event order (e.g. status: FAILED to see what to replay)" })
  webhookDeliveries(
    @Arg('endpointId', () => ID) endpointId: string,
    @Arg('status', () => WebhookDeliveryStatus, { nullable: true }) status: WebhookDeliveryStatusT | null,
    @Arg('first', () => Int, { defaultValue: 50 }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<WebhookDelivery[]> {
    return mapped(async () => {
      this.owned(ctx, endpointId);
      return (await ctx.services.webhooks.deliveriesOf(endpointId, status ?? null, first, after ?? null)).map(toDelivery);
    });
  }

  @Mutation(() => WebhookEndpointWithSecret, { description: 'Registers an endpoint; the secret is shown here only (rotateWebhookSecret issues a new one)' })
  createWebhookEndpoint(@Arg('input', () => WebhookEndpointInput) input: WebhookEndpointInput, @Ctx() ctx: GraphQLContext): Promise<WebhookEndpointWithSecret> {
    return mapped(async () => {
      authorize(ctx.principal, ['MERCHANT'], input.merchantId);
      return ctx.services.webhooks.create({ merchantId: input.merchantId, url: input.url, eventTypes: input.eventTypes, description: input.description ?? null }, ctx.correlationId);
    });
  }

  @Mutation(() => WebhookEndpoint, { description: 'Changes the URL, the event types or the description (null keeps a field)' })
  updateWebhookEndpoint(
    @Arg('endpointId', () => ID) endpointId: string,
    @Arg('url', () => String, { nullable: true }) url: string | null,
    @Arg('eventTypes', () => [String], { nullable: true }) eventTypes: string[] | null,
    @Arg('description', () => String, { nullable: true }) description: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<WebhookEndpoint> {
    return mapped(async () => {
      this.owned(ctx, endpointId);
      return ctx.services.webhooks.update(endpointId, { url: url ?? null, eventTypes: eventTypes ?? null, description: description ?? null }, ctx.correlationId);
    });
  }

  @Mutation(() => WebhookEndpointWithSecret, { description: 'A new secret; the previous one keeps signing next to it for keepPreviousSeconds (0 to 7 days)' })
  rotateWebhookSecret(
    @Arg('endpointId', () => ID) endpointId: string,
    @Arg('keepPreviousSeconds', () => Int, { defaultValue: 86400 }) keepPreviousSeconds: number,
    @Ctx() ctx: GraphQLContext,
  ): Promise<WebhookEndpointWithSecret> {
    return mapped(async () => {
      this.owned(ctx, endpointId);
      return ctx.services.webhooks.rotateSecret(endpointId, keepPreviousSeconds, ctx.correlationId);
    });
  }

  @Mutation(() => WebhookEndpoint, { description: 'Stops deliveries to the endpoint (events meanwhile are not queued for it)' })
  disableWebhookEndpoint(@Arg('endpointId', () => ID) endpointId: string, @Ctx() ctx: GraphQLContext): Promise<WebhookEndpoint> {
    return mapped(async () => {
      this.owned(ctx, endpointId);
      return ctx.services.webhooks.disable(endpointId, ctx.correlationId);
    });
  }

  @Mutation(() => WebhookEndpoint, { description: 'Delivers again to a disabled or failing endpoint (held deliveries go out; FAILED ones need a replay)' })
  enableWebhookEndpoint(@Arg('endpointId', () => ID) endpointId: string, @Ctx() ctx: GraphQLContext): Promise<WebhookEndpoint> {
    return mapped(async () => {
      this.owned(ctx, endpointId);
      return ctx.services.webhooks.enable(endpointId, ctx.correlationId);
    });
  }

  @Mutation(() => WebhookDelivery, { description: 'Sends a delivery again with its original webhook-id' })
  replayWebhookDelivery(@Arg('deliveryId', () => ID) deliveryId: string, @Ctx() ctx: GraphQLContext): Promise<WebhookDelivery> {
    return mapped(async () => {
      authorize(ctx.principal, ['MERCHANT']);
      const d = await ctx.services.webhooks.delivery(deliveryId);
      authorize(ctx.principal, ['MERCHANT'], d.merchantId);
      return toDelivery(await ctx.services.webhooks.replay(deliveryId));
    });
  }

  @Mutation(() => Int, { description: "Re-queues the endpoint's FAILED deliveries in their order (and enables it when it was failing); returns how many" })
  replayFailedWebhookDeliveries(@Arg('endpointId', () => ID) endpointId: string, @Ctx() ctx: GraphQLContext): Promise<number> {
    return mapped(async () => {
      this.owned(ctx, endpointId);
      return ctx.services.webhooks.replayFailed(endpointId, ctx.correlationId);
    });
  }
}
