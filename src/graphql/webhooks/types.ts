import 'reflect-metadata';
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { DateTimeScalar, JSONScalar } from '../scalars';
import { names } from '../enums';

// The webhook slice: endpoints, their secrets and deliveries.
export const WebhookEndpointStatus = names('ACTIVE', 'DISABLED', 'FAILING');
export const WebhookDeliveryStatus = names('PENDING', 'DELIVERED', 'FAILED');
registerEnumType(WebhookEndpointStatus, {
  name: 'WebhookEndpointStatus',
  description: 'ACTIVE: delivering. DISABLED: by the merchant, receives nothing. FAILING: every attempt failed for the configured time; deliveries are held until it is enabled or its failed deliveries replayed.',
});
registerEnumType(WebhookDeliveryStatus, { name: 'WebhookDeliveryStatus', description: 'PENDING: queued or retrying. DELIVERED: acknowledged with a 2xx. FAILED: given up; replayable.' });
export type WebhookEndpointStatusT = keyof typeof WebhookEndpointStatus;
export type WebhookDeliveryStatusT = keyof typeof WebhookDeliveryStatus;

@InputType()
export class WebhookEndpointInput {
  @Field(() => ID) merchantId!: string;
  @Field(() => String, { description: 'https URL on a public address (http and local addresses only in the embedded mode)' }) url!: string;
  @Field(() => [String], { description: 'Call event types (CallRinging, CallTerminated, …) and/or ScreenPop; see webhookEventTypes' }) eventTypes!: string[];
  @Field(() => String, { nullable: true }) description?: string | null;
}

@ObjectType()
export class WebhookEndpoint {
  @Field(() => ID) id!: string;
  @Field(() => ID) merchantId!: string;
  @Field(() => String) url!: string;
  @Field(() => [String]) eventTypes!: string[];
  @Field(() => String, { nullable: true }) description!: string | null;
  @Field(() => WebhookEndpointStatus) status!: WebhookEndpointStatusT;
  @Field(() => DateTimeScalar, { nullable: true }) failingSince!: string | null;
  @Field(() => DateTimeScalar, { nullable: true, description: 'After a rotation, deliveries are signed with both secrets until then' }) previousSecretValidUntil!: string | null;
  @Field(() => DateTimeScalar) createdAt!: string;
  @Field(() => DateTimeScalar) updatedAt!: string;
}

@ObjectType({ description: 'An endpoint and its signing secret (whsec_…), shown at creation and at each rotation only' })
export class WebhookEndpointWithSecret {
  @Field(() => WebhookEndpoint) endpoint!: WebhookEndpoint;
  @Field(() => String) secret!: string;
}

@ObjectType()
export class WebhookDelivery {
  @Field(() => ID, { description: 'The webhook-id header: the same on every retry and replay' }) id!: string;
  @Field(() => ID) endpointId!: string;
  @Field(() => ID) callId!: string;
  @Field(() => ID) eventId!: string;
  @Field(() => String) eventType!: string;
  @Field(() => String) position!: string;
  @Field(() => WebhookDeliveryStatus) status!: WebhookDeliveryStatusT;
  @Field(() => Int) attempts!: number;
  @Field(() => DateTimeScalar) nextAttemptAt!: string;
  @Field(() => DateTimeScalar, { nullable: true }) lastAttemptAt!: string | null;
  @Field(() => Int, { nullable: true }) lastStatusCode!: number | null;
  @Field(() => String, { nullable: true }) lastError!: string | null;
  @Field(() => DateTimeScalar, { nullable: true }) deliveredAt!: string | null;
  @Field(() => DateTimeScalar) enqueuedAt!: string;
  @Field(() => String, { description: 'Cursor for the next page (after:)' }) cursor!: string;
  @Field(() => JSONScalar, { description: 'The signed body: { type, timestamp, data }' }) payload!: unknown;
}
