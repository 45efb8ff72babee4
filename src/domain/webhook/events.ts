import type { DomainEvent } from '../shared/decider';
import { CALL_FEED_EVENT_TYPES } from '../call-feed';

/**
 * What a merchant can subscribe an endpoint to: every event type of a call's feed (../call-feed.ts:
 * the call's, its queues', transfers' and callbacks'), plus `ScreenPop` (the call's
 * context at ringing, the payload of the `screenPops` subscription) for CRMs that cannot hold a
 * WebSocket open.
 */
export const WEBHOOK_EVENT_TYPES: readonly string[] = [...CALL_FEED_EVENT_TYPES, 'ScreenPop'];

/**
 * Whether the URL must be https and reach public addresses only (`public`, production), or any
 * http(s) URL is accepted (`any`: the embedded mode, local receivers in tests). The address check
 * itself needs DNS, so it happens outside the domain; the scheme rule is the decider's.
 */
export type WebhookUrlPolicy = 'public' | 'any';

/**
 * An endpoint's signing secrets, sealed (encrypted at rest by the application: the domain treats
 * them as opaque text). `previous` keeps signing next to `current` until `validUntil` after a
 * rotation, so receivers can switch without losing a delivery.
 */
export interface WebhookSecrets {
  current: string;
  previous: { sealed: string; validUntil: string } | null;
}

export type WebhookEndpointRegistered = DomainEvent<
  'WebhookEndpointRegistered',
  { endpointId: string; merchantId: string; url: string; eventTypes: string[]; description: string | null; sealedSecret: string; at: string }
>;
export type WebhookEndpointUpdated = DomainEvent<
  'WebhookEndpointUpdated',
  { endpointId: string; url: string; eventTypes: string[]; description: string | null; at: string }
>;
export type WebhookSecretRotated = DomainEvent<
  'WebhookSecretRotated',
  { endpointId: string; sealedSecret: string; previousValidUntil: string; at: string }
>;
export type WebhookEndpointDisabled = DomainEvent<'WebhookEndpointDisabled', { endpointId: string; at: string }>;
/** Back to delivering, after a merchant's disable or after the endpoint was marked failing. */
export type WebhookEndpointEnabled = DomainEvent<'WebhookEndpointEnabled', { endpointId: string; at: string }>;
/** Every delivery failed for longer than the configured time: sending stops until the merchant enables or replays. */
export type WebhookEndpointFailing = DomainEvent<'WebhookEndpointFailing', { endpointId: string; failingSince: string; lastError: string; at: string }>;

export type WebhookEvent =
  | WebhookEndpointRegistered
  | WebhookEndpointUpdated
  | WebhookSecretRotated
  | WebhookEndpointDisabled
  | WebhookEndpointEnabled
  | WebhookEndpointFailing;

export const WEBHOOK_ENDPOINT_EVENT_TYPES: ReadonlyArray<WebhookEvent['type']> = [
  'WebhookEndpointRegistered',
  'WebhookEndpointUpdated',
  'WebhookSecretRotated',
  'WebhookEndpointDisabled',
  'WebhookEndpointEnabled',
  'WebhookEndpointFailing',
];

export type RegisterWebhookEndpoint = {
  type: 'RegisterWebhookEndpoint';
  data: { endpointId: string; merchantId: string; url: string; eventTypes: string[]; description: string | null; sealedSecret: string; urlPolicy: WebhookUrlPolicy; at: string };
};
/** Fields left null keep their value. */
export type UpdateWebhookEndpoint = {
  type: 'UpdateWebhookEndpoint';
  data: { endpointId: string; url: string | null; eventTypes: string[] | null; description: string | null; urlPolicy: WebhookUrlPolicy; at: string };
};
export type RotateWebhookSecret = {
  type: 'RotateWebhookSecret';
  data: { endpointId: string; sealedSecret: string; previousValidUntil: string; at: string };
};
export type DisableWebhookEndpoint = { type: 'DisableWebhookEndpoint'; data: { endpointId: string; at: string } };
export type EnableWebhookEndpoint = { type: 'EnableWebhookEndpoint'; data: { endpointId: string; at: string } };
export type MarkWebhookEndpointFailing = {
  type: 'MarkWebhookEndpointFailing';
  data: { endpointId: string; failingSince: string; lastError: string; at: string };
};

export type WebhookCommand =
  | RegisterWebhookEndpoint
  | UpdateWebhookEndpoint
  | RotateWebhookSecret
  | DisableWebhookEndpoint
  | EnableWebhookEndpoint
  | MarkWebhookEndpointFailing;
