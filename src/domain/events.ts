import type { CallEvent } from './call/events';
import type { GatewayEvent, PortEvent } from './gateway/events';
import type { ApiKeyEvent } from './merchant/api-key';
import type { MerchantEvent } from './merchant/events';
import type { SlotEvent } from './capacity/slot';
import type { WebhookEvent } from './webhook/events';
import type { DidEvent } from './did/did';
import type { QueueEvent } from './queue/queue';
import type { CallbackEvent } from './callback/callback';
import type { TransferEvent } from './transfer/transfer';

/**
 * Every event webdial stores. Issue 25's streams (`queue-`, `callback-`, `transfer-`) are categories
 * of ./shared/streams.ts on the calls' topic.
 */
export type WebdialEvent =
  | CallEvent
  | MerchantEvent
  | ApiKeyEvent
  | GatewayEvent
  | PortEvent
  | SlotEvent
  | WebhookEvent
  | DidEvent
  | QueueEvent
  | CallbackEvent
  | TransferEvent;
export type WebdialEventType = WebdialEvent['type'];

/** Current schema version of each event type; older stored versions are upcast on read. */
export const CURRENT_SCHEMA_VERSION: Record<WebdialEventType, number> = {
  CallDownloaded: 1,
  InboundCallReceived: 1,
  CallbackCallPlaced: 2,
  CallInitiated: 2,
  CallRinging: 1,
  CallAnswered: 2,
  DtmfReceived: 1,
  DtmfCommandRecognized: 2,
  ChannelMessageSent: 1,
  CallerJoinedMedia: 1,
  CallerMediaSettingsApplied: 1,
  CallTerminated: 2,
  MerchantCreated: 1,
  CallCenterAdded: 2,
  CallCenterKindSet: 1,
  CallCenterIdentityDtmfSet: 1,
  CallCenterRedirected: 1,
  LinkCreated: 1,
  LinkQueuePolicySet: 1,
  CallbackPrefixesSet: 1,
  RatePlanSet: 1,
  DtmfCommandSet: 1,
  ApiKeyIssued: 2,
  ApiKeyRevoked: 1,
  GatewayCreated: 1,
  PortSeized: 1,
  PortReleased: 1,
  SlotTaken: 1,
  SlotFreed: 1,
  WebhookEndpointRegistered: 1,
  WebhookEndpointUpdated: 1,
  WebhookSecretRotated: 1,
  WebhookEndpointDisabled: 1,
  WebhookEndpointEnabled: 1,
  WebhookEndpointFailing: 1,
  DidAssigned: 1,
  DidReleased: 1,
  QueueCallJoined: 1,
  QueueCallDispatched: 1,
  QueueCallAbandoned: 1,
  QueueWaitTimedOut: 1,
  CallbackBooked: 1,
  CallbackAttemptStarted: 1,
  CallbackAttemptFailed: 1,
  CallbackCompleted: 1,
  CallbackFailed: 1,
  CallbackCancelled: 1,
  CallbackBrowserRung: 1,
  TransferStarted: 1,
  TransferCompleted: 1,
  TransferDialled: 1,
  TransferCancelled: 1,
};
