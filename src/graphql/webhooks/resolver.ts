import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver, UseMiddleware } from 'type-graphql';
import { authorize } from '../../app/auth';
import { WEBHOOK_EVENT_TYPES } from '../../domain/webhook/events';
import type { Delivery } from '../../webhooks/deliveries';
import type { GraphQLContext } from '../context';
import { MapErrors } from '../middleware';
import {
  WebhookDelivery,
  WebhookDeliveryStatus,
  WebhookEndpoint,
  WebhookEndpointInput,
  WebhookEndpointWithSecret,
  type WebhookDeliveryStatusT,
} from './types';

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
@UseMiddleware(MapErrors)
export class WebhookResolver {
  /** Finds the endpoint's owner and checks the key (a MERCHANT or ADMIN one) is bound to it. */
  private owned(ctx: GraphQLContext, endpointId: string): void {
    authorize(ctx.principal, ['MERCHANT'], ctx.services.webhooks.ownerOf(endpointId));
  }

  @Query(() => [String], { description: 'The event types an endpoint can subscribe to' })
  @Authorized('MERCHANT')
  webhookEventTypes(): string[] {
    return [...WEBHOOK_EVENT_TYPES];
  }

  @Query(() => [WebhookEndpoint])
  @Authorized('MERCHANT')
  webhookEndpoints(@Arg('merchantId', () => ID) merchantId: string, @Ctx() ctx: GraphQLContext): WebhookEndpoint[] {
    return ctx.services.webhooks.endpoints(merchantId);
  }

  @Query(() => [WebhookDelivery], { description: "An endpoint's deliveries in event order (e.g. status: FAILED to see what to replay)" })
  @Authorized('MERCHANT')
  async webhookDeliveries(
    @Arg('endpointId', () => ID) endpointId: string,
    @Arg('status', () => WebhookDeliveryStatus, { nullable: true }) status: WebhookDeliveryStatusT | null,
    @Arg('first', () => Int, { defaultValue: 50 }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<WebhookDelivery[]> {
    this.owned(ctx, endpointId);
    return (await ctx.services.webhooks.deliveriesOf(endpointId, status ?? null, first, after ?? null)).map(toDelivery);
  }

  @Mutation(() => WebhookEndpointWithSecret, { description: 'Registers an endpoint; the secret is shown here only (rotateWebhookSecret issues a new one)' })
  @Authorized('MERCHANT')
  createWebhookEndpoint(@Arg('input', () => WebhookEndpointInput) input: WebhookEndpointInput, @Ctx() ctx: GraphQLContext): Promise<WebhookEndpointWithSecret> {
    return ctx.services.webhooks.create({ merchantId: input.merchantId, url: input.url, eventTypes: input.eventTypes, description: input.description ?? null }, ctx.correlationId);
  }

  @Mutation(() => WebhookEndpoint, { description: 'Changes the URL, the event types or the description (null keeps a field)' })
  @Authorized('MERCHANT')
  updateWebhookEndpoint(
    @Arg('endpointId', () => ID) endpointId: string,
    @Arg('url', () => String, { nullable: true }) url: string | null,
    @Arg('eventTypes', () => [String], { nullable: true }) eventTypes: string[] | null,
    @Arg('description', () => String, { nullable: true }) description: string | null,
    @Ctx() ctx: GraphQLContext,
  ): Promise<WebhookEndpoint> {
    this.owned(ctx, endpointId);
    return ctx.services.webhooks.update(endpointId, { url: url ?? null, eventTypes: eventTypes ?? null, description: description ?? null }, ctx.correlationId);
  }

  @Mutation(() => WebhookEndpointWithSecret, { description: 'A new secret; the previous one keeps signing next to it for keepPreviousSeconds (0 to 7 days)' })
  @Authorized('MERCHANT')
  rotateWebhookSecret(
    @Arg('endpointId', () => ID) endpointId: string,
    @Arg('keepPreviousSeconds', () => Int, { defaultValue: 86400 }) keepPreviousSeconds: number,
    @Ctx() ctx: GraphQLContext,
  ): Promise<WebhookEndpointWithSecret> {
    this.owned(ctx, endpointId);
    return ctx.services.webhooks.rotateSecret(endpointId, keepPreviousSeconds, ctx.correlationId);
  }

  @Mutation(() => WebhookEndpoint, { description: 'Stops deliveries to the endpoint (events meanwhile are not queued for it)' })
  @Authorized('MERCHANT')
  disableWebhookEndpoint(@Arg('endpointId', () => ID) endpointId: string, @Ctx() ctx: GraphQLContext): Promise<WebhookEndpoint> {
    this.owned(ctx, endpointId);
    return ctx.services.webhooks.disable(endpointId, ctx.correlationId);
  }

  @Mutation(() => WebhookEndpoint, { description: 'Delivers again to a disabled or failing endpoint (held deliveries go out; FAILED ones need a replay)' })
  @Authorized('MERCHANT')
  enableWebhookEndpoint(@Arg('endpointId', () => ID) endpointId: string, @Ctx() ctx: GraphQLContext): Promise<WebhookEndpoint> {
    this.owned(ctx, endpointId);
    return ctx.services.webhooks.enable(endpointId, ctx.correlationId);
  }

  @Mutation(() => WebhookDelivery, { description: 'Sends a delivery again with its original webhook-id' })
  @Authorized('MERCHANT')
  async replayWebhookDelivery(@Arg('deliveryId', () => ID) deliveryId: string, @Ctx() ctx: GraphQLContext): Promise<WebhookDelivery> {
    const d = await ctx.services.webhooks.delivery(deliveryId);
    authorize(ctx.principal, ['MERCHANT'], d.merchantId);
    return toDelivery(await ctx.services.webhooks.replay(deliveryId));
  }

  @Mutation(() => Int, { description: "Re-queues the endpoint's FAILED deliveries in their order (and enables it when it was failing); returns how many" })
  @Authorized('MERCHANT')
  replayFailedWebhookDeliveries(@Arg('endpointId', () => ID) endpointId: string, @Ctx() ctx: GraphQLContext): Promise<number> {
    this.owned(ctx, endpointId);
    return ctx.services.webhooks.replayFailed(endpointId, ctx.correlationId);
  }
}
