import type { CommandHandler } from '../app/command-handler';
import type { IdGenerator } from '../app/ids';
import type { Clock } from '../ports/clock';
import { assertWebhookUrl, webhookEndpointDecider, type WebhookEndpointConfig } from '../domain/webhook/endpoint';
import type { WebhookCommand, WebhookUrlPolicy } from '../domain/webhook/events';
import { badInput, DomainError, notFound } from '../domain/shared/errors';
import { webhookEndpointStreamId } from '../domain/shared/streams';
import type { Delivery, DeliveryStatus, WebhookDeliveries } from './deliveries';
import type { WebhookRegistry } from './registry';
import type { SecretSealer } from './sealed-secrets';
import { newWebhookSecret } from './signature';
import { assertReachableUnderPolicy, systemResolve, type Resolve } from './url-policy';

export interface WebhookEndpointView {
  id: string;
  merchantId: string;
  url: string;
  eventTypes: string[];
  description: string | null;
  status: WebhookEndpointConfig['status'];
  failingSince: string | null;
  previousSecretValidUntil: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface WebhookServiceOptions {
  urlPolicy: WebhookUrlPolicy;
  resolve?: Resolve;
  maxEndpointsPerMerchant?: number;
  /** NOT_FOUND unless the merchant exists. */
  assertMerchant: (merchantId: string) => Promise<void>;
}

const view = (e: WebhookEndpointConfig): WebhookEndpointView => ({
  id: e.endpointId,
  merchantId: e.merchantId,
  url: e.url,
  eventTypes: e.eventTypes,
  description: e.description,
  status: e.status,
  failingSince: e.failingSince,
  previousSecretValidUntil: e.secrets.previous?.validUntil ?? null,
  createdAt: e.createdAt,
  updatedAt: e.updatedAt,
});

/**
 * The merchant's webhook use cases. Endpoint changes go through the decider (event-sourced);
 * deliveries are the outbox's. Every method takes the endpoint's owner from the endpoint itself, so
 * resolvers authorize against it (`ownerOf`) before acting: one merchant never reaches another's.
 */
export class WebhookService {
  constructor(
    private readonly handler: CommandHandler,
    private readonly registry: WebhookRegistry,
    private readonly deliveries: WebhookDeliveries,
    private readonly sealer: SecretSealer,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    private readonly options: WebhookServiceOptions,
  ) {}

  /** The merchant that owns the endpoint (NOT_FOUND when there is no such endpoint). */
  ownerOf(endpointId: string): string {
    const e = this.registry.get(endpointId);
    if (!e) throw notFound('webhook endpoint', endpointId);
    return e.merchantId;
  }

  endpoints(merchantId: string | null): WebhookEndpointView[] {
    return this.registry.list(merchantId).map(view);
  }

  endpoint(endpointId: string): WebhookEndpointView {
    const e = this.registry.get(endpointId);
    if (!e) throw notFound('webhook endpoint', endpointId);
    return view(e);
  }

  /** Registers an endpoint; its secret is returned here (and at each rotation) only. */
  async create(input: { merchantId: string; url: string; eventTypes: string[]; description: string | null }, correlationId: string): Promise<{ endpoint: WebhookEndpointView; secret: string }> {
    await this.options.assertMerchant(input.merchantId);
    const max = this.options.maxEndpointsPerMerchant ?? 20;
    if (this.registry.list(input.merchantId).filter((e) => e.status !== 'DISABLED').length >= max)
      throw new DomainError('LIMIT_EXCEEDED', `a merchant may have at most ${max} enabled webhook endpoints`);
    await this.assertUrl(input.url);
    const endpointId = this.ids.id('we');
    const secret = newWebhookSecret();
    const endpoint = await this.command(
      endpointId,
      input.merchantId,
      { type: 'RegisterWebhookEndpoint', data: { endpointId, ...input, sealedSecret: this.sealer.seal(secret), urlPolicy: this.options.urlPolicy, at: this.now() } },
      correlationId,
    );
    return { endpoint, secret };
  }

  async update(endpointId: string, patch: { url: string | null; eventTypes: string[] | null; description: string | null }, correlationId: string): Promise<WebhookEndpointView> {
    if (patch.url !== null) await this.assertUrl(patch.url);
    return this.command(endpointId, this.ownerOf(endpointId), { type: 'UpdateWebhookEndpoint', data: { endpointId, ...patch, urlPolicy: this.options.urlPolicy, at: this.now() } }, correlationId);
  }

  /** A new secret; the previous one keeps signing (next to the new one) for `keepPreviousSeconds`. */
  async rotateSecret(endpointId: string, keepPreviousSeconds: number, correlationId: string): Promise<{ endpoint: WebhookEndpointView; secret: string }> {
    if (!Number.isInteger(keepPreviousSeconds)) throw badInput('keepPreviousSeconds must be an integer', { field: 'keepPreviousSeconds' });
    const at = this.clock.now();
    const secret = newWebhookSecret();
    const endpoint = await this.command(
      endpointId,
      this.ownerOf(endpointId),
      {
        type: 'RotateWebhookSecret',
        data: { endpointId, sealedSecret: this.sealer.seal(secret), previousValidUntil: new Date(at.getTime() + keepPreviousSeconds * 1000).toISOString(), at: at.toISOString() },
      },
      correlationId,
    );
    return { endpoint, secret };
  }

  disable(endpointId: string, correlationId: string): Promise<WebhookEndpointView> {
    return this.command(endpointId, this.ownerOf(endpointId), { type: 'DisableWebhookEndpoint', data: { endpointId, at: this.now() } }, correlationId);
  }

  /** Active again (after a disable or a failing spell); the failure streak starts afresh. */
  async enable(endpointId: string, correlationId: string): Promise<WebhookEndpointView> {
    const v = await this.command(endpointId, this.ownerOf(endpointId), { type: 'EnableWebhookEndpoint', data: { endpointId, at: this.now() } }, correlationId);
    await this.deliveries.resetHealth(endpointId);
    return v;
  }

  /** From the sender: every attempt failed for the configured time. */
  async markFailing(endpointId: string, failingSince: string, lastError: string): Promise<void> {
    await this.command(endpointId, this.ownerOf(endpointId), { type: 'MarkWebhookEndpointFailing', data: { endpointId, failingSince, lastError: lastError.slice(0, 500), at: this.now() } }, `webhook-sender`);
  }

  deliveriesOf(endpointId: string, status: DeliveryStatus | null, first: number, after: string | null): Promise<Delivery[]> {
    if (!Number.isInteger(first) || first < 1 || first > 500) throw badInput('first must be from 1 to 500', { field: 'first' });
    return this.deliveries.list(endpointId, status, first, after);
  }

  /** The delivery and the merchant owning it (NOT_FOUND when unknown). */
  async delivery(deliveryId: string): Promise<Delivery> {
    const d = await this.deliveries.get(deliveryId);
    if (!d) throw notFound('webhook delivery', deliveryId);
    return d;
  }

  /** Sends one delivery again with its original webhook-id (receivers deduplicate by it). */
  async replay(deliveryId: string): Promise<Delivery> {
    const d = await this.delivery(deliveryId);
    await this.deliveries.replay(d.id, this.now());
    return (await this.deliveries.get(d.id))!;
  }

  /** Re-queues every FAILED delivery of the endpoint in order, and enables it when it was failing. */
  async replayFailed(endpointId: string, correlationId: string): Promise<number> {
    const e = this.registry.get(endpointId);
    if (!e) throw notFound('webhook endpoint', endpointId);
    const n = await this.deliveries.replayFailed(endpointId, this.now());
    if (e.status === 'FAILING') await this.enable(endpointId, correlationId);
    return n;
  }

  private async assertUrl(url: string): Promise<void> {
    // Scheme and shape first (the decider's rule, same message), then the addresses (DNS).
    await assertReachableUnderPolicy(assertWebhookUrl(url, this.options.urlPolicy), this.options.urlPolicy, this.options.resolve ?? systemResolve);
  }

  private async command(endpointId: string, merchantId: string, command: WebhookCommand, correlationId: string): Promise<WebhookEndpointView> {
    const r = await this.handler.handle(webhookEndpointDecider, webhookEndpointStreamId(endpointId), command, { merchantId, correlationId, causationId: null });
    for (const e of r.stored) this.registry.apply(e);
    if (r.state.status === 'Absent') throw notFound('webhook endpoint', endpointId);
    return view(r.state.endpoint);
  }

  private now(): string {
    return this.clock.now().toISOString();
  }
}
